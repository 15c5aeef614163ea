/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* norm.c: GroupNorm (instance norm when groups == c) and BatchNorm, forward
 * and backward (CPU reference).
 *
 * Statistics are accumulated in double with two passes (mean, then the mean of
 * squared deviations), so the variance never suffers the cancellation of
 * E[x^2] - E[x]^2.  Backward uses the usual closed form
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
 * with dxhat = gamma * dy, the means taken over the normalised set. */
#include "cpu-ops.h"

#include <math.h>

/* Parallelise only when there is enough work to pay for the thread team. */
#define NORM_PAR_MIN 32768

/* The two statistics sums keep SUM_LANES partial sums (lane k takes the
 * elements i = k mod SUM_LANES), added pairwise at the end: one
 * vectorised accumulator was a chain of dependent adds, latency-bound (the
 * instance norm of the first ConvNet layer, 1024 values a plane, spent as
 * long in these sums as in the 27-tap convolution that made the plane).  In
 * double the order changes the float results only on the rare rounding tie. */
#define SUM_LANES 16

/* the lanes' total, pairwise (a few vector adds, not a chain of 16) */
static double
sum_lanes (double lane[SUM_LANES])
{
  for (int h = SUM_LANES / 2; h > 0; h /= 2)
    for (int k = 0; k < h; k++)
      lane[k] += lane[k + h];
  return lane[0];
}

/* sum_i x[i] */
static double
sum_f (const float *x, size_t m)
{
  double lane[SUM_LANES] = { 0.0 };
  size_t i = 0;
  for (; i + SUM_LANES <= m; i += SUM_LANES)
    for (int k = 0; k < SUM_LANES; k++)
      lane[k] += x[i + k];
  for (; i < m; i++)
    lane[i % SUM_LANES] += x[i];
  return sum_lanes (lane);
}

/* sum_i (x[i] - mean)^2 */
static double
sum_sq_dev (const float *x, size_t m, double mean)
{
  double lane[SUM_LANES] = { 0.0 };
  size_t i = 0;
  for (; i + SUM_LANES <= m; i += SUM_LANES)
    for (int k = 0; k < SUM_LANES; k++) {
      const double d = x[i + k] - mean;
      lane[k] += d * d;
    }
  for (; i < m; i++) {
    const double d = x[i] - mean;
    lane[i % SUM_LANES] += d * d;
  }
  return sum_lanes (lane);
}

/* *s_dy = sum dy, *s_dyxc = sum dy * (x - mean) */
static void
sum_dy_dyxc (const float *x, const float *dy, size_t m, double mean, double *s_dy, double *s_dyxc)
{
  double a = 0.0, b = 0.0;
#pragma omp simd reduction(+:a, b)
  for (size_t i = 0; i < m; i++) {
    a += dy[i];
    b += dy[i] * (x[i] - mean);
  }
  *s_dy = a;
  *s_dyxc = b;
}

/* y = (x - mean) * scale + shift over one contiguous run */
void
ncfm_cpu_norm_affine (const float *x, float *y, size_t m, float mean, float scale, float shift)
{
#pragma omp simd
  for (size_t i = 0; i < m; i++)
    y[i] = (x[i] - mean) * scale + shift;
}

/* mean and 1 / sqrt(var + eps) of m contiguous values (one GroupNorm group) */
void
ncfm_cpu_norm_stats (const float *x, size_t m, float eps, float *mean, float *rstd)
{
  double mu = m ? sum_f (x, m) / (double) m : 0.0;
  double var = m ? sum_sq_dev (x, m, mu) / (double) m : 0.0;
  *mean = (float) mu;
  *rstd = (float) (1.0 / sqrt (var + (double) eps));
}

/* ---- GroupNorm ---- */

