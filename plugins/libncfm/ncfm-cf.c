/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-cf
 * @title: NcfmCFStats
 * @short_description: per-class empirical characteristic functions, as sums
 *
 * The empirical CF of the features x_1..x_N of class c at frequencies
 * t_1..t_M is phi_c(t_m) = (1/N) sum_i exp(j <t_m, x_i>).  NcfmCFStats keeps
 * it in additive form, the sums of cos and sin [classes, M] plus a count per
 * class, so batches accumulate and shards from several devices merge by
 * addition.  Features are L2-normalised per row first when asked to (the
 * reference does).  One GEMM (X t^T) and a fused cos/sin per batch; every
 * class is accumulated in that one pass.  ncfm_cf_stats_accumulate_draw()
 * takes the frequency draw instead of t: a structured draw's phases then
 * come from fast Hadamard transforms (ncfm_freq_draw_phases()), any other
 * draw's from the same GEMM.
 *
 * The phases X t^T of the last accumulated batch are kept, with references
 * to its features and t, so that ncfm_ncfd_real_backward() for that batch
 * need not redo the GEMM (ncfm_cf_stats_peek_phases()).
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-cf.h"

#include <string.h>

struct _NcfmCFStats {
  GObject parent;
  NcfmDevice *device;
  guint k, m, d;
  gboolean normalize;
  NcfmTensor *sum_cos, *sum_sin, *sum_features;
  gint64 *counts;
  NcfmActivations *work;     /* normalised features, norms, phases */
  /* the last successful accumulate: its WORK_PHASE holds X t^T of these */
  NcfmTensor *phase_features, *phase_t;
};

G_DEFINE_FINAL_TYPE (NcfmCFStats, ncfm_cf_stats, G_TYPE_OBJECT)

enum { WORK_NORMED, WORK_NORMS, WORK_PHASE, WORK_ONEHOT };

static void
forget_phases (NcfmCFStats *self)
{
  g_clear_object (&self->phase_features);
  g_clear_object (&self->phase_t);
}

static void
ncfm_cf_stats_finalize (GObject *object)
{
  NcfmCFStats *self = NCFM_CF_STATS (object);
  forget_phases (self);
  g_clear_object (&self->sum_cos);
  g_clear_object (&self->sum_sin);
  g_clear_object (&self->sum_features);
  g_clear_object (&self->work);
  g_clear_object (&self->device);
  g_free (self->counts);
  G_OBJECT_CLASS (ncfm_cf_stats_parent_class)->finalize (object);
}

static void
ncfm_cf_stats_class_init (NcfmCFStatsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_cf_stats_finalize;
}

static void
ncfm_cf_stats_init (NcfmCFStats *self)
{
  (void) self;
}

/**
 * ncfm_cf_stats_new:
 * @device: where the sums live
 * @num_classes: number of classes K (labels are 0 .. K-1)
 * @num_freqs: number of frequencies M
 * @dim: feature dimension d
 * @normalize: L2-normalise every feature row before the CF (the reference does)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): empty statistics
 */
NcfmCFStats *
ncfm_cf_stats_new (NcfmDevice *device, guint num_classes, guint num_freqs, guint dim,
    gboolean normalize, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (num_classes < 1 || num_classes > 1000000 || num_freqs < 1 || num_freqs > (1u << 24)
      || dim < 1 || dim > (1u << 24)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid CF statistics: %u classes, %u frequencies, dimension %u", num_classes,
        num_freqs, dim);
    return NULL;
  }
  g_autoptr (NcfmCFStats) self = g_object_new (NCFM_TYPE_CF_STATS, NULL);
  self->device = g_object_ref (device);
  self->k = num_classes;
  self->m = num_freqs;
  self->d = dim;
  self->normalize = normalize;
  gint64 km[2] = { num_classes, num_freqs }, kd[2] = { num_classes, dim };
  self->sum_cos = ncfm_tensor_new (device, NCFM_DTYPE_F32, km, 2, error);
  self->sum_sin = self->sum_cos ? ncfm_tensor_new (device, NCFM_DTYPE_F32, km, 2, error) : NULL;
  self->sum_features = self->sum_sin ? ncfm_tensor_new (device, NCFM_DTYPE_F32, kd, 2, error) : NULL;
  if (!self->sum_features)
    return NULL;
  self->counts = g_new0 (gint64, num_classes);
  self->work = ncfm_activations_new ();
  return g_steal_pointer (&self);
}

