/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-ncfd
 * @title: NcfmNcfd
 * @short_description: the matching loss: NCFD (NCFM) or mean-feature MMD (DM), with gradients
 *
 * Per class c, with phi_R the CF of the real features (from #NcfmCFStats)
 * and phi_S the CF of the synthetic features at the same frequencies t:
 *
 *   amp_m = (|phi_R(t_m)| - |phi_S(t_m)|)^2
 *   pha_m = max(2 (|phi_R||phi_S| - Re phi_R Re phi_S - Im phi_R Im phi_S), 1e-12)
 *   loss_c = scale * mean_m sqrt(alpha amp_m + beta pha_m)      (scale = 300)
 *
 * ncfm_ncfd_synthetic() computes every class present on both sides, the
 * gradient wrt the synthetic features and optionally the synthetic side's
 * part of dL/dt; ncfm_ncfd_real_backward() then adds the real side's part of
 * dL/dt and the gradient wrt the real features.  With %NCFM_METRIC_MMD the
 * same calls compute sum_c ||mean(real_c) - mean(syn_c)||^2 instead (no t).
 * ncfm_ncfd_synthetic_draw() takes the frequency draw instead of t: for a
 * structured draw the phases and, unless dL/dt is wanted, dL/dx (both
 * sides) go by fast Hadamard transforms instead of GEMMs.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-ncfd.h"

#include <math.h>
#include <string.h>

struct _NcfmNcfd {
  GObject parent;
  NcfmDevice *device;
  NcfmMetric metric;
  gfloat alpha, beta, scale;
  NcfmActivations *work;

  /* the last synthetic() call, kept for real_backward() */
  NcfmCFStats *real;
  NcfmTensor *t;
  NcfmFreqDraw *draw;         /* t's draw, when given: its fast path */
  gboolean want_grad_t;
  gint64 *valid;              /* [k]: 1 where the class is present on both sides */
  gdouble *host_loss;         /* [k] */
  guint k;
  NcfmTensor *class_loss, *grad_syn, *grad_real, *grad_t;
  NcfmTensor *g_re_r, *g_im_r;   /* NCFD: dL/dphi_R [k, m] */
  NcfmTensor *g_mean_r;          /* MMD: dL/dmean_R / count_R [k, d] */
};

G_DEFINE_FINAL_TYPE (NcfmNcfd, ncfm_ncfd, G_TYPE_OBJECT)

enum {
  W_NORMED_S, W_NORMS_S, W_PHASE_S, W_NORMED_R, W_NORMS_R, W_PHASE_R, W_RE_S, W_IM_S, W_RE_R,
  W_IM_R, W_G_RE_S, W_G_IM_S, W_ONEHOT_S, W_ONEHOT_R, W_DX_S, W_DX_R, W_DT_R, W_MEANS, W_G_MEAN_S
};

static const gchar *metric_names[] = { "ncfd", "mmd" };

/**
 * ncfm_metric_to_string:
 * @metric: a #NcfmMetric
 *
 * Returns: (transfer none): "ncfd" or "mmd"
 */
const gchar *
ncfm_metric_to_string (NcfmMetric metric)
{
  return (guint) metric < G_N_ELEMENTS (metric_names) ? metric_names[metric] : "invalid";
}

/**
 * ncfm_metric_from_string:
 * @name: "ncfd" or "mmd"
 * @metric: (out): the parsed value
 *
 * Returns: %TRUE if @name is known
 */
gboolean
ncfm_metric_from_string (const gchar *name, NcfmMetric *metric)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (metric_names); i++)
    if (g_str_equal (name, metric_names[i])) {
      *metric = (NcfmMetric) i;
      return TRUE;
    }
  return FALSE;
}

static void
clear_results (NcfmNcfd *self)
{
  g_clear_object (&self->real);
  g_clear_object (&self->t);
  g_clear_object (&self->draw);
  g_clear_object (&self->class_loss);
  g_clear_object (&self->grad_syn);
  g_clear_object (&self->grad_real);
  g_clear_object (&self->grad_t);
  g_clear_object (&self->g_re_r);
  g_clear_object (&self->g_im_r);
  g_clear_object (&self->g_mean_r);
  g_clear_pointer (&self->valid, g_free);
  g_clear_pointer (&self->host_loss, g_free);
  self->k = 0;
}