void
ncfm_cpu_groupnorm_forward (NcfmBackend *be, int n, int c, int hw, int groups, float eps,
    const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd)
{
  (void) be;
  const int cpg = c / groups;
  const size_t m = (size_t) cpg * hw;   /* elements of one (sample, group): contiguous */
  const long ng = (long) n * groups;

#pragma omp parallel for schedule(static) if ((size_t) ng * m > NORM_PAR_MIN)
  for (long b = 0; b < ng; b++) {
    const float *xb = x + (size_t) b * m;
    float *yb = y + (size_t) b * m;
    float mu, r;
    ncfm_cpu_norm_stats (xb, m, eps, &mu, &r);
    mean[b] = mu;
    rstd[b] = r;
    int c0 = (int) (b % groups) * cpg;
    for (int k = 0; k < cpg; k++) {
      float g = gamma[c0 + k];
      ncfm_cpu_norm_affine (xb + (size_t) k * hw, yb + (size_t) k * hw, (size_t) hw, mu, g * r,
          beta[c0 + k]);
    }
  }
}

void
ncfm_cpu_groupnorm_backward (NcfmBackend *be, int n, int c, int hw, int groups,
    const float *x, const float *gamma, const float *mean, const float *rstd,
    const float *dy, float *dx, float *dgamma, float *dbeta)
{
  const int cpg = c / groups;
  const size_t m = (size_t) cpg * hw;
  const long ng = (long) n * groups;
  /* per (sample, channel): sum dy and sum dy * (x - mean), reduced over the
   * samples afterwards for dgamma/dbeta (no cross-thread accumulation) */
  double *s_dy = ncfm_backend_scratch (be, 2 * (size_t) n * c * sizeof (double) + 1);
  double *s_dyxc = s_dy + (size_t) n * c;

#pragma omp parallel for schedule(static) if ((size_t) ng * m > NORM_PAR_MIN)
  for (long b = 0; b < ng; b++) {
    const size_t off = (size_t) b * m;
    const int c0 = (int) (b % groups) * cpg;
    const size_t nc0 = (size_t) (b / groups) * c + c0;   /* index of (sample, c0) */
    const double mu = mean[b], r = rstd[b];
    double a = 0.0, bb = 0.0;   /* sum dxhat, sum dxhat * (x - mean) */
    for (int k = 0; k < cpg; k++) {
      size_t o = off + (size_t) k * hw;
      sum_dy_dyxc (x + o, dy + o, (size_t) hw, mu, &s_dy[nc0 + k], &s_dyxc[nc0 + k]);
      a += gamma[c0 + k] * s_dy[nc0 + k];
      bb += gamma[c0 + k] * s_dyxc[nc0 + k];
    }
    if (!dx)
      continue;
    /* dx = r*gamma*dy - r*a/m - (x - mu) * r^3 * bb/m */
    const float ca = (float) (-r * a / (double) m);
    const float cb = (float) (-r * r * r * bb / (double) m);
    const float fmu = (float) mu;
    for (int k = 0; k < cpg; k++) {
      size_t o = off + (size_t) k * hw;
      const float gr = (float) (gamma[c0 + k] * r);
#pragma omp simd
      for (int i = 0; i < hw; i++)
        dx[o + i] = gr * dy[o + i] + (x[o + i] - fmu) * cb + ca;
    }
  }

  if (!dgamma && !dbeta)
    return;
#pragma omp parallel for schedule(static) if ((size_t) n * c > NORM_PAR_MIN)
  for (int ch = 0; ch < c; ch++) {
    double sg = 0.0, sb = 0.0;
    for (int s = 0; s < n; s++) {
      size_t i = (size_t) s * c + ch;
      sg += rstd[(size_t) s * groups + ch / cpg] * s_dyxc[i];
      sb += s_dy[i];
    }
    if (dgamma)
      dgamma[ch] = (float) sg;
    if (dbeta)
      dbeta[ch] = (float) sb;
  }
}

/* ---- BatchNorm: statistics per channel over (n, hw) ---- */

