/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_CF_META_H
#define GST_NCFM_CF_META_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define NCFM_CF_META_API_TYPE (ncfm_cf_meta_api_get_type ())
#define NCFM_CF_META_INFO (ncfm_cf_meta_get_info ())

/**
 * NcfmCFMeta:
 * @meta: the parent #GstMeta
 * @t: the distinct frequencies of this buffer, F32 [M', d] (a reference; a
 *   new tensor per buffer, never written again): M' = M for a Gaussian
 *   sampler, M/16 for psi, whose M frequencies repeat its M/16 outputs 16
 *   times (ncfm_sampler_sample_distinct(): the same objective and gradients)
 * @noise: (nullable): learned sampler: the noise eps F32 [M/16, d] that psi
 *   turned into @t (a reference), so that a consumer can redo the draw with
 *   ncfm_sampler_sample_distinct(); %NULL for a Gaussian sampler
 * @stats: the per-class CF statistics of this buffer's real features at @t
 *   (sums of cos and sin [K, M'], of the features [K, d], and counts; a
 *   reference, never changed after attaching)
 * @features: the real features, F32 [B, d] (a reference to the tensor of
 *   the buffer's memory 0), for dL/dt and the real-side gradient
 * @labels: the labels, I32 [B] (a reference to the tensor of memory 1)
 * @class_ids: (array length=n_class_ids): the class ids present in the
 *   batch, ascending
 * @n_class_ids: length of @class_ids
 * @num_classes: K, the number of classes of the statistics
 * @num_freqs: M', the rows of @t
 * @dim: d
 * @normalize: whether the features were L2-normalised per row before the CF
 * @sampler: the element's #NcfmSampler that drew @t (a reference, shared by
 *   every buffer of the stream and by the element)
 * @draw: the index of this draw in the stream, from 0
 * @freq_draw: the draw of @t (a reference): what the learned sampler needs
 *   to take dL/dt back (ncfm_sampler_backward())
 *
 * Attached by ncfmcf to every feature batch.  The API has no tags, so
 * transforms keep it; transform and copy share the references (everything
 * but @sampler is immutable).
 *
 * Thread-safety of @sampler: ncfmcf draws from it in its streaming thread
 * while a consumer downstream (behind a queue) may send gradients to it.
 * The sampler locks itself in every call (ncfm_sampler_lock() holds its
 * lock across several).  Only ONE
 * consumer may call ncfm_sampler_backward(), ncfm_sampler_ascent_step() or
 * ncfm_sampler_zero_grad(): psi has a single gradient accumulator and
 * optimiser state.  ncfm_sampler_backward() takes any draw still alive (@t
 * carries what it needs), also when ncfmcf has drawn again since.
 */
typedef struct {
  GstMeta meta;
  NcfmTensor *t;
  NcfmTensor *noise;
  NcfmCFStats *stats;
  NcfmTensor *features;
  NcfmTensor *labels;
  guint *class_ids;
  guint n_class_ids;
  guint num_classes;
  guint num_freqs;
  guint dim;
  gboolean normalize;
  NcfmSampler *sampler;
  guint64 draw;
  NcfmFreqDraw *freq_draw;
} NcfmCFMeta;

GType ncfm_cf_meta_api_get_type (void);
const GstMetaInfo *ncfm_cf_meta_get_info (void);

NcfmCFMeta *gst_buffer_add_ncfm_cf_meta (GstBuffer *buffer, NcfmFreqDraw *freq_draw,
    NcfmCFStats *stats, NcfmTensor *features, NcfmTensor *labels);

void ncfm_cf_meta_lock_sampler (NcfmCFMeta *meta);
void ncfm_cf_meta_unlock_sampler (NcfmCFMeta *meta);

#define gst_buffer_get_ncfm_cf_meta(b) \
  ((NcfmCFMeta *) gst_buffer_get_meta ((b), NCFM_CF_META_API_TYPE))

G_END_DECLS
#endif
