/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cf.c: per-class empirical characteristic functions, the chain-rule weights
 * of their backward, the NCFD loss and the MMD (DM) baseline (CPU reference).
 *
 * The sin/cos of the [n, m] phase block are the hot spot (4M of each per step
 * at m = 4096, n = 1024): libm's sinf/cosf are scalar calls, so the phases go
 * through sincos_fast, plain float arithmetic that GCC vectorises (8 lanes
 * with -march=x86-64-v3). */
#include "cpu-ops.h"

#include <math.h>
#include <string.h>

#include "../fastmath.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Columns handled per pass: sin/cos/accumulator buffers of CHUNK floats stay
 * in L1, and a chunk is the unit of work a thread owns in cf_accumulate. */
#define CHUNK 256

/* sincos_fast is within 1.6 ulp of the correctly rounded sin and cos (and
 * 9.3e-8 absolute) for every float with |x| <= SINCOS_FAST_MAX: measured
 * exhaustively against double sin/cos (the bound of the reduction below
 * holds much further; the measurement stopped here).  Beyond it (and for
 * NaN/Inf) the slow path is libm in double. */
#define SINCOS_FAST_MAX 1.0e5f

/* x = q pi/2 + r with q = rint(x 2/pi) and |r| <= ~pi/4 (Cody-Waite: pi/2
 * split in three floats C1 + C2 + C3, exact to 1e-23).  x - q C1 is exact in
 * one FMA: both are multiples of 2^-23 (|x| >= 1) or 2^-24 (q = +-1, |x| < 1)
 * and the difference is below 2, within 24 bits, while |q| (C1 - pi/2) < 1,
 * i.e. |x| < 4e7; the next two FMAs round once each, so r carries ~1 ulp
 * wherever it is not tiny, and ~1 ulp of itself where it is.  Then
 * ncfm_sincos_quadrant (fastmath.h: polynomials and a quadrant fix-up). */
static inline void
sincos_fast (float x, float *sin_out, float *cos_out)
{
  const float round_magic = 0x1.8p23f;   /* adding 1.5 2^23 rounds to an integer */
  const float q = (x * 0x1.45f306p-1f + round_magic) - round_magic;
  const int quadrant = (int) q;
  float r = fmaf (-q, 0x1.921fb6p+0f, x);
  r = fmaf (-q, -0x1.777a5cp-25f, r);
  r = fmaf (-q, -0x1.ee59dap-50f, r);
  ncfm_sincos_quadrant (r, quadrant, sin_out, cos_out);
}

/* s[j], c[j] = sin, cos (x[j]) for j < len: the vector loop for everything,
 * then libm over the (rare) elements out of sincos_fast's range. */
static inline void
sincos_block (const float *x, int len, float *s, float *c)
{
  int out_of_range = 0;
#pragma omp simd reduction(+:out_of_range)
  for (int j = 0; j < len; j++) {
    sincos_fast (x[j], &s[j], &c[j]);
    out_of_range += !(fabsf (x[j]) <= SINCOS_FAST_MAX);   /* NaN counts too */
  }
  if (out_of_range)
    for (int j = 0; j < len; j++)
      if (!(fabsf (x[j]) <= SINCOS_FAST_MAX)) {
        s[j] = (float) sin (x[j]);
        c[j] = (float) cos (x[j]);
      }
}

static inline int
label_ok (int32_t label, int k)
{
  return label >= 0 && label < k;
}

/* Adds a run's sums over one chunk into its class's outputs. */
static inline void
flush_run (int len, const float *acc_c, const float *acc_s, float *sum_c, float *sum_s)
{
  for (int j = 0; j < len; j++) {
    sum_c[j] += acc_c[j];
    sum_s[j] += acc_s[j];
  }
}

/* Summation order (the CUDA twin follows it exactly): per column, a run of
 * consecutive rows with the same class (skipped rows do not end a run) is
 * summed in row order from 0 in float, and the run's sum is added to
 * sum_cos/sum_sin when the class changes or the batch ends.  Batches are
 * usually one class, so this is one add into the output per column. */
