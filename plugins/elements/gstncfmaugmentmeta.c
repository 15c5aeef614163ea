/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmaugmentmeta
 * @title: NcfmAugmentMeta
 * @short_description: the augmentation a batch went through, replayable
 *
 * See #NcfmAugmentMeta.  API type "NcfmAugmentMetaAPI" (no tags: the
 * parameters describe what was done to the batch, not its memory or layout,
 * so every transform keeps them, the feature extractor's included), meta
 * info "NcfmAugmentMeta".
 */
#include "gstncfmaugmentmeta.h"

static gboolean
ncfm_augment_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  (void) params;
  (void) buffer;
  ((NcfmAugmentMeta *) meta)->params = NULL;
  return TRUE;
}

static void
ncfm_augment_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  (void) buffer;
  g_clear_object (&((NcfmAugmentMeta *) meta)->params);
}

static gboolean
ncfm_augment_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  const NcfmAugmentMeta *src = (const NcfmAugmentMeta *) meta;
  (void) buffer;
  (void) type;
  (void) data;
  /* the parameters are immutable: copies share them */
  return src->params && gst_buffer_add_ncfm_augment_meta (dest, src->params) != NULL;
}

/**
 * ncfm_augment_meta_api_get_type:
 *
 * Returns: the API type of #NcfmAugmentMeta
 */
GType
ncfm_augment_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("NcfmAugmentMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * ncfm_augment_meta_get_info:
 *
 * Returns: (transfer none): the registered #GstMetaInfo of #NcfmAugmentMeta
 */
const GstMetaInfo *
ncfm_augment_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_register (NCFM_AUGMENT_META_API_TYPE, "NcfmAugmentMeta",
        sizeof (NcfmAugmentMeta), ncfm_augment_meta_init, ncfm_augment_meta_free,
        ncfm_augment_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

/**
 * gst_buffer_add_ncfm_augment_meta:
 * @buffer: a writable buffer
 * @params: the parameters the buffer's images were augmented with
 *
 * Returns: (transfer none): the meta, holding a reference to @params
 */
NcfmAugmentMeta *
gst_buffer_add_ncfm_augment_meta (GstBuffer *buffer, NcfmAugmentParams *params)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (params), NULL);
  NcfmAugmentMeta *self = (NcfmAugmentMeta *) gst_buffer_add_meta (buffer,
      NCFM_AUGMENT_META_INFO, NULL);
  if (!self)
    return NULL;
  self->params = g_object_ref (params);
  return self;
}
