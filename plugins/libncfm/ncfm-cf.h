/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_CF_H
#define NCFM_CF_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-comm.h"
#include "ncfm-sampler.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_CF_STATS (ncfm_cf_stats_get_type ())
G_DECLARE_FINAL_TYPE (NcfmCFStats, ncfm_cf_stats, NCFM, CF_STATS, GObject)

NcfmCFStats *ncfm_cf_stats_new (NcfmDevice *device, guint num_classes, guint num_freqs,
    guint dim, gboolean normalize, GError **error);
void ncfm_cf_stats_reset (NcfmCFStats *self);
gboolean ncfm_cf_stats_accumulate (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *labels,
    NcfmTensor *t, GError **error);
gboolean ncfm_cf_stats_accumulate_draw (NcfmCFStats *self, NcfmTensor *features,
    NcfmTensor *labels, NcfmFreqDraw *draw, GError **error);
gboolean ncfm_cf_stats_merge (NcfmCFStats *self, NcfmCFStats *other, GError **error);
gboolean ncfm_cf_stats_allreduce (NcfmCFStats *self, NcfmComm *comm, GError **error);

guint ncfm_cf_stats_get_num_classes (NcfmCFStats *self);
guint ncfm_cf_stats_get_num_freqs (NcfmCFStats *self);
guint ncfm_cf_stats_get_dim (NcfmCFStats *self);
gboolean ncfm_cf_stats_get_normalize (NcfmCFStats *self);
gint64 ncfm_cf_stats_get_count (NcfmCFStats *self, guint class_id);
NcfmTensor *ncfm_cf_stats_get_sum_cos (NcfmCFStats *self);
NcfmTensor *ncfm_cf_stats_get_sum_sin (NcfmCFStats *self);
NcfmTensor *ncfm_cf_stats_get_sum_features (NcfmCFStats *self);
gboolean ncfm_cf_stats_compute_cf (NcfmCFStats *self, NcfmTensor **re, NcfmTensor **im,
    GError **error);

#ifndef __GI_SCANNER__
/* For the objective (C only): validates features [n, dim] F32, labels [n] I32
 * with values in [0, num_classes) and t [num_freqs, dim] on the stats' device;
 * fills counts[num_classes] with the per-class counts of this batch and, if
 * host_labels is non-NULL, hands over the host copy of the labels (g_free). */
gboolean ncfm_cf_check_batch (NcfmDevice *device, guint num_classes, guint num_freqs,
    guint dim, NcfmTensor *features, NcfmTensor *labels, NcfmTensor *t, const gchar *what,
    gint64 *counts, gint32 **host_labels, GError **error);
/* One-hot [n, k] F32 of validated host labels, in work slot `slot`. */
NcfmTensor *ncfm_cf_onehot (NcfmActivations *work, guint slot, NcfmDevice *device,
    const gint32 *host_labels, gint64 n, guint k, GError **error);
/* Per-class reciprocal counts (0 where a count is 0) as a device tensor [k]. */
NcfmTensor *ncfm_cf_reciprocal_counts (NcfmDevice *device, const gint64 *counts, guint k,
    GError **error);
/* The features the CF sees: `features` itself, or its rows L2-normalised into
 * work slot `slot` (norms into slot + 1). */
NcfmTensor *ncfm_cf_prepare_features (NcfmActivations *work, guint slot, NcfmTensor *features,
    gboolean normalize, GError **error);
/* phase [n, m] = X t^T into work slot `slot`: with `draw` (nullable; its t
 * is `t`) by ncfm_freq_draw_phases() (fast transforms for a structured draw,
 * the same GEMM otherwise), without it by the GEMM. */
NcfmTensor *ncfm_cf_phases (NcfmActivations *work, guint slot, NcfmTensor *x, NcfmTensor *t,
    NcfmFreqDraw *draw, GError **error);
/* The phases X t^T [n, m] of the last successful ncfm_cf_stats_accumulate()
 * (X normalised if the stats normalise), when `features` and
 * `t` are the very tensors it was given (pointer identity: the stats hold
 * references, so neither can be freed and its address recycled); else NULL.
 * Read only: copy it before writing over it.  For ncfm_ncfd_real_backward(). */
NcfmTensor *ncfm_cf_stats_peek_phases (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *t);
/* L2 normalisation eps (F.normalize's default). */
#define NCFM_CF_NORM_EPS 1e-12f
#endif

G_END_DECLS
#endif