static void
ncfm_ncfd_finalize (GObject *object)
{
  NcfmNcfd *self = NCFM_NCFD (object);
  clear_results (self);
  g_clear_object (&self->work);
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_ncfd_parent_class)->finalize (object);
}

static void
ncfm_ncfd_class_init (NcfmNcfdClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_ncfd_finalize;
}

static void
ncfm_ncfd_init (NcfmNcfd *self)
{
  self->scale = 300.0f;
  self->work = ncfm_activations_new ();
}

/**
 * ncfm_ncfd_new:
 * @device: where the loss runs
 * @metric: NCFD, or MMD for the DM baseline
 * @alpha: weight of the amplitude term (0.5 in the reference)
 * @beta: weight of the phase term (0.5 in the reference)
 * @error: return location for a #GError
 *
 * The paper writes the two weights as alpha and 1 - alpha: each lies in
 * [0, 1], and they cannot both be 0 (the loss would be 0 whatever the images).
 *
 * Returns: (transfer full) (nullable): a loss with scale 300, or %NULL with
 *   @error set for an unknown metric or weights outside [0, 1]
 */
NcfmNcfd *
ncfm_ncfd_new (NcfmDevice *device, NcfmMetric metric, gfloat alpha, gfloat beta, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (metric != NCFM_METRIC_NCFD && metric != NCFM_METRIC_MMD) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "ncfd: unknown metric %d", (int) metric);
    return NULL;
  }
  if (!(alpha >= 0.0f && alpha <= 1.0f) || !(beta >= 0.0f && beta <= 1.0f)
      || alpha + beta <= 0.0f) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "ncfd: alpha %g and beta %g must each lie in [0, 1], not both 0", alpha, beta);
    return NULL;
  }
  NcfmNcfd *self = g_object_new (NCFM_TYPE_NCFD, NULL);
  self->device = g_object_ref (device);
  self->metric = metric;
  self->alpha = alpha;
  self->beta = beta;
  return self;
}

/**
 * ncfm_ncfd_set_scale:
 * @self: a #NcfmNcfd
 * @scale: the factor in front of the NCFD mean (300 in the reference)
 */
void
ncfm_ncfd_set_scale (NcfmNcfd *self, gfloat scale)
{
  g_return_if_fail (NCFM_IS_NCFD (self));
  self->scale = scale;
}

/**
 * ncfm_ncfd_get_scale:
 * @self: a #NcfmNcfd
 *
 * Returns: the NCFD scale
 */
gfloat
ncfm_ncfd_get_scale (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), 0.0f);
  return self->scale;
}

/**
 * ncfm_ncfd_get_metric:
 * @self: a #NcfmNcfd
 *
 * Returns: the metric
 */
NcfmMetric
ncfm_ncfd_get_metric (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), NCFM_METRIC_NCFD);
  return self->metric;
}

static NcfmTensor *
work (NcfmNcfd *self, guint slot, gint64 d0, gint64 d1, GError **error)
{
  gint64 shape[2] = { d0, d1 };
  return ncfm_activations_ensure (self->work, slot, self->device, NCFM_DTYPE_F32, shape,
      d1 ? 2 : 1, error);
}

static NcfmTensor *
new_tensor (NcfmNcfd *self, gint64 d0, gint64 d1, GError **error)
{
  gint64 shape[2] = { d0, d1 };
  return ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, d1 ? 2 : 1, error);
}

static float *
f32 (NcfmTensor *t)
{
  return t ? ncfm_tensor_f32 (t) : NULL;
}

/* Class means [k, d] = (one-hot^T X) scaled by 1/count. */
static void
class_means (NcfmBackend *be, gint64 n, guint d, guint k, NcfmTensor *x, NcfmTensor *oh,
    NcfmTensor *inv, NcfmTensor *out)
{
  be->ops->linear_backward (be, (int) n, (int) d, (int) k, f32 (x), NULL, f32 (oh), NULL,
      f32 (out), NULL);
  be->ops->scale_rows (be, (int) k, (int) d, f32 (inv), f32 (out));
}