void
ncfm_cpu_batchnorm_forward_train (NcfmBackend *be, int n, int c, int hw, float eps,
    float momentum, const float *x, const float *gamma, const float *beta, float *y,
    float *mean, float *rstd, float *running_mean, float *running_var)
{
  (void) be;
  const size_t m = (size_t) n * hw;   /* values per channel */
  const size_t cs = (size_t) c * hw;  /* sample stride */

#pragma omp parallel for schedule(static) if (m * c > NORM_PAR_MIN)
  for (int ch = 0; ch < c; ch++) {
    const float *xc = x + (size_t) ch * hw;
    double s = 0.0;
    for (int i = 0; i < n; i++)
      s += sum_f (xc + i * cs, (size_t) hw);
    double mu = m ? s / (double) m : 0.0;
    double sq = 0.0;
    for (int i = 0; i < n; i++)
      sq += sum_sq_dev (xc + i * cs, (size_t) hw, mu);
    double var = m ? sq / (double) m : 0.0;
    float r = (float) (1.0 / sqrt (var + (double) eps));
    mean[ch] = (float) mu;
    rstd[ch] = r;
    float scale = gamma[ch] * r;
    for (int i = 0; i < n; i++)
      ncfm_cpu_norm_affine (xc + i * cs, y + (size_t) ch * hw + i * cs, (size_t) hw, (float) mu, scale,
          beta[ch]);
    /* PyTorch updates the running variance with the unbiased estimate (it
     * refuses m == 1 in training; we then keep the biased one, 0, not inf). */
    double unbiased = m > 1 ? sq / (double) (m - 1) : var;
    if (running_mean)
      running_mean[ch] = (float) ((1.0 - momentum) * running_mean[ch] + momentum * mu);
    if (running_var)
      running_var[ch] = (float) ((1.0 - momentum) * running_var[ch] + momentum * unbiased);
  }
}

void
ncfm_cpu_batchnorm_forward_eval (NcfmBackend *be, int n, int c, int hw, float eps,
    const float *x, const float *gamma, const float *beta, const float *running_mean,
    const float *running_var, float *y)
{
  (void) be;
  const long nc = (long) n * c;
#pragma omp parallel for schedule(static) if ((size_t) nc * hw > NORM_PAR_MIN)
  for (long b = 0; b < nc; b++) {
    int ch = (int) (b % c);
    float r = (float) (1.0 / sqrt ((double) running_var[ch] + (double) eps));
    ncfm_cpu_norm_affine (x + (size_t) b * hw, y + (size_t) b * hw, (size_t) hw, running_mean[ch],
        gamma[ch] * r, beta[ch]);
  }
}

void
ncfm_cpu_batchnorm_backward (NcfmBackend *be, int n, int c, int hw, const float *x,
    const float *gamma, const float *mean, const float *rstd, const float *dy,
    float *dx, float *dgamma, float *dbeta)
{
  (void) be;
  const size_t m = (size_t) n * hw;
  const size_t cs = (size_t) c * hw;

#pragma omp parallel for schedule(static) if (m * c > NORM_PAR_MIN)
  for (int ch = 0; ch < c; ch++) {
    const size_t c0 = (size_t) ch * hw;
    const double mu = mean[ch], r = rstd[ch];
    double s_dy = 0.0, s_dyxc = 0.0;
    for (int i = 0; i < n; i++) {
      double a, b;
      sum_dy_dyxc (x + c0 + i * cs, dy + c0 + i * cs, (size_t) hw, mu, &a, &b);
      s_dy += a;
      s_dyxc += b;
    }
    if (dgamma)
      dgamma[ch] = (float) (r * s_dyxc);
    if (dbeta)
      dbeta[ch] = (float) s_dy;
    if (!dx)
      continue;
    /* dx = gamma*r*dy - gamma*r*s_dy/m - (x - mu) * gamma*r^3*s_dyxc/m */
    const double gr = gamma[ch] * r;
    const float fgr = (float) gr;
    const float ca = (float) (-gr * s_dy / (double) m);
    const float cb = (float) (-gr * r * r * s_dyxc / (double) m);
    const float fmu = (float) mu;
    for (int i = 0; i < n; i++) {
      const size_t o = c0 + i * cs;
#pragma omp simd
      for (int j = 0; j < hw; j++)
        dx[o + j] = fgr * dy[o + j] + (x[o + j] - fmu) * cb + ca;
    }
  }
}
