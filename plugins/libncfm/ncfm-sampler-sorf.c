/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-sampler-sorf
 * @title: Structured frequencies
 * @short_description: t with orthogonal rows from fast Hadamard transforms (SORF)
 *
 * A structured sampler (ncfm_sampler_new_structured()) draws t [M, d] as
 * structured orthogonal random features (Yu et al. 2016, "Orthogonal Random
 * Features"): with p the next power of two >= d, H the p x p Walsh-Hadamard
 * matrix and D1, D2, D3 diagonal matrices of random signs, the rows of
 * B = H D1 H D2 H D3 are orthogonal, and block b of t takes rows
 * [b p, b p + p) of t from one such B (M/p blocks, the last one cut short
 * when p does not divide M), each block with its own signs.
 *
 * Scaling (the choice made here): row r of a block is
 * t_r = sigma * s_r * u_r / ||u_r||, with u_r the first d entries of row r
 * of B (the SORF paper pads x with zeros to p, which is the same as cutting
 * B's columns) and s_r ~ chi_d drawn independently.  The norm of t_r then
 * has exactly the law of the norm of a row of sigma N(0, I_d) (sigma chi_d),
 * where the paper's sqrt(p) H D1 H D2 H D3 / sigma fixes every norm at
 * sigma sqrt(p) (biased for small d).  When d is a power of two the rows of a
 * block are exactly orthogonal; otherwise cutting the columns leaves them
 * nearly so.
 *
 * Randomness is counter-based: draw @index of @seed keys Philox4x32-10
 * with ncfm_derive_seed (seed, index); the signs are bits of its counters
 * 0.., each chi_d comes from Marsaglia-Tsang's Gamma(d/2) method on counters
 * of its own, so any draw can be made again from (seed, index).  The draw
 * builds t on the host with the fast transform (O(M p log p)) and copies it
 * to the device; everything downstream sees an ordinary t.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-sampler-private.h"
#include "ncfm-ops.h"

#include <math.h>
#include <string.h>

#include "hadamard.h"
#include "philox.h"

#define N_SIGNS 3                     /* D1, D2, D3 */
#define CHI_TRIES 64                  /* Marsaglia-Tsang accepts > 95 % of tries */
#define CHI_COUNTERS (G_GUINT64_CONSTANT (1) << 63)   /* above every sign counter */
#define MAX_DIM 65536u
#define MAX_FREQS (1u << 20)

/* Sign (+-1) number @bit of the draw keyed @key: one bit of its Philox stream. */
static float
sign_bit (guint64 key, guint64 bit)
{
  NcfmPhilox4 w = ncfm_philox4x32_10 (bit / 128, key);
  return (w.v[(bit / 32) % 4] >> (bit % 32)) & 1 ? -1.0f : 1.0f;
}

/* Gamma(shape, 1), shape >= 1, by Marsaglia and Tsang (2000) on the counters
 * of row @row; one Philox call per try gives the normal and the uniform. */
static double
gamma_ge1 (guint64 key, guint64 row, double shape)
{
  const double dd = shape - 1.0 / 3.0, c = 1.0 / sqrt (9.0 * dd);
  for (guint64 k = 0; k < CHI_TRIES; k++) {
    NcfmPhilox4 w = ncfm_philox4x32_10 (CHI_COUNTERS | (row * CHI_TRIES + k), key);
    double u1 = ((double) w.v[0] + 1.0) / 4294967296.0, u2 = (double) w.v[1] / 4294967296.0;
    double z = sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
    double u = ((double) w.v[2] + 1.0) / 4294967296.0;
    double v = 1.0 + c * z;
    if (v <= 0)
      continue;
    v = v * v * v;
    if (log (u) < 0.5 * z * z + dd - dd * v + dd * log (v))
      return dd * v;
  }
  return shape;   /* probability < 0.05^64: the mean */
}

/* chi_d = sqrt (2 Gamma(d / 2)); for d = 1, Gamma(1/2) = Gamma(3/2) U^2. */
static double
chi (guint64 key, guint64 row, guint dim)
{
  if (dim >= 2)
    return sqrt (2.0 * gamma_ge1 (key, row, dim / 2.0));
  NcfmPhilox4 w = ncfm_philox4x32_10 (CHI_COUNTERS | (row * CHI_TRIES + CHI_TRIES - 1), key);
  double u = ((double) w.v[3] + 1.0) / 4294967296.0;
  return sqrt (2.0 * gamma_ge1 (key, row, 1.5) * u * u);
}

/* Rows [row0, row0 + rows) of t: block row0 / p of the draw keyed @key, its
 * signs D1, D2, D3 [3 p] and the factor of each row on e_r H D1 H D2 H D3
 * (row_scale [rows]).  Returns FALSE if a row fell back to an axis (then
 * t is no longer signs and scales alone). */
static gboolean
fill_block (float *t, guint row0, guint rows, guint dim, guint p, gfloat sigma, guint64 key,
    float *y, float *signs, float *row_scale)
{
  const guint64 block = row0 / p;
  gboolean structured = TRUE;
  for (guint l = 0; l < N_SIGNS; l++)
    for (guint j = 0; j < p; j++)
      signs[l * p + j] = sign_bit (key, (block * N_SIGNS + l) * p + j);
  for (guint r = 0; r < rows; r++) {
    /* y = e_r H D1 H D2 H D3: row r of B */
    memset (y, 0, p * sizeof (float));
    y[r] = 1.0f;
    for (guint l = 0; l < N_SIGNS; l++) {
      ncfm_hadamard_rows (y, p);
      for (guint j = 0; j < p; j++)
        y[j] *= signs[l * p + j];
    }
    double full = 0, kept = 0;
    for (guint j = 0; j < p; j++)
      full += (double) y[j] * y[j];
    for (guint j = 0; j < dim; j++)
      kept += (double) y[j] * y[j];
    float *out = t + (gsize) (row0 + r) * dim;
    const double s = sigma * chi (key, row0 + r, dim);
    if (kept > 1e-12 * full) {
      const double scale = s / sqrt (kept);
      for (guint j = 0; j < dim; j++)
        out[j] = (float) (scale * y[j]);
      row_scale[r] = (float) scale;
    } else {
      /* the row lies in the padding (d < p <= 16 mostly: 6 % of rows for
       * d = 3, 0.06 % for d = 9, never for d = p): a unit axis */
      memset (out, 0, dim * sizeof (float));
      out[r % dim] = (float) s;
      row_scale[r] = 0.0f;
      structured = FALSE;
    }
  }
  return structured;
}

static NcfmTensor *
host_to_tensor (NcfmDevice *device, const float *data, gint64 rows, gint64 cols,
    GError **error)
{
  gint64 shape[2] = { rows, cols };
  return ncfm_tensor_new_from_data (device, NCFM_DTYPE_F32, shape, 2, (const guint8 *) data,
      (gsize) (rows * cols) * sizeof (float), error);
}

NcfmTensor *
ncfm_sorf_draw (NcfmDevice *device, guint num_freqs, guint dim, gfloat sigma, guint64 seed,
    guint64 index, NcfmTensor **signs, NcfmTensor **scale, GError **error)
{
  const guint p = ncfm_hadamard_size (dim), blocks = (num_freqs + p - 1) / p;
  const guint64 key = ncfm_derive_seed (seed, index);
  const gsize n = (gsize) num_freqs * dim;
  g_autofree float *t = g_try_new (float, n);
  g_autofree float *work = g_try_new (float, p);
  g_autofree float *all_signs = g_try_new (float, (gsize) blocks * N_SIGNS * p);
  g_autofree float *row_scale = g_try_new (float, num_freqs);
  if (!t || !work || !all_signs || !row_scale) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE,
        "structured sampler: out of host memory for t [%u, %u]", num_freqs, dim);
    return NULL;
  }
  gboolean structured = TRUE;
  for (guint row0 = 0; row0 < num_freqs; row0 += p)
    structured &= fill_block (t, row0, MIN (p, num_freqs - row0), dim, p, sigma, key, work,
        all_signs + (gsize) (row0 / p) * N_SIGNS * p, row_scale + row0);
  g_autoptr (NcfmTensor) out = host_to_tensor (device, t, num_freqs, dim, error);
  if (!out)
    return NULL;
  *signs = *scale = NULL;
  if (structured && (!(*signs = host_to_tensor (device, all_signs, blocks, N_SIGNS * p, error))
          || !(*scale = host_to_tensor (device, row_scale, num_freqs, 1, error)))) {
    g_clear_object (signs);
    return NULL;
  }
  return g_steal_pointer (&out);
}