/* dX = w t and, if dt is non-NULL, dt = w^T X: by the draw's transposed
 * fast transform when it is structured and no dt is wanted, else by the GEMMs
 * of linear_backward (Gaussian and learned draws: bit for bit as without a
 * draw). */
static gboolean
phases_backward (NcfmBackend *be, NcfmFreqDraw *draw, NcfmTensor *x, NcfmTensor *t,
    NcfmTensor *w, NcfmTensor *dx, NcfmTensor *dt, GError **error)
{
  if (draw && !dt && ncfm_freq_draw_get_structure (draw, NULL, NULL))
    return ncfm_freq_draw_phases_backward (draw, w, dx, error);
  be->ops->linear_backward (be, (int) ncfm_tensor_get_dim (x, 0), (int) ncfm_tensor_get_dim (t, 1),
      (int) ncfm_tensor_get_dim (t, 0), f32 (x), f32 (t), f32 (w), f32 (dx), f32 (dt), NULL);
  return TRUE;
}

static gboolean
synthetic_ncfd (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *xs, NcfmTensor *labels,
    NcfmTensor *t, NcfmFreqDraw *draw, NcfmTensor *inv_s, NcfmTensor *mask, NcfmTensor *dxs,
    GError **error)
{
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  guint k = ncfm_cf_stats_get_num_classes (real), m = ncfm_cf_stats_get_num_freqs (real);
  gint64 n = ncfm_tensor_get_dim (xs, 0);
  g_autofree gint64 *counts_r = g_new (gint64, k);
  for (guint c = 0; c < k; c++)
    counts_r[c] = ncfm_cf_stats_get_count (real, c);
  g_autoptr (NcfmTensor) inv_r = ncfm_cf_reciprocal_counts (self->device, counts_r, k, error);
  NcfmTensor *phase = inv_r ? ncfm_cf_phases (self->work, W_PHASE_S, xs, t, draw, error) : NULL;
  NcfmTensor *re_s = phase ? work (self, W_RE_S, k, m, error) : NULL;
  NcfmTensor *im_s = re_s ? work (self, W_IM_S, k, m, error) : NULL;
  NcfmTensor *re_r = im_s ? work (self, W_RE_R, k, m, error) : NULL;
  NcfmTensor *im_r = re_r ? work (self, W_IM_R, k, m, error) : NULL;
  NcfmTensor *g_re_s = im_r ? work (self, W_G_RE_S, k, m, error) : NULL;
  NcfmTensor *g_im_s = g_re_s ? work (self, W_G_IM_S, k, m, error) : NULL;
  self->g_re_r = g_im_s ? new_tensor (self, k, m, error) : NULL;
  self->g_im_r = self->g_re_r ? new_tensor (self, k, m, error) : NULL;
  if (!self->g_im_r)
    return FALSE;
  size_t km = (size_t) k * m;

  /* synthetic CF: sums of this batch / counts; real CF: the stats' sums / counts */
  be->ops->fill (be, km, 0.0f, f32 (re_s));
  be->ops->fill (be, km, 0.0f, f32 (im_s));
  be->ops->cf_accumulate (be, (int) n, (int) m, (int) k, f32 (phase),
      ncfm_tensor_get_data (labels), f32 (re_s), f32 (im_s));
  be->ops->scale_rows (be, (int) k, (int) m, f32 (inv_s), f32 (re_s));
  be->ops->scale_rows (be, (int) k, (int) m, f32 (inv_s), f32 (im_s));
  be->ops->copy (be, f32 (re_r), f32 (ncfm_cf_stats_get_sum_cos (real)), km * sizeof (float));
  be->ops->copy (be, f32 (im_r), f32 (ncfm_cf_stats_get_sum_sin (real)), km * sizeof (float));
  be->ops->scale_rows (be, (int) k, (int) m, f32 (inv_r), f32 (re_r));
  be->ops->scale_rows (be, (int) k, (int) m, f32 (inv_r), f32 (im_r));

  be->ops->ncfd_forward_backward (be, (int) k, (int) m, self->alpha, self->beta, self->scale,
      f32 (re_r), f32 (im_r), f32 (re_s), f32 (im_s), f32 (self->class_loss), f32 (g_re_s),
      f32 (g_im_s), f32 (self->g_re_r), f32 (self->g_im_r));
  /* classes missing on either side contribute nothing */
  NcfmTensor *masked[] = { g_re_s, g_im_s, self->g_re_r, self->g_im_r };
  for (guint i = 0; i < G_N_ELEMENTS (masked); i++)
    be->ops->scale_rows (be, (int) k, (int) m, f32 (mask), f32 (masked[i]));
  be->ops->scale_rows (be, (int) k, 1, f32 (mask), f32 (self->class_loss));

  /* chain rule: phases -> weights in place, then dX = W t and dt = W^T X */
  be->ops->cf_backward_weights (be, (int) n, (int) m, (int) k, ncfm_tensor_get_data (labels),
      f32 (g_re_s), f32 (g_im_s), f32 (inv_s), f32 (phase));
  return phases_backward (be, draw, xs, t, phase, dxs, self->grad_t, error);
}

