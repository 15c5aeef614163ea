/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmmeta
 * @title: NcfmBatchMeta
 * @short_description: what a batch of images is: classes, normalisation, origin
 *
 * See #NcfmBatchMeta.  API type "NcfmBatchMetaAPI" (no tags: it describes
 * the batch, not its memory or layout, so every transform keeps it), meta
 * info "NcfmBatchMeta".
 */
#include "gstncfmmeta.h"

#include <string.h>

static gboolean
ncfm_batch_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  NcfmBatchMeta *self = (NcfmBatchMeta *) meta;
  (void) params;
  (void) buffer;
  self->dataset_name = NULL;
  self->class_names = NULL;
  self->num_classes = 0;
  self->channels = 0;
  memset (self->mean, 0, sizeof self->mean);
  memset (self->std, 0, sizeof self->std);
  self->class_id = -1;
  self->position = 0;
  self->shard_index = 0;
  self->shard_count = 1;
  self->class_shard = FALSE;
  self->epoch = 0;
  self->loader = NULL;
  return TRUE;
}

static void
ncfm_batch_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  NcfmBatchMeta *self = (NcfmBatchMeta *) meta;
  (void) buffer;
  g_free (self->dataset_name);
  g_strfreev (self->class_names);
  g_clear_object (&self->loader);
}

static gboolean
ncfm_batch_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  const NcfmBatchMeta *src = (const NcfmBatchMeta *) meta;
  (void) buffer;
  (void) type;
  (void) data;
  /* every transform keeps it: scaling or cropping images changes neither
   * their classes nor their normalisation */
  NcfmBatchMeta *copy = gst_buffer_add_ncfm_batch_meta (dest,
      (const gchar *const *) src->class_names, src->channels, src->mean, src->std);
  if (!copy)
    return FALSE;
  copy->dataset_name = g_strdup (src->dataset_name);
  copy->class_id = src->class_id;
  copy->position = src->position;
  copy->epoch = src->epoch;
  copy->shard_index = src->shard_index;
  copy->shard_count = src->shard_count;
  copy->class_shard = src->class_shard;
  copy->loader = src->loader ? g_object_ref (src->loader) : NULL;
  return TRUE;
}

/**
 * ncfm_batch_meta_api_get_type:
 *
 * Returns: the API type of #NcfmBatchMeta
 */
GType
ncfm_batch_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("NcfmBatchMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * ncfm_batch_meta_get_info:
 *
 * Returns: (transfer none): the registered #GstMetaInfo of #NcfmBatchMeta
 */
const GstMetaInfo *
ncfm_batch_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_register (NCFM_BATCH_META_API_TYPE, "NcfmBatchMeta",
        sizeof (NcfmBatchMeta), ncfm_batch_meta_init, ncfm_batch_meta_free,
        ncfm_batch_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

/**
 * gst_buffer_add_ncfm_batch_meta:
 * @buffer: a writable buffer
 * @class_names: (array zero-terminated=1): the name of every class id
 * @channels: image channels, 1 .. NCFM_MAX_CHANNELS
 * @mean: (array length=channels): per-channel mean
 * @std: (array length=channels): per-channel standard deviation
 *
 * Adds a meta for a mixed batch (@class_id -1) of no loader; set the other
 * fields on the returned meta before pushing the buffer.
 *
 * Returns: (transfer none): the meta
 */
NcfmBatchMeta *
gst_buffer_add_ncfm_batch_meta (GstBuffer *buffer, const gchar *const *class_names,
    guint channels, const gfloat *mean, const gfloat *std)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (channels <= NCFM_MAX_CHANNELS, NULL);
  g_return_val_if_fail (channels == 0 || (mean && std), NULL);
  NcfmBatchMeta *self = (NcfmBatchMeta *) gst_buffer_add_meta (buffer, NCFM_BATCH_META_INFO, NULL);
  if (!self)
    return NULL;
  self->class_names = g_strdupv ((gchar **) class_names);
  if (!self->class_names)
    self->class_names = g_new0 (gchar *, 1);
  self->num_classes = g_strv_length (self->class_names);
  self->channels = channels;
  for (guint c = 0; c < channels; c++) {
    self->mean[c] = mean[c];
    self->std[c] = std[c];
  }
  return self;
}

/**
 * gst_buffer_add_ncfm_batch_meta_from_loader:
 * @buffer: a writable buffer
 * @loader: the loader that made the batch; its dataset gives the names and
 *   the normalisation
 * @class_id: the class of a per-class batch, -1 for a mixed one
 * @position: the number of this batch in the stream
 *
 * Returns: (transfer none): the meta, holding a reference to @loader
 */
NcfmBatchMeta *
gst_buffer_add_ncfm_batch_meta_from_loader (GstBuffer *buffer, NcfmLoader *loader,
    gint class_id, guint64 position)
{
  g_return_val_if_fail (NCFM_IS_LOADER (loader), NULL);
  NcfmDataset *ds = ncfm_loader_get_dataset (loader);
  const guint k = ncfm_dataset_get_num_classes (ds);
  const guint channels = MIN (ncfm_dataset_get_channels (ds), NCFM_MAX_CHANNELS);
  g_autofree const gchar **names = g_new0 (const gchar *, k + 1);
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  for (guint i = 0; i < k; i++) {
    const gchar *name = ncfm_dataset_get_class_name (ds, i);
    names[i] = name ? name : "";  /* keeps the array as long as the classes */
  }
  for (guint c = 0; c < channels; c++) {
    mean[c] = ncfm_dataset_get_mean (ds, c);
    std[c] = ncfm_dataset_get_std (ds, c);
  }
  NcfmBatchMeta *self = gst_buffer_add_ncfm_batch_meta (buffer, names, channels, mean, std);
  if (!self)
    return NULL;
  self->dataset_name = g_strdup (ncfm_dataset_get_name (ds));
  self->class_id = class_id;
  self->position = position;
  self->epoch = position / MAX (ncfm_loader_get_batches_per_epoch (loader), 1);
  self->loader = g_object_ref (loader);
  return self;
}