/**
 * ncfm_cf_stats_reset:
 * @self: a #NcfmCFStats
 *
 * Zeroes every sum and count, and forgets the last batch (and its
 * references): the statistics start over, and the phases kept for
 * ncfm_ncfd_real_backward() are only for a batch accumulated since.
 */
void
ncfm_cf_stats_reset (NcfmCFStats *self)
{
  g_return_if_fail (NCFM_IS_CF_STATS (self));
  forget_phases (self);
  ncfm_tensor_fill (self->sum_cos, 0.0f, NULL);
  ncfm_tensor_fill (self->sum_sin, 0.0f, NULL);
  ncfm_tensor_fill (self->sum_features, 0.0f, NULL);
  memset (self->counts, 0, self->k * sizeof (gint64));
}

static gboolean
check_f32 (NcfmTensor *t, NcfmDevice *device, const gint64 *shape, guint nd, NcfmDType dtype,
    const gchar *what, GError **error)
{
  if (NCFM_IS_TENSOR (t) && ncfm_tensor_get_dtype (t) == dtype && ncfm_tensor_has_shape (t, shape, nd)
      && ncfm_tensor_get_device (t) == device)
    return TRUE;
  GString *want = g_string_new (ncfm_dtype_to_string (dtype));
  g_string_append (want, " [");
  for (guint i = 0; i < nd; i++)
    g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append (want, "]");
  g_autofree gchar *got = NCFM_IS_TENSOR (t) ? ncfm_tensor_describe (t) : g_strdup ("nothing");
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s must be %s on %s, got %s%s%s", what,
      want->str, ncfm_device_get_name (device), got, NCFM_IS_TENSOR (t) ? " on " : "",
      NCFM_IS_TENSOR (t) ? ncfm_device_get_name (ncfm_tensor_get_device (t)) : "");
  g_string_free (want, TRUE);
  return FALSE;
}

gboolean
ncfm_cf_check_batch (NcfmDevice *device, guint num_classes, guint num_freqs, guint dim,
    NcfmTensor *features, NcfmTensor *labels, NcfmTensor *t, const gchar *what, gint64 *counts,
    gint32 **host_labels, GError **error)
{
  gint64 n = NCFM_IS_TENSOR (features) ? ncfm_tensor_get_dim (features, 0) : -1;
  gint64 fshape[2] = { n, dim }, lshape[1] = { n }, tshape[2] = { num_freqs, dim };
  g_autofree gchar *fwhat = g_strdup_printf ("%s features", what);
  g_autofree gchar *lwhat = g_strdup_printf ("%s labels", what);
  if (!check_f32 (features, device, fshape, 2, NCFM_DTYPE_F32, fwhat, error)
      || !check_f32 (labels, device, lshape, 1, NCFM_DTYPE_I32, lwhat, error)
      || !check_f32 (t, device, tshape, 2, NCFM_DTYPE_F32, "frequencies t", error))
    return FALSE;
  if (n < 1 || n > G_MAXINT) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: a batch needs 1 .. %d rows, got %"
        G_GINT64_FORMAT, fwhat, G_MAXINT, n);
    return FALSE;
  }
  g_autofree gint32 *host = g_new (gint32, n);
  ncfm_tensor_download (labels, host, n * sizeof (gint32));
  memset (counts, 0, num_classes * sizeof (gint64));
  for (gint64 i = 0; i < n; i++) {
    if (host[i] < 0 || (guint) host[i] >= num_classes) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "%s: label %d at row %" G_GINT64_FORMAT " is outside 0 .. %u", lwhat, host[i], i,
          num_classes - 1);
      return FALSE;
    }
    counts[host[i]]++;
  }
  if (host_labels)
    *host_labels = g_steal_pointer (&host);
  return TRUE;
}

