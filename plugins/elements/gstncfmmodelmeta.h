/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_MODEL_META_H
#define GST_NCFM_MODEL_META_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define NCFM_MODEL_META_API_TYPE (ncfm_model_meta_api_get_type ())
#define NCFM_MODEL_META_INFO (ncfm_model_meta_get_info ())

/**
 * NcfmModelMeta:
 * @meta: the parent #GstMeta
 * @model: the exact model that computed the features of the buffer (a
 *   reference; an object implementing #NcfmModel).  Immutable: the extractor never
 *   changes a model once a buffer referencing it has been pushed, so a
 *   consumer can run it forward and backward on other images (the distiller
 *   on its synthetic set) and get the same function.
 * @trained: (nullable): the trained member of the model pool @model was
 *   blended from (a reference), for the calibration step; %NULL when the
 *   model does not come from a pool
 * @feature_dim: the length D of a feature vector
 * @in_channels: image channels C the model takes
 * @height: image height H the model takes
 * @width: image width W the model takes
 * @rotation: the rotation that made @model (from 0; one rotation per
 *   rotate-every buffers)
 * @pool_member: the pool member k @model comes from, -1 without a pool
 * @pool_lambda: the blend weight: @model = lambda * init_k + (1 - lambda) *
 *   trained_k; 0 with blending off (trained weights only), -1 without a pool
 *
 * Attached by the feature extractors (ncfmconvnet) to every feature batch.
 * The API has no tags, so transforms keep it; transform and copy keep the
 * references.
 */
typedef struct {
  GstMeta meta;
  GObject *model;
  GObject *trained;
  guint feature_dim;
  guint in_channels;
  guint height;
  guint width;
  guint64 rotation;
  gint pool_member;
  gdouble pool_lambda;
} NcfmModelMeta;

GType ncfm_model_meta_api_get_type (void);
const GstMetaInfo *ncfm_model_meta_get_info (void);

NcfmModelMeta *gst_buffer_add_ncfm_model_meta (GstBuffer *buffer, GObject *model,
    GObject *trained, guint feature_dim, guint in_channels, guint height, guint width);

#define gst_buffer_get_ncfm_model_meta(b) \
  ((NcfmModelMeta *) gst_buffer_get_meta ((b), NCFM_MODEL_META_API_TYPE))

G_END_DECLS
#endif