static gboolean
synthetic_mmd (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *xs, const gint32 *host_labels,
    NcfmTensor *inv_s, NcfmTensor *mask, NcfmTensor *dxs, GError **error)
{
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  guint k = ncfm_cf_stats_get_num_classes (real), d = ncfm_cf_stats_get_dim (real);
  gint64 n = ncfm_tensor_get_dim (xs, 0);
  g_autofree gint64 *counts_r = g_new (gint64, k);
  for (guint c = 0; c < k; c++)
    counts_r[c] = ncfm_cf_stats_get_count (real, c);
  g_autoptr (NcfmTensor) inv_r = ncfm_cf_reciprocal_counts (self->device, counts_r, k, error);
  NcfmTensor *oh = inv_r ? ncfm_cf_onehot (self->work, W_ONEHOT_S, self->device, host_labels, n,
      k, error) : NULL;
  NcfmTensor *means = oh ? work (self, W_MEANS, k, d, error) : NULL;
  NcfmTensor *g_mean_s = means ? work (self, W_G_MEAN_S, k, d, error) : NULL;
  self->g_mean_r = g_mean_s ? new_tensor (self, k, d, error) : NULL;
  if (!self->g_mean_r)
    return FALSE;
  size_t kd = (size_t) k * d;
  /* diff = mean_R - mean_S, masked to the classes on both sides */
  class_means (be, n, d, k, xs, oh, inv_s, means);
  be->ops->copy (be, f32 (self->g_mean_r), f32 (ncfm_cf_stats_get_sum_features (real)),
      kd * sizeof (float));
  be->ops->scale_rows (be, (int) k, (int) d, f32 (inv_r), f32 (self->g_mean_r));
  be->ops->axpby (be, kd, -1.0f, f32 (means), 1.0f, f32 (self->g_mean_r));
  be->ops->scale_rows (be, (int) k, (int) d, f32 (mask), f32 (self->g_mean_r));
  /* loss_c = ||diff_c||^2, on the host: [k, d] is small */
  g_autofree gfloat *diff = g_new (gfloat, kd);
  ncfm_tensor_download (self->g_mean_r, diff, kd * sizeof (gfloat));
  g_autofree gfloat *loss = g_new0 (gfloat, k);
  for (guint c = 0; c < k; c++) {
    double s = 0;
    for (guint j = 0; j < d; j++)
      s += (double) diff[(size_t) c * d + j] * diff[(size_t) c * d + j];
    loss[c] = (gfloat) s;
  }
  ncfm_tensor_set_data (self->class_loss, (const guint8 *) loss, k * sizeof (gfloat), NULL);
  /* d/dx_s[i] = -2 diff_c / n_s[c]; d/dx_r[i] = 2 diff_c / n_r[c] (kept for real_backward) */
  be->ops->copy (be, f32 (g_mean_s), f32 (self->g_mean_r), kd * sizeof (float));
  be->ops->scale_rows (be, (int) k, (int) d, f32 (inv_s), f32 (g_mean_s));
  be->ops->axpby (be, kd, 0.0f, f32 (g_mean_s), -2.0f, f32 (g_mean_s));
  be->ops->scale_rows (be, (int) k, (int) d, f32 (inv_r), f32 (self->g_mean_r));
  be->ops->axpby (be, kd, 0.0f, f32 (self->g_mean_r), 2.0f, f32 (self->g_mean_r));
  be->ops->linear_backward (be, (int) n, (int) d, (int) k, NULL, f32 (g_mean_s), f32 (oh),
      f32 (dxs), NULL, NULL);
  return TRUE;
}