NcfmTensor *
ncfm_cf_onehot (NcfmActivations *work, guint slot, NcfmDevice *device, const gint32 *host_labels,
    gint64 n, guint k, GError **error)
{
  gint64 shape[2] = { n, k };
  NcfmTensor *oh = ncfm_activations_ensure (work, slot, device, NCFM_DTYPE_F32, shape, 2, error);
  if (!oh)
    return NULL;
  g_autofree gfloat *h = g_new0 (gfloat, n * k);
  for (gint64 i = 0; i < n; i++)
    h[i * k + host_labels[i]] = 1.0f;
  ncfm_tensor_set_data (oh, (const guint8 *) h, n * k * sizeof (gfloat), NULL);
  return oh;
}

NcfmTensor *
ncfm_cf_reciprocal_counts (NcfmDevice *device, const gint64 *counts, guint k, GError **error)
{
  g_autofree gfloat *inv = g_new (gfloat, k);
  for (guint c = 0; c < k; c++)
    inv[c] = counts[c] > 0 ? (gfloat) (1.0 / (double) counts[c]) : 0.0f;
  gint64 shape[1] = { k };
  return ncfm_tensor_new_from_data (device, NCFM_DTYPE_F32, shape, 1, (const guint8 *) inv,
      k * sizeof (gfloat), error);
}

NcfmTensor *
ncfm_cf_prepare_features (NcfmActivations *work, guint slot, NcfmTensor *features,
    gboolean normalize, GError **error)
{
  if (!normalize)
    return features;
  NcfmDevice *device = ncfm_tensor_get_device (features);
  NcfmBackend *be = ncfm_device_get_backend (device);
  gint64 n = ncfm_tensor_get_dim (features, 0), d = ncfm_tensor_get_dim (features, 1);
  gint64 shape[2] = { n, d }, nshape[1] = { n };
  NcfmTensor *normed = ncfm_activations_ensure (work, slot, device, NCFM_DTYPE_F32, shape, 2, error);
  NcfmTensor *norms = normed ? ncfm_activations_ensure (work, slot + 1, device, NCFM_DTYPE_F32,
      nshape, 1, error) : NULL;
  if (!norms)
    return NULL;
  be->ops->l2norm_rows_forward (be, (int) n, (int) d, NCFM_CF_NORM_EPS,
      ncfm_tensor_f32 (features), ncfm_tensor_f32 (normed), ncfm_tensor_f32 (norms));
  return normed;
}

NcfmTensor *
ncfm_cf_phases (NcfmActivations *work, guint slot, NcfmTensor *x, NcfmTensor *t,
    NcfmFreqDraw *draw, GError **error)
{
  NcfmDevice *device = ncfm_tensor_get_device (x);
  NcfmBackend *be = ncfm_device_get_backend (device);
  gint64 n = ncfm_tensor_get_dim (x, 0), d = ncfm_tensor_get_dim (x, 1);
  gint64 m = ncfm_tensor_get_dim (t, 0);
  gint64 shape[2] = { n, m };
  NcfmTensor *phase = ncfm_activations_ensure (work, slot, device, NCFM_DTYPE_F32, shape, 2, error);
  if (!phase)
    return NULL;
  if (draw)
    return ncfm_freq_draw_phases (draw, x, phase, error) ? phase : NULL;
  be->ops->linear_forward (be, (int) n, (int) d, (int) m, ncfm_tensor_f32 (x),
      ncfm_tensor_f32 (t), NULL, ncfm_tensor_f32 (phase));
  return phase;
}