void
ncfm_cpu_cf_accumulate (NcfmBackend *be, int n, int m, int k, const float *phase,
    const int32_t *labels, float *sum_cos, float *sum_sin)
{
  if (n <= 0 || m <= 0 || k <= 0)
    return;
  const int chunks = (m + CHUNK - 1) / CHUNK;
  /* the run sums of every column: [2, m] */
  float *acc = ncfm_backend_scratch (be, 2 * (size_t) m * sizeof (float));

  /* A thread owns a range of whole chunks for every class, so no two
   * threads touch the same output and the result does not depend on the
   * thread count; it walks the rows in order, streaming its part of each. */
#pragma omp parallel if ((size_t) n * m > 65536)
  {
#ifdef _OPENMP
    const int nt = omp_get_num_threads (), t = omp_get_thread_num ();
#else
    const int nt = 1, t = 0;
#endif
    const int ja = (int) ((long) chunks * t / nt) * CHUNK;
    const int jb = (int) ((long) chunks * (t + 1) / nt) * CHUNK < m
        ? (int) ((long) chunks * (t + 1) / nt) * CHUNK : m;
    float *acc_c = acc + ja, *acc_s = acc + m + ja;
    float s[CHUNK], c[CHUNK];
    int run = -1;
    for (int i = 0; i < n && ja < jb; i++) {
      const int32_t label = labels[i];
      if (!label_ok (label, k))
        continue;
      if (label != run) {
        if (run >= 0)
          flush_run (jb - ja, acc_c, acc_s, sum_cos + (size_t) run * m + ja,
              sum_sin + (size_t) run * m + ja);
        memset (acc_c, 0, (size_t) (jb - ja) * sizeof (float));
        memset (acc_s, 0, (size_t) (jb - ja) * sizeof (float));
        run = label;
      }
      for (int j0 = ja; j0 < jb; j0 += CHUNK) {
        const int len = jb - j0 < CHUNK ? jb - j0 : CHUNK;
        sincos_block (phase + (size_t) i * m + j0, len, s, c);
        float *ac = acc_c + (j0 - ja), *as = acc_s + (j0 - ja);
#pragma omp simd
        for (int j = 0; j < len; j++) {
          ac[j] += c[j];
          as[j] += s[j];
        }
      }
    }
    if (run >= 0)
      flush_run (jb - ja, acc_c, acc_s, sum_cos + (size_t) run * m + ja,
          sum_sin + (size_t) run * m + ja);
  }
}

void
ncfm_cpu_cf_backward_weights (NcfmBackend *be, int n, int m, int k, const int32_t *labels,
    const float *g_re, const float *g_im, const float *scale, float *phase_to_w)
{
  (void) be;
  if (n <= 0 || m <= 0)
    return;

#pragma omp parallel for schedule(static) if ((size_t) n * m > 65536)
  for (int i = 0; i < n; i++) {
    float *w = phase_to_w + (size_t) i * m;
    const int32_t label = labels[i];
    if (!label_ok (label, k)) {
      memset (w, 0, (size_t) m * sizeof (float));
      continue;
    }
    const float sc = scale[label];
    const float *gr = g_re + (size_t) label * m, *gi = g_im + (size_t) label * m;
    float s[CHUNK], c[CHUNK];
    for (int j0 = 0; j0 < m; j0 += CHUNK) {
      const int len = m - j0 < CHUNK ? m - j0 : CHUNK;
      sincos_block (w + j0, len, s, c);
#pragma omp simd
      for (int j = 0; j < len; j++)
        w[j0 + j] = sc * (c[j] * gi[j0 + j] - s[j] * gr[j0 + j]);
    }
  }
}

/* One frequency of NCFD: returns sqrt(alpha amp + beta pha) and the
 * derivatives of that root wrt the four CF components, in double (the phase
 * term cancels: 1 - cos of a small angle).  d|phi|/d re = re / |phi|, taken
 * as 0 where |phi| = 0; the clamp passes gradient where pha >= 1e-12, as
 * torch.clamp(min=) does. */
static inline double
ncfd_term (double alpha, double beta, double rr, double ir, double rs, double is,
    double *d_rs, double *d_is, double *d_rr, double *d_ir)
{
  const double ar = sqrt (rr * rr + ir * ir), as = sqrt (rs * rs + is * is);
  const double diff = ar - as;
  const double pha_raw = 2.0 * (ar * as - rr * rs - ir * is);
  const int live = pha_raw >= 1e-12;
  const double v = alpha * diff * diff + beta * (live ? pha_raw : 1e-12);
  const double root = sqrt (v);
  /* d root / d v; 0 where v = 0 (beta = 0 and equal moduli: a kink) */
  const double dv = v > 0.0 ? 0.5 / root : 0.0;
  const double urr = ar > 0.0 ? rr / ar : 0.0, uir = ar > 0.0 ? ir / ar : 0.0;
  const double urs = as > 0.0 ? rs / as : 0.0, uis = as > 0.0 ? is / as : 0.0;
  const double bl = live ? 2.0 * beta : 0.0;
  *d_rs = dv * (-2.0 * alpha * diff * urs + bl * (ar * urs - rr));
  *d_is = dv * (-2.0 * alpha * diff * uis + bl * (ar * uis - ir));
  *d_rr = dv * (2.0 * alpha * diff * urr + bl * (as * urr - rs));
  *d_ir = dv * (2.0 * alpha * diff * uir + bl * (as * uir - is));
  return root;
}

