/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmmodelmeta
 * @title: NcfmModelMeta
 * @short_description: the exact model that computed a buffer's features
 *
 * See #NcfmModelMeta.  API type "NcfmModelMetaAPI" (no tags: the features
 * stay the output of that model whatever happens to the buffer's memory
 * layout), meta info "NcfmModelMeta".  The model is held as a #GObject so a
 * second architecture needs no new meta.
 */
#include "gstncfmmodelmeta.h"

static gboolean
ncfm_model_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  NcfmModelMeta *self = (NcfmModelMeta *) meta;
  (void) params;
  (void) buffer;
  self->model = NULL;
  self->trained = NULL;
  self->feature_dim = 0;
  self->in_channels = 0;
  self->height = 0;
  self->width = 0;
  self->rotation = 0;
  self->pool_member = -1;
  self->pool_lambda = -1.0;
  return TRUE;
}

static void
ncfm_model_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  NcfmModelMeta *self = (NcfmModelMeta *) meta;
  (void) buffer;
  g_clear_object (&self->model);
  g_clear_object (&self->trained);
}

static gboolean
ncfm_model_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  const NcfmModelMeta *src = (const NcfmModelMeta *) meta;
  (void) buffer;
  (void) type;
  (void) data;
  /* the model is immutable: sharing the reference is a copy */
  NcfmModelMeta *copy = gst_buffer_add_ncfm_model_meta (dest, src->model, src->trained,
      src->feature_dim, src->in_channels, src->height, src->width);
  if (!copy)
    return FALSE;
  copy->rotation = src->rotation;
  copy->pool_member = src->pool_member;
  copy->pool_lambda = src->pool_lambda;
  return TRUE;
}

/**
 * ncfm_model_meta_api_get_type:
 *
 * Returns: the API type of #NcfmModelMeta
 */
GType
ncfm_model_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("NcfmModelMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * ncfm_model_meta_get_info:
 *
 * Returns: (transfer none): the registered #GstMetaInfo of #NcfmModelMeta
 */
const GstMetaInfo *
ncfm_model_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_register (NCFM_MODEL_META_API_TYPE, "NcfmModelMeta",
        sizeof (NcfmModelMeta), ncfm_model_meta_init, ncfm_model_meta_free,
        ncfm_model_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

/**
 * gst_buffer_add_ncfm_model_meta:
 * @buffer: a writable buffer
 * @model: the model that computed the features (a reference is taken)
 * @trained: (nullable): the trained pool member @model was blended from
 * @feature_dim: the length of a feature vector
 * @in_channels: image channels the model takes
 * @height: image height the model takes
 * @width: image width the model takes
 *
 * Adds a meta of no pool member (@pool_member -1, @pool_lambda -1) and
 * rotation 0; set those fields on the returned meta before pushing.
 *
 * Returns: (transfer none): the meta
 */
NcfmModelMeta *
gst_buffer_add_ncfm_model_meta (GstBuffer *buffer, GObject *model, GObject *trained,
    guint feature_dim, guint in_channels, guint height, guint width)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (G_IS_OBJECT (model), NULL);
  g_return_val_if_fail (trained == NULL || G_IS_OBJECT (trained), NULL);
  NcfmModelMeta *self = (NcfmModelMeta *) gst_buffer_add_meta (buffer, NCFM_MODEL_META_INFO, NULL);
  if (!self)
    return NULL;
  self->model = g_object_ref (model);
  self->trained = trained ? g_object_ref (trained) : NULL;
  self->feature_dim = feature_dim;
  self->in_channels = in_channels;
  self->height = height;
  self->width = width;
  return self;
}