static gboolean
synthetic (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *syn_features, NcfmTensor *syn_labels,
    NcfmTensor *t, NcfmFreqDraw *draw, gboolean grad_t, GError **error)
{
  guint k = ncfm_cf_stats_get_num_classes (real), m = ncfm_cf_stats_get_num_freqs (real);
  guint d = ncfm_cf_stats_get_dim (real);
  gboolean normalize = ncfm_cf_stats_get_normalize (real);
  g_autofree gint64 *counts_s = g_new (gint64, k);
  g_autofree gint32 *host_labels = NULL;
  if (!ncfm_cf_check_batch (self->device, k, m, d, syn_features, syn_labels, t, "synthetic",
          counts_s, &host_labels, error))
    return FALSE;
  clear_results (self);
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  gint64 n = ncfm_tensor_get_dim (syn_features, 0);

  self->k = k;
  self->valid = g_new0 (gint64, k);
  g_autofree gfloat *mask_h = g_new (gfloat, k);
  for (guint c = 0; c < k; c++) {
    self->valid[c] = counts_s[c] > 0 && ncfm_cf_stats_get_count (real, c) > 0;
    mask_h[c] = self->valid[c] ? 1.0f : 0.0f;
  }
  gint64 kshape[1] = { k };
  g_autoptr (NcfmTensor) mask = ncfm_tensor_new_from_data (self->device, NCFM_DTYPE_F32, kshape, 1,
      (const guint8 *) mask_h, k * sizeof (gfloat), error);
  g_autoptr (NcfmTensor) inv_s = mask ? ncfm_cf_reciprocal_counts (self->device, counts_s, k, error)
      : NULL;
  self->class_loss = inv_s ? new_tensor (self, k, 0, error) : NULL;
  self->grad_syn = self->class_loss ? new_tensor (self, n, d, error) : NULL;
  if (self->grad_syn && grad_t && self->metric == NCFM_METRIC_NCFD)
    self->grad_t = new_tensor (self, m, d, error);
  NcfmTensor *xs = self->grad_syn && (!grad_t || self->grad_t || self->metric != NCFM_METRIC_NCFD)
      ? ncfm_cf_prepare_features (self->work, W_NORMED_S, syn_features, normalize, error) : NULL;
  NcfmTensor *dxs = xs ? work (self, W_DX_S, n, d, error) : NULL;
  gboolean ok = dxs && (self->metric == NCFM_METRIC_NCFD
      ? synthetic_ncfd (self, real, xs, syn_labels, t, draw, inv_s, mask, dxs, error)
      : synthetic_mmd (self, real, xs, host_labels, inv_s, mask, dxs, error));
  if (!ok) {
    clear_results (self);
    return FALSE;
  }
  if (normalize)
    be->ops->l2norm_rows_backward (be, (int) n, (int) d, NCFM_CF_NORM_EPS, f32 (xs),
        f32 (ncfm_activations_peek (self->work, W_NORMS_S)), f32 (dxs), f32 (self->grad_syn));
  else
    be->ops->copy (be, f32 (self->grad_syn), f32 (dxs), (size_t) n * d * sizeof (float));

  self->host_loss = g_new (gdouble, k);
  g_autofree gfloat *lh = g_new (gfloat, k);
  ncfm_tensor_download (self->class_loss, lh, k * sizeof (gfloat));
  for (guint c = 0; c < k; c++)
    self->host_loss[c] = self->valid[c] ? lh[c] : 0.0;
  self->real = g_object_ref (real);
  self->t = g_object_ref (t);
  self->draw = draw ? g_object_ref (draw) : NULL;
  self->want_grad_t = grad_t && self->metric == NCFM_METRIC_NCFD;
  return TRUE;
}

