/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmcfmeta
 * @title: NcfmCFMeta
 * @short_description: the frequencies, real CF statistics and sampler of a feature batch
 *
 * See #NcfmCFMeta.  API type "NcfmCFMetaAPI" (no tags), meta info
 * "NcfmCFMeta".  The sampler locks itself (ncfm_sampler_lock()); the
 * frequency draw (#NcfmFreqDraw) carries what psi needs to take it back.
 */
#include "gstncfmcfmeta.h"


static gboolean
ncfm_cf_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  NcfmCFMeta *self = (NcfmCFMeta *) meta;
  (void) params;
  (void) buffer;
  self->t = NULL;
  self->noise = NULL;
  self->stats = NULL;
  self->features = NULL;
  self->labels = NULL;
  self->class_ids = NULL;
  self->n_class_ids = 0;
  self->num_classes = 0;
  self->num_freqs = 0;
  self->dim = 0;
  self->normalize = FALSE;
  self->sampler = NULL;
  self->draw = 0;
  self->freq_draw = NULL;
  return TRUE;
}

static void
ncfm_cf_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  NcfmCFMeta *self = (NcfmCFMeta *) meta;
  (void) buffer;
  g_clear_object (&self->t);
  g_clear_object (&self->noise);
  g_clear_object (&self->stats);
  g_clear_object (&self->features);
  g_clear_object (&self->labels);
  g_clear_object (&self->sampler);
  g_clear_object (&self->freq_draw);
  g_clear_pointer (&self->class_ids, g_free);
}

static gboolean
ncfm_cf_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  const NcfmCFMeta *src = (const NcfmCFMeta *) meta;
  (void) buffer;
  (void) type;
  (void) data;
  /* everything but the sampler is immutable, and the sampler is shared on purpose */
  NcfmCFMeta *copy = gst_buffer_add_ncfm_cf_meta (dest, src->freq_draw, src->stats,
      src->features, src->labels);
  if (!copy)
    return FALSE;
  copy->draw = src->draw;
  return TRUE;
}

/**
 * ncfm_cf_meta_api_get_type:
 *
 * Returns: the API type of #NcfmCFMeta
 */
GType
ncfm_cf_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("NcfmCFMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * ncfm_cf_meta_get_info:
 *
 * Returns: (transfer none): the registered #GstMetaInfo of #NcfmCFMeta
 */
const GstMetaInfo *
ncfm_cf_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_register (NCFM_CF_META_API_TYPE, "NcfmCFMeta",
        sizeof (NcfmCFMeta), ncfm_cf_meta_init, ncfm_cf_meta_free, ncfm_cf_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

/**
 * gst_buffer_add_ncfm_cf_meta:
 * @buffer: a writable buffer
 * @freq_draw: the frequency draw: t, its noise and its sampler (a reference
 *   is taken)
 * @stats: the real CF statistics at its t (a reference is taken)
 * @features: the real features F32 [B, d]
 * @labels: the labels I32 [B]
 *
 * Adds a meta whose draw is the draw's index; K, M, d, the normalisation and the class ids come
 * from @stats (a class is present when its count is positive).
 *
 * Returns: (transfer none): the meta
 */
NcfmCFMeta *
gst_buffer_add_ncfm_cf_meta (GstBuffer *buffer, NcfmFreqDraw *freq_draw, NcfmCFStats *stats,
    NcfmTensor *features, NcfmTensor *labels)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (freq_draw), NULL);
  g_return_val_if_fail (NCFM_IS_CF_STATS (stats), NULL);
  g_return_val_if_fail (NCFM_IS_TENSOR (features) && NCFM_IS_TENSOR (labels), NULL);
  NcfmCFMeta *self = (NcfmCFMeta *) gst_buffer_add_meta (buffer, NCFM_CF_META_INFO, NULL);
  if (!self)
    return NULL;
  NcfmTensor *noise = ncfm_freq_draw_get_noise (freq_draw);
  self->freq_draw = g_object_ref (freq_draw);
  self->sampler = ncfm_freq_draw_dup_sampler (freq_draw);
  self->t = g_object_ref (ncfm_freq_draw_get_t (freq_draw));
  self->noise = noise ? g_object_ref (noise) : NULL;
  self->draw = ncfm_freq_draw_get_index (freq_draw);
  self->stats = g_object_ref (stats);
  self->features = g_object_ref (features);
  self->labels = g_object_ref (labels);
  self->num_classes = ncfm_cf_stats_get_num_classes (stats);
  self->num_freqs = ncfm_cf_stats_get_num_freqs (stats);
  self->dim = ncfm_cf_stats_get_dim (stats);
  self->normalize = ncfm_cf_stats_get_normalize (stats);
  self->class_ids = g_new (guint, MAX (self->num_classes, 1));
  for (guint c = 0; c < self->num_classes; c++)
    if (ncfm_cf_stats_get_count (stats, c) > 0)
      self->class_ids[self->n_class_ids++] = c;
  return self;
}

/**
 * ncfm_cf_meta_lock_sampler:
 * @meta: a CF meta
 *
 * Holds @meta's sampler's own lock (ncfm_sampler_lock()) across several
 * calls; every single call on the sampler takes it anyway.
 */
void
ncfm_cf_meta_lock_sampler (NcfmCFMeta *meta)
{
  g_return_if_fail (meta != NULL);
  ncfm_sampler_lock (meta->sampler);
}

/**
 * ncfm_cf_meta_unlock_sampler:
 * @meta: a CF meta
 *
 * Undoes ncfm_cf_meta_lock_sampler().
 */
void
ncfm_cf_meta_unlock_sampler (NcfmCFMeta *meta)
{
  g_return_if_fail (meta != NULL);
  ncfm_sampler_unlock (meta->sampler);
}