void
ncfm_cpu_ncfd_forward_backward (NcfmBackend *be, int k, int m, float alpha, float beta,
    float scale, const float *re_r, const float *im_r, const float *re_s, const float *im_s,
    float *loss, float *g_re_s, float *g_im_s, float *g_re_r, float *g_im_r)
{
  (void) be;
  if (k <= 0)
    return;
  const double per = m > 0 ? (double) scale / m : 0.0;   /* d loss[c] / d root_j */

#pragma omp parallel for schedule(static) if ((size_t) k * m > 65536)
  for (int c = 0; c < k; c++) {
    double total = 0.0;
    for (int j = 0; j < m; j++) {
      const size_t x = (size_t) c * m + j;
      double d_rs, d_is, d_rr, d_ir;
      total += ncfd_term (alpha, beta, re_r[x], im_r[x], re_s[x], im_s[x],
          &d_rs, &d_is, &d_rr, &d_ir);
      if (g_re_s) {
        g_re_s[x] = (float) (per * d_rs);
        g_im_s[x] = (float) (per * d_is);
      }
      if (g_re_r) {
        g_re_r[x] = (float) (per * d_rr);
        g_im_r[x] = (float) (per * d_ir);
      }
    }
    loss[c] = (float) (per * total);
  }
}

/* Column sums of x [n, d] over rows, in double, into sums [d]. */
static void
column_sums (int n, int d, const float *x, double *sums)
{
#pragma omp parallel for schedule(static) if ((size_t) n * d > 65536)
  for (int j0 = 0; j0 < d; j0 += CHUNK) {
    const int len = d - j0 < CHUNK ? d - j0 : CHUNK;
    double acc[CHUNK] = { 0 };
    for (int i = 0; i < n; i++) {
      const float *row = x + (size_t) i * d + j0;
#pragma omp simd
      for (int j = 0; j < len; j++)
        acc[j] += row[j];
    }
    memcpy (sums + j0, acc, (size_t) len * sizeof (double));
  }
}

/* Every row of g [n, d] = coef * diff. */
static void
broadcast_rows (int n, int d, double coef, const double *diff, float *g)
{
#pragma omp parallel for schedule(static) if ((size_t) n * d > 65536)
  for (int i = 0; i < n; i++) {
    float *row = g + (size_t) i * d;
#pragma omp simd
    for (int j = 0; j < d; j++)
      row[j] = (float) (coef * diff[j]);
  }
}

/* The mean of zero rows is taken as 0 (callers never pass empty sets). */
void
ncfm_cpu_mmd_forward_backward (NcfmBackend *be, int n_r, int n_s, int d, const float *x_r,
    const float *x_s, float *loss, float *g_s, float *g_r)
{
  if (d <= 0) {
    loss[0] = 0.0f;
    return;
  }
  double *mean_r = ncfm_backend_scratch (be, 2 * (size_t) d * sizeof (double));
  double *diff = mean_r + d;
  column_sums (n_r > 0 ? n_r : 0, d, x_r, mean_r);
  column_sums (n_s > 0 ? n_s : 0, d, x_s, diff);
  const double inv_r = n_r > 0 ? 1.0 / n_r : 0.0, inv_s = n_s > 0 ? 1.0 / n_s : 0.0;
  double total = 0.0;
  for (int j = 0; j < d; j++) {
    diff[j] = mean_r[j] * inv_r - diff[j] * inv_s;
    total += diff[j] * diff[j];
  }
  loss[0] = (float) total;
  if (g_s && n_s > 0)
    broadcast_rows (n_s, d, -2.0 * inv_s, diff, g_s);
  if (g_r && n_r > 0)
    broadcast_rows (n_r, d, 2.0 * inv_r, diff, g_r);
}