/**
 * ncfm_sampler_new_structured:
 * @device: where the frequencies go
 * @num_freqs: M, the number of frequencies per draw (any; blocks of p rows,
 *   p the next power of two >= @dim, the last block cut short)
 * @dim: d, the feature dimension
 * @sigma: the scale: every row's norm has the law of sigma N(0, I_d)'s
 *   (1 in the method)
 * @seed: seed of the draws
 * @error: return location for a #GError
 *
 * A sampler of structured orthogonal random frequencies (SORF; see the
 * section above): blocks of orthogonal rows from H D1 H D2 H D3, row norms
 * drawn from sigma chi_d.  Draw number k is a function of (@seed, k) alone;
 * it takes no noise (ncfm_sampler_sample_with_noise() refuses it) and has
 * nothing to learn (ncfm_sampler_backward() only checks its arguments).
 *
 * Returns: (transfer full): the sampler, or %NULL with @error set for sizes
 *   out of range or a sigma that is not finite and positive
 */
NcfmSampler *
ncfm_sampler_new_structured (NcfmDevice *device, guint num_freqs, guint dim, gfloat sigma,
    guint64 seed, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (num_freqs < 1 || num_freqs > MAX_FREQS || dim < 1 || dim > MAX_DIM
      || !isfinite (sigma) || !(sigma > 0)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid structured sampler: num_freqs %u (1..%u), dim %u (1..%u), sigma %g (finite, "
        "> 0)", num_freqs, MAX_FREQS, dim, MAX_DIM, sigma);
    return NULL;
  }
  return ncfm_sampler_new_unchecked (device, NCFM_SAMPLER_STRUCTURED, num_freqs, dim, sigma,
      seed);
}