static gboolean
accumulate (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *labels, NcfmTensor *t,
    NcfmFreqDraw *draw, GError **error)
{
  forget_phases (self);   /* WORK_PHASE is overwritten below; any failure leaves no batch */
  g_autofree gint64 *counts = g_new (gint64, self->k);
  g_autofree gint32 *host_labels = NULL;
  if (!ncfm_cf_check_batch (self->device, self->k, self->m, self->d, features, labels, t, "real",
          counts, &host_labels, error))
    return FALSE;
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  gint64 n = ncfm_tensor_get_dim (features, 0);
  NcfmTensor *x = ncfm_cf_prepare_features (self->work, WORK_NORMED, features, self->normalize,
      error);
  NcfmTensor *phase = x ? ncfm_cf_phases (self->work, WORK_PHASE, x, t, draw, error) : NULL;
  if (!phase)
    return FALSE;
  be->ops->cf_accumulate (be, (int) n, (int) self->m, (int) self->k, ncfm_tensor_f32 (phase),
      ncfm_tensor_get_data (labels), ncfm_tensor_f32 (self->sum_cos),
      ncfm_tensor_f32 (self->sum_sin));

  /* per-class feature sums (the MMD baseline's statistic): one-hot^T X, as
   * the weight gradient of a linear layer with dy = one-hot */
  NcfmTensor *onehot = ncfm_cf_onehot (self->work, WORK_ONEHOT, self->device, host_labels, n,
      self->k, error);
  if (!onehot)
    return FALSE;
  gint64 kd[2] = { self->k, self->d };
  g_autoptr (NcfmTensor) batch_sums = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, kd, 2, error);
  if (!batch_sums)
    return FALSE;
  be->ops->linear_backward (be, (int) n, (int) self->d, (int) self->k, ncfm_tensor_f32 (x), NULL,
      ncfm_tensor_f32 (onehot), NULL, ncfm_tensor_f32 (batch_sums), NULL);
  be->ops->axpby (be, (size_t) self->k * self->d, 1.0f, ncfm_tensor_f32 (batch_sums), 1.0f,
      ncfm_tensor_f32 (self->sum_features));
  for (guint c = 0; c < self->k; c++)
    self->counts[c] += counts[c];
  self->phase_features = g_object_ref (features);
  self->phase_t = g_object_ref (t);
  return TRUE;
}

/**
 * ncfm_cf_stats_accumulate:
 * @self: a #NcfmCFStats
 * @features: F32 [N, dim] on the stats' device
 * @labels: I32 [N], class of each row, in 0 .. num_classes - 1
 * @t: F32 [num_freqs, dim], the frequencies (the same for every batch summed)
 * @error: return location for a #GError
 *
 * Adds one labelled batch to the per-class sums.
 *
 * The statistics keep a reference to @features and @t, and the phases
 * X t^T of this batch, until the next accumulate (or reset, or their
 * finalization): ncfm_ncfd_real_backward() for the very same @features and
 * @t reuses the phases instead of recomputing them.  Do not modify @features
 * or @t in place meanwhile; the reuse goes by identity, not by content.
 *
 * Returns: %TRUE on success; on error nothing was added (and no batch is
 *   remembered)
 */
gboolean
ncfm_cf_stats_accumulate (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *labels,
    NcfmTensor *t, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), FALSE);
  return accumulate (self, features, labels, t, NULL, error);
}

/**
 * ncfm_cf_stats_accumulate_draw:
 * @self: a #NcfmCFStats
 * @features: F32 [N, dim] on the stats' device
 * @labels: I32 [N], class of each row, in 0 .. num_classes - 1
 * @draw: the frequency draw; its t (ncfm_freq_draw_get_t()) must be F32
 *   [num_freqs, dim] on the stats' device
 * @error: return location for a #GError
 *
 * ncfm_cf_stats_accumulate() at the draw's t, with the phases X t^T from
 * ncfm_freq_draw_phases(): by fast Hadamard transforms for a structured
 * draw (O(N M log d) instead of the GEMM's O(N M d); equal up to float
 * rounding), by the very same GEMM for any other draw (bit for bit).  The
 * phases kept for ncfm_ncfd_real_backward() go by the draw's t.
 *
 * Returns: %TRUE on success; on error nothing was added (and no batch is
 *   remembered)
 */
gboolean
ncfm_cf_stats_accumulate_draw (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *labels,
    NcfmFreqDraw *draw, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self) && NCFM_IS_FREQ_DRAW (draw), FALSE);
  return accumulate (self, features, labels, ncfm_freq_draw_get_t (draw), draw, error);
}

NcfmTensor *
ncfm_cf_stats_peek_phases (NcfmCFStats *self, NcfmTensor *features, NcfmTensor *t)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), NULL);
  if (!self->phase_features || features != self->phase_features || t != self->phase_t)
    return NULL;
  return ncfm_activations_peek (self->work, WORK_PHASE);
}