/**
 * ncfm_ncfd_synthetic:
 * @self: a #NcfmNcfd
 * @real: the real side: per-class CF sums (and feature sums, for MMD)
 * @syn_features: F32 [N_s, d] synthetic features (normalised here if @real is)
 * @syn_labels: I32 [N_s] classes of the synthetic rows
 * @t: F32 [M, d], the frequencies @real was accumulated at (ignored by MMD)
 * @grad_t: also compute the synthetic side's part of dL/dt
 * @error: return location for a #GError
 *
 * Computes the loss of every class present among both the real and the
 * synthetic rows, and the gradient wrt the synthetic features.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_ncfd_synthetic (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *syn_features,
    NcfmTensor *syn_labels, NcfmTensor *t, gboolean grad_t, GError **error)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self) && NCFM_IS_CF_STATS (real), FALSE);
  return synthetic (self, real, syn_features, syn_labels, t, NULL, grad_t, error);
}

/**
 * ncfm_ncfd_synthetic_draw:
 * @self: a #NcfmNcfd
 * @real: the real side: per-class CF sums (and feature sums, for MMD)
 * @syn_features: F32 [N_s, d] synthetic features (normalised here if @real is)
 * @syn_labels: I32 [N_s] classes of the synthetic rows
 * @draw: the frequency draw @real was accumulated at (its t, F32 [M, d])
 * @grad_t: also compute the synthetic side's part of dL/dt
 * @error: return location for a #GError
 *
 * ncfm_ncfd_synthetic() at the draw's t.  For a structured draw the phases
 * X t^T and, when @grad_t is %FALSE, the gradient wrt the features
 * (dL/dphase t) go by fast Hadamard transforms (ncfm_freq_draw_phases() and
 * ncfm_freq_draw_phases_backward()), equal to the GEMMs up to float
 * rounding; ncfm_ncfd_real_backward() then does the same on the real side.
 * For any other draw, or with @grad_t, the GEMMs run as in
 * ncfm_ncfd_synthetic(), bit for bit.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_ncfd_synthetic_draw (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *syn_features,
    NcfmTensor *syn_labels, NcfmFreqDraw *draw, gboolean grad_t, GError **error)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self) && NCFM_IS_CF_STATS (real), FALSE);
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (draw), FALSE);
  return synthetic (self, real, syn_features, syn_labels, ncfm_freq_draw_get_t (draw), draw,
      grad_t, error);
}

/* phase [n, m] = X_r t^T into W_PHASE_R (which cf_backward_weights then
 * overwrites): a copy of the real stats' when they were last accumulated from
 * these very features and t (ncfmcf then ncfmdistill: a GEMM saved per
 * class step), else computed. */
static NcfmTensor *
real_phases (NcfmNcfd *self, NcfmTensor *real_features, NcfmTensor *xr, GError **error)
{
  NcfmTensor *kept = ncfm_cf_stats_peek_phases (self->real, real_features, self->t);
  if (!kept)
    return ncfm_cf_phases (self->work, W_PHASE_R, xr, self->t, self->draw, error);
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  NcfmTensor *phase = work (self, W_PHASE_R, ncfm_tensor_get_dim (kept, 0),
      ncfm_tensor_get_dim (kept, 1), error);
  if (phase)
    be->ops->copy (be, f32 (phase), f32 (kept), ncfm_tensor_get_n_bytes (kept));
  return phase;
}

