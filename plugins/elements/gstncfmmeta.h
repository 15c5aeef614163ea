/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_META_H
#define GST_NCFM_META_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define NCFM_BATCH_META_API_TYPE (ncfm_batch_meta_api_get_type ())
#define NCFM_BATCH_META_INFO (ncfm_batch_meta_get_info ())

/**
 * NcfmBatchMeta:
 * @meta: the parent #GstMeta
 * @dataset_name: (nullable): the dataset the batch comes from
 * @class_names: (array zero-terminated=1): the name of every class id
 * @num_classes: length of @class_names
 * @channels: image channels C
 * @mean: per-channel mean the images were normalised with ((x - mean) / std)
 * @std: per-channel standard deviation
 * @class_id: per-class batches: the one class of this batch; -1 for mixed
 * @position: the number of this batch in the stream (from 0, over all epochs)
 * @epoch: the epoch of this batch, from 0
 * @loader: (nullable): the #NcfmLoader that made the batch (a reference; its
 *   dataset and settings may be read, but only the source drives it)
 * @shard_index: this process's shard, below @shard_count
 * @shard_count: the processes the data is divided among (1: not sharded)
 * @class_shard: %TRUE: this process distils classes @shard_index,
 *   @shard_index + @shard_count, ... alone (class shards); %FALSE with
 *   @shard_count > 1: it reads slice @shard_index of every class and the
 *   processes combine their statistics (data parallel)
 *
 * Attached by the batch producers (ncfmdatasetsrc, ncfmtensorize) to every
 * image batch: how to read the labels and undo the normalisation.  It is
 * immutable once attached and copied along with the buffer (every transform).
 */
typedef struct {
  GstMeta meta;
  gchar *dataset_name;
  gchar **class_names;
  guint num_classes;
  guint channels;
  gfloat mean[NCFM_MAX_CHANNELS];
  gfloat std[NCFM_MAX_CHANNELS];
  gint class_id;
  guint64 position;
  guint64 epoch;
  NcfmLoader *loader;
  guint shard_index;
  guint shard_count;
  gboolean class_shard;
} NcfmBatchMeta;

GType ncfm_batch_meta_api_get_type (void);
const GstMetaInfo *ncfm_batch_meta_get_info (void);

NcfmBatchMeta *gst_buffer_add_ncfm_batch_meta (GstBuffer *buffer,
    const gchar *const *class_names, guint channels, const gfloat *mean, const gfloat *std);
NcfmBatchMeta *gst_buffer_add_ncfm_batch_meta_from_loader (GstBuffer *buffer,
    NcfmLoader *loader, gint class_id, guint64 position);

#define gst_buffer_get_ncfm_batch_meta(b) \
  ((NcfmBatchMeta *) gst_buffer_get_meta ((b), NCFM_BATCH_META_API_TYPE))

G_END_DECLS
#endif