/**
 * ncfm_cf_stats_merge:
 * @self: a #NcfmCFStats
 * @other: statistics of the same shape, frequencies and normalisation
 * @error: return location for a #GError
 *
 * Adds @other's sums and counts into @self (e.g. shards of a batch computed
 * on several devices, after copying them to one).  @self still remembers
 * its own last batch (the phases depend on that batch's features and t
 * only, which a merge does not change); @other's is not taken over.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_cf_stats_merge (NcfmCFStats *self, NcfmCFStats *other, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self) && NCFM_IS_CF_STATS (other), FALSE);
  if (other->k != self->k || other->m != self->m || other->d != self->d
      || other->normalize != self->normalize || other->device != self->device) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "cannot merge CF statistics of %u classes x %u frequencies (dim %u, %s) on %s into %u x %u "
        "(dim %u, %s) on %s", other->k, other->m, other->d,
        other->normalize ? "normalised" : "raw", ncfm_device_get_name (other->device), self->k,
        self->m, self->d, self->normalize ? "normalised" : "raw",
        ncfm_device_get_name (self->device));
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  size_t km = (size_t) self->k * self->m;
  be->ops->axpby (be, km, 1.0f, ncfm_tensor_f32 (other->sum_cos), 1.0f, ncfm_tensor_f32 (self->sum_cos));
  be->ops->axpby (be, km, 1.0f, ncfm_tensor_f32 (other->sum_sin), 1.0f, ncfm_tensor_f32 (self->sum_sin));
  be->ops->axpby (be, (size_t) self->k * self->d, 1.0f, ncfm_tensor_f32 (other->sum_features),
      1.0f, ncfm_tensor_f32 (self->sum_features));
  for (guint c = 0; c < self->k; c++)
    self->counts[c] += other->counts[c];
  return TRUE;
}

/* Counts travel as floats in the one reduction: exact below 2^24. */
#define MAX_REDUCED_COUNT (1 << 24)

/**
 * ncfm_cf_stats_allreduce:
 * @self: a #NcfmCFStats
 * @comm: the ranks to sum over; every rank calls this with statistics of the
 *   same shape
 * @error: return location for a #GError (%NCFM_COMM_ERROR from the
 *   collective, %NCFM_ERROR_ARGUMENT for a count too large)
 *
 * Replaces the sums and counts by their sums over the ranks of @comm (data
 * parallel: each rank accumulated its own slice of the batch): one
 * allreduce of a host copy of everything (sums of cos and sin, of the
 * features, and the counts), K (2 M + d + 1) floats, so any device works
 * without a device-aware MPI.  The phases kept for
 * ncfm_ncfd_real_backward() stay this rank's own batch's.  On the
 * single-process communicator nothing changes.
 *
 * Returns: %TRUE on success; when the collective fails the statistics are
 *   unchanged
 */
gboolean
ncfm_cf_stats_allreduce (NcfmCFStats *self, NcfmComm *comm, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self) && NCFM_IS_COMM (comm), FALSE);
  const guint ranks = ncfm_comm_get_size (comm);
  if (ranks < 2)
    return TRUE;
  const gsize km = (gsize) self->k * self->m, kd = (gsize) self->k * self->d;
  for (guint c = 0; c < self->k; c++)
    if (self->counts[c] > MAX_REDUCED_COUNT / ranks) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "CF statistics: class %u has %"
          G_GINT64_FORMAT " samples, more than %d over %u ranks can sum exactly", c,
          self->counts[c], MAX_REDUCED_COUNT, ranks);
      return FALSE;
    }
  g_autofree gfloat *host = g_new (gfloat, 2 * km + kd + self->k);
  ncfm_tensor_download (self->sum_cos, host, km * sizeof (gfloat));
  ncfm_tensor_download (self->sum_sin, host + km, km * sizeof (gfloat));
  ncfm_tensor_download (self->sum_features, host + 2 * km, kd * sizeof (gfloat));
  gfloat *counts = host + 2 * km + kd;
  for (guint c = 0; c < self->k; c++)
    counts[c] = (gfloat) self->counts[c];
  if (!ncfm_comm_allreduce_sum_float (comm, host, 2 * km + kd + self->k, error))
    return FALSE;
  if (!ncfm_tensor_set_data (self->sum_cos, (const guint8 *) host, km * sizeof (gfloat), error)
      || !ncfm_tensor_set_data (self->sum_sin, (const guint8 *) (host + km),
          km * sizeof (gfloat), error)
      || !ncfm_tensor_set_data (self->sum_features, (const guint8 *) (host + 2 * km),
          kd * sizeof (gfloat), error))
    return FALSE;
  for (guint c = 0; c < self->k; c++)
    self->counts[c] = (gint64) counts[c];
  return TRUE;
}