/**
 * ncfm_ncfd_real_backward:
 * @self: a #NcfmNcfd after ncfm_ncfd_synthetic()
 * @real_features: F32 [N_r, d], rows that were accumulated into the real statistics
 * @real_labels: I32 [N_r]
 * @grad_features: compute dL/dreal features (ncfm_ncfd_get_grad_real_features())
 * @error: return location for a #GError
 *
 * The real side's gradients for the last ncfm_ncfd_synthetic(): dL/dreal
 * features if asked for, and, when that call asked
 * for dL/dt, the real side's part added into ncfm_ncfd_get_grad_t().  Call it
 * once per real batch that was accumulated.  When @real_features and the t of
 * that call are the very tensors last given to ncfm_cf_stats_accumulate() on
 * the real statistics, the phases computed there are reused.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_ncfd_real_backward (NcfmNcfd *self, NcfmTensor *real_features, NcfmTensor *real_labels,
    gboolean grad_features, GError **error)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), FALSE);
  if (!self->real) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "real_backward needs a successful ncfm_ncfd_synthetic() first");
    return FALSE;
  }
  guint k = self->k, m = ncfm_cf_stats_get_num_freqs (self->real);
  guint d = ncfm_cf_stats_get_dim (self->real);
  g_autofree gint64 *counts_b = g_new (gint64, k);
  g_autofree gint32 *host_labels = NULL;
  if (!ncfm_cf_check_batch (self->device, k, m, d, real_features, real_labels, self->t, "real",
          counts_b, &host_labels, error))
    return FALSE;
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  gint64 n = ncfm_tensor_get_dim (real_features, 0);
  gboolean normalize = ncfm_cf_stats_get_normalize (self->real);
  g_autofree gint64 *counts_r = g_new (gint64, k);
  for (guint c = 0; c < k; c++)
    counts_r[c] = ncfm_cf_stats_get_count (self->real, c);
  g_autoptr (NcfmTensor) inv_r = ncfm_cf_reciprocal_counts (self->device, counts_r, k, error);
  NcfmTensor *xr = inv_r ? ncfm_cf_prepare_features (self->work, W_NORMED_R, real_features,
      normalize, error) : NULL;
  if (!xr)
    return FALSE;
  if (!grad_features && (self->metric != NCFM_METRIC_NCFD || !self->want_grad_t))
    return TRUE;    /* nothing asked for */
  NcfmTensor *dxr = NULL;
  g_autoptr (NcfmTensor) grad = NULL;
  if (grad_features) {
    dxr = work (self, W_DX_R, n, d, error);
    grad = dxr ? new_tensor (self, n, d, error) : NULL;
    if (!grad)
      return FALSE;
  }

  if (self->metric == NCFM_METRIC_NCFD) {
    NcfmTensor *phase = real_phases (self, real_features, xr, error);
    NcfmTensor *dt = phase && self->want_grad_t ? work (self, W_DT_R, m, d, error) : NULL;
    if (!phase || (self->want_grad_t && !dt))
      return FALSE;
    be->ops->cf_backward_weights (be, (int) n, (int) m, (int) k, ncfm_tensor_get_data (real_labels),
        f32 (self->g_re_r), f32 (self->g_im_r), f32 (inv_r), f32 (phase));
    if (!phases_backward (be, self->draw, xr, self->t, phase, dxr, dt, error))
      return FALSE;
    if (dt)
      be->ops->axpby (be, (size_t) m * d, 1.0f, f32 (dt), 1.0f, f32 (self->grad_t));
  } else {
    NcfmTensor *oh = ncfm_cf_onehot (self->work, W_ONEHOT_R, self->device, host_labels, n, k,
        error);
    if (!oh)
      return FALSE;
    be->ops->linear_backward (be, (int) n, (int) d, (int) k, NULL, f32 (self->g_mean_r), f32 (oh),
        f32 (dxr), NULL, NULL);
  }
  if (!grad)
    return TRUE;
  if (normalize)
    be->ops->l2norm_rows_backward (be, (int) n, (int) d, NCFM_CF_NORM_EPS, f32 (xr),
        f32 (ncfm_activations_peek (self->work, W_NORMS_R)), f32 (dxr), f32 (grad));
  else
    be->ops->copy (be, f32 (grad), f32 (dxr), (size_t) n * d * sizeof (float));
  g_set_object (&self->grad_real, grad);
  return TRUE;
}