/* Checks x [n, dim] and phase [n, rows] against the draw's t ("@what: ...
 * must be F32 [n, d]" naming the tensor). */
static gboolean
check_phase_args (NcfmFreqDraw *self, NcfmTensor *x, NcfmTensor *phase, const gchar *what,
    const gchar *x_name, const gchar *phase_name, GError **error)
{
  NcfmTensor *t = ncfm_freq_draw_get_t (self);
  NcfmDevice *device = ncfm_tensor_get_device (t);
  const gint64 m = ncfm_tensor_get_dim (t, 0), d = ncfm_tensor_get_dim (t, 1);
  const gint64 n = ncfm_tensor_get_dim (x, 0);
  const gint64 xshape[2] = { n, d }, pshape[2] = { n, m };
  const struct { NcfmTensor *tensor; const gint64 *shape; const gchar *name; } args[] = {
    { x, xshape, x_name }, { phase, pshape, phase_name } };
  for (guint i = 0; i < G_N_ELEMENTS (args); i++) {
    NcfmTensor *a = args[i].tensor;
    if (ncfm_tensor_get_dtype (a) == NCFM_DTYPE_F32 && ncfm_tensor_has_shape (a, args[i].shape, 2)
        && ncfm_tensor_get_device (a) == device && n >= 1)
      continue;
    g_autofree gchar *desc = ncfm_tensor_describe (a);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "%s: %s must be F32 [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] (n >= 1) on "
        "%s, got %s on %s", what, args[i].name, n, i == 0 ? d : m, ncfm_device_get_name (device),
        desc, ncfm_device_get_name (ncfm_tensor_get_device (a)));
    return FALSE;
  }
  return TRUE;
}