/**
 * ncfm_cf_stats_get_num_classes:
 * @self: a #NcfmCFStats
 *
 * Returns: K
 */
guint
ncfm_cf_stats_get_num_classes (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), 0);
  return self->k;
}

/**
 * ncfm_cf_stats_get_num_freqs:
 * @self: a #NcfmCFStats
 *
 * Returns: M
 */
guint
ncfm_cf_stats_get_num_freqs (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), 0);
  return self->m;
}

/**
 * ncfm_cf_stats_get_dim:
 * @self: a #NcfmCFStats
 *
 * Returns: the feature dimension d
 */
guint
ncfm_cf_stats_get_dim (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), 0);
  return self->d;
}

/**
 * ncfm_cf_stats_get_normalize:
 * @self: a #NcfmCFStats
 *
 * Returns: whether features are L2-normalised before the CF
 */
gboolean
ncfm_cf_stats_get_normalize (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), FALSE);
  return self->normalize;
}

/**
 * ncfm_cf_stats_get_count:
 * @self: a #NcfmCFStats
 * @class_id: a class
 *
 * Returns: the number of samples of @class_id accumulated (0 for an unknown class)
 */
gint64
ncfm_cf_stats_get_count (NcfmCFStats *self, guint class_id)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), 0);
  return class_id < self->k ? self->counts[class_id] : 0;
}

/**
 * ncfm_cf_stats_get_sum_cos:
 * @self: a #NcfmCFStats
 *
 * Returns: (transfer none): sum of cos(<t_m, x_i>) per class, F32 [K, M]
 */
NcfmTensor *
ncfm_cf_stats_get_sum_cos (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), NULL);
  return self->sum_cos;
}

/**
 * ncfm_cf_stats_get_sum_sin:
 * @self: a #NcfmCFStats
 *
 * Returns: (transfer none): sum of sin(<t_m, x_i>) per class, F32 [K, M]
 */
NcfmTensor *
ncfm_cf_stats_get_sum_sin (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), NULL);
  return self->sum_sin;
}

/**
 * ncfm_cf_stats_get_sum_features:
 * @self: a #NcfmCFStats
 *
 * Returns: (transfer none): sum of the (normalised, if enabled) feature rows
 *   per class, F32 [K, d]: the statistic of the MMD baseline
 */
NcfmTensor *
ncfm_cf_stats_get_sum_features (NcfmCFStats *self)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), NULL);
  return self->sum_features;
}

/**
 * ncfm_cf_stats_compute_cf:
 * @self: a #NcfmCFStats
 * @re: (out) (transfer full): real part of the CF, F32 [K, M]
 * @im: (out) (transfer full): imaginary part of the CF, F32 [K, M]
 * @error: return location for a #GError
 *
 * The empirical CF, sums divided by counts (rows of empty classes are 0).
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_cf_stats_compute_cf (NcfmCFStats *self, NcfmTensor **re, NcfmTensor **im, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CF_STATS (self), FALSE);
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  gint64 km[2] = { self->k, self->m };
  g_autoptr (NcfmTensor) inv = ncfm_cf_reciprocal_counts (self->device, self->counts, self->k, error);
  g_autoptr (NcfmTensor) r = inv ? ncfm_tensor_new (self->device, NCFM_DTYPE_F32, km, 2, error) : NULL;
  g_autoptr (NcfmTensor) i = r ? ncfm_tensor_new (self->device, NCFM_DTYPE_F32, km, 2, error) : NULL;
  if (!i)
    return FALSE;
  ncfm_tensor_copy_from (r, self->sum_cos, NULL);
  ncfm_tensor_copy_from (i, self->sum_sin, NULL);
  be->ops->scale_rows (be, (int) self->k, (int) self->m, ncfm_tensor_f32 (inv), ncfm_tensor_f32 (r));
  be->ops->scale_rows (be, (int) self->k, (int) self->m, ncfm_tensor_f32 (inv), ncfm_tensor_f32 (i));
  *re = g_steal_pointer (&r);
  *im = g_steal_pointer (&i);
  return TRUE;
}