/**
 * ncfm_ncfd_compute:
 * @self: a #NcfmNcfd
 * @real_features: F32 [N_r, d]
 * @real_labels: I32 [N_r]
 * @syn_features: F32 [N_s, d]
 * @syn_labels: I32 [N_s]
 * @t: F32 [M, d] frequencies (for MMD any [M, d] tensor; it is not used)
 * @num_classes: K; labels are 0 .. K-1
 * @normalize: L2-normalise the feature rows first
 * @error: return location for a #GError
 *
 * The whole loss in one call: real CFs, loss, and every gradient (synthetic
 * and real features, and t for NCFD).
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_ncfd_compute (NcfmNcfd *self, NcfmTensor *real_features, NcfmTensor *real_labels,
    NcfmTensor *syn_features, NcfmTensor *syn_labels, NcfmTensor *t, guint num_classes,
    gboolean normalize, GError **error)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), FALSE);
  if (!NCFM_IS_TENSOR (t) || ncfm_tensor_get_n_dims (t) != 2) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "frequencies t must be a [M, d] tensor");
    return FALSE;
  }
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (self->device, num_classes,
      (guint) ncfm_tensor_get_dim (t, 0), (guint) ncfm_tensor_get_dim (t, 1), normalize, error);
  return stats && ncfm_cf_stats_accumulate (stats, real_features, real_labels, t, error)
      && ncfm_ncfd_synthetic (self, stats, syn_features, syn_labels, t, TRUE, error)
      && ncfm_ncfd_real_backward (self, real_features, real_labels, TRUE, error);
}

/**
 * ncfm_ncfd_get_loss:
 * @self: a #NcfmNcfd
 *
 * Returns: the sum of the class losses of the last ncfm_ncfd_synthetic()
 */
gdouble
ncfm_ncfd_get_loss (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), 0.0);
  gdouble s = 0.0;
  for (guint c = 0; c < self->k; c++)
    s += self->host_loss[c];
  return s;
}

/**
 * ncfm_ncfd_get_class_loss:
 * @self: a #NcfmNcfd
 * @class_id: a class
 *
 * Returns: the loss of @class_id (0 if it was absent on either side)
 */
gdouble
ncfm_ncfd_get_class_loss (NcfmNcfd *self, guint class_id)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), 0.0);
  return class_id < self->k ? self->host_loss[class_id] : 0.0;
}

/**
 * ncfm_ncfd_get_class_losses:
 * @self: a #NcfmNcfd
 *
 * Returns: (transfer none) (nullable): the class losses, F32 [K] on the device
 */
NcfmTensor *
ncfm_ncfd_get_class_losses (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), NULL);
  return self->class_loss;
}

/**
 * ncfm_ncfd_get_grad_syn_features:
 * @self: a #NcfmNcfd
 *
 * Returns: (transfer none) (nullable): dL/dsynthetic features, F32 [N_s, d]
 */
NcfmTensor *
ncfm_ncfd_get_grad_syn_features (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), NULL);
  return self->grad_syn;
}

/**
 * ncfm_ncfd_get_grad_real_features:
 * @self: a #NcfmNcfd
 *
 * Returns: (transfer none) (nullable): dL/dreal features of the last
 *   ncfm_ncfd_real_backward(), F32 [N_r, d]
 */
NcfmTensor *
ncfm_ncfd_get_grad_real_features (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), NULL);
  return self->grad_real;
}

/**
 * ncfm_ncfd_get_grad_t:
 * @self: a #NcfmNcfd
 *
 * Returns: (transfer none) (nullable): dL/dt, F32 [M, d]: the synthetic side's
 *   part, plus the real side's once ncfm_ncfd_real_backward() ran
 */
NcfmTensor *
ncfm_ncfd_get_grad_t (NcfmNcfd *self)
{
  g_return_val_if_fail (NCFM_IS_NCFD (self), NULL);
  return self->grad_t;
}