/* Forward: out [n, rows] = in [n, dim] t^T; backward: out [n, dim] = in
 * [n, rows] t.  Fast transforms for a structured draw, else the GEMM
 * (linear_backward's dx does not read x). */
static void
sorf_or_gemm (NcfmFreqDraw *self, gboolean forward, NcfmTensor *in, NcfmTensor *out)
{
  NcfmTensor *t = ncfm_freq_draw_get_t (self), *signs, *scale;
  NcfmBackend *be = ncfm_device_get_backend (ncfm_tensor_get_device (t));
  const int n = (int) ncfm_tensor_get_dim (in, 0), m = (int) ncfm_tensor_get_dim (t, 0);
  const int d = (int) ncfm_tensor_get_dim (t, 1);
  if (ncfm_freq_draw_get_structure (self, &signs, &scale))
    (forward ? be->ops->sorf_forward : be->ops->sorf_backward) (be, n, d, m,
        (int) ncfm_hadamard_size ((guint) d), ncfm_tensor_f32 (signs), ncfm_tensor_f32 (scale),
        ncfm_tensor_f32 (in), ncfm_tensor_f32 (out));
  else if (forward)
    be->ops->linear_forward (be, n, d, m, ncfm_tensor_f32 (in), ncfm_tensor_f32 (t), NULL,
        ncfm_tensor_f32 (out));
  else
    be->ops->linear_backward (be, n, d, m, NULL, ncfm_tensor_f32 (t), ncfm_tensor_f32 (in),
        ncfm_tensor_f32 (out), NULL, NULL);
}

/**
 * ncfm_freq_draw_phases:
 * @self: a draw (ncfm_sampler_draw())
 * @x: F32 [n, dim] features on the draw's device
 * @phase: F32 [n, rows] (rows of the draw's t), written
 * @error: return location for a #GError
 *
 * The phases x t^T of the characteristic functions at the draw's t: for a
 * structured draw by fast Hadamard transforms in O(n rows log p) without
 * reading t (the backend's sorf_forward), otherwise one GEMM with t.  The
 * two agree up to float rounding.  Call it as any op, with the device lock
 * held (if the device is shared between threads).
 *
 * Returns: %TRUE, or %FALSE with @error naming the tensor of the wrong
 *   shape, type or device
 */
gboolean
ncfm_freq_draw_phases (NcfmFreqDraw *self, NcfmTensor *x, NcfmTensor *phase, GError **error)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self) && NCFM_IS_TENSOR (x), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (phase), FALSE);
  if (!check_phase_args (self, x, phase, "draw phases", "x (features)", "phase", error))
    return FALSE;
  sorf_or_gemm (self, TRUE, x, phase);
  return TRUE;
}

/**
 * ncfm_freq_draw_phases_backward:
 * @self: a draw (ncfm_sampler_draw())
 * @dphase: F32 [n, rows], a gradient wrt the phases x t^T
 * @dx: F32 [n, dim] on the draw's device, overwritten with dphase t, the
 *   gradient wrt x
 * @error: return location for a #GError
 *
 * The backward of ncfm_freq_draw_phases() wrt x: for a structured draw by
 * transposed fast Hadamard transforms in O(n rows log p) (the backend's
 * sorf_backward), otherwise one GEMM with t.  It computes no gradient wrt
 * t (a structured draw has nothing to learn; use the GEMM's
 * linear_backward where dL/dt is wanted).  Call it with the device lock
 * held, as ncfm_freq_draw_phases().
 *
 * Returns: %TRUE, or %FALSE with @error naming the tensor of the wrong
 *   shape, type or device
 */
gboolean
ncfm_freq_draw_phases_backward (NcfmFreqDraw *self, NcfmTensor *dphase, NcfmTensor *dx,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self) && NCFM_IS_TENSOR (dphase), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (dx), FALSE);
  if (!check_phase_args (self, dx, dphase, "draw phases backward", "dx", "dphase", error))
    return FALSE;
  sorf_or_gemm (self, FALSE, dphase, dx);
  return TRUE;
}
