/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fastmath.h: sin/cos and log as plain float arithmetic (FMAs, selects, no
 * libm calls), so that GCC vectorises the loops around them (8 lanes with
 * -march=x86-64-v3) and the CUDA code computes the same floats: every
 * multiply-add is an explicit fmaf (nvcc would otherwise contract a * b + c
 * where GCC, in ISO C mode, does not) and the rest is single roundings. */
#ifndef NCFM_FASTMATH_H
#define NCFM_FASTMATH_H

#include <stdint.h>
#include <string.h>
#ifndef __CUDACC__
#include <math.h>
#endif

#ifdef __CUDACC__
#define NCFM_FM_HD __host__ __device__ __forceinline__
#else   /* always inlined: the vector loops around these need their bodies */
#define NCFM_FM_HD static inline __attribute__ ((always_inline))
#endif

/* sin and cos of r + quadrant pi/2 for |r| <= ~pi/4: Cephes' minimax
 * polynomials for sin and cos on [-pi/4, pi/4] (within ~1 ulp there) and a
 * quadrant fix-up by selects and +-1 factors (no branches). */
NCFM_FM_HD void
ncfm_sincos_quadrant (float r, int quadrant, float *sin_out, float *cos_out)
{
  const float z = r * r;
  const float s = fmaf (r * z,
      fmaf (z, fmaf (z, -1.9515295891e-4f, 8.3321608736e-3f), -1.6666654611e-1f), r);
  const float c = fmaf (z * z,
      fmaf (z, fmaf (z, 2.443315711809948e-5f, -1.388731625493765e-3f), 4.166664568298827e-2f),
      fmaf (-0.5f, z, 1.0f));
  /* quadrant 1: (sin, cos) = (c, -s); 2: (-s, -c); 3: (-c, s) */
  const float sv = (quadrant & 1) ? c : s;
  const float cv = (quadrant & 1) ? s : c;
  *sin_out = sv * (1.0f - (float) (quadrant & 2));
  *cos_out = cv * (1.0f - (float) ((quadrant + 1) & 2));
}

NCFM_FM_HD uint32_t
ncfm_float_bits (float x)
{
#ifdef __CUDA_ARCH__
  return __float_as_uint (x);
#else
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  return u;
#endif
}

NCFM_FM_HD float
ncfm_bits_float (uint32_t u)
{
#ifdef __CUDA_ARCH__
  return __uint_as_float (u);
#else
  float x;
  memcpy (&x, &u, sizeof x);
  return x;
#endif
}

/* ln (2^e (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: Cephes' logf
 * polynomial in f and ln 2 split in two parts (within ~1 ulp, and ~1e-7
 * absolute near f = 0). */
NCFM_FM_HD float
ncfm_log_reduced (float f, float e)
{
  const float z = f * f;
  float p = fmaf (f, 7.0376836292e-2f, -1.1514610310e-1f);
  p = fmaf (p, f, 1.1676998740e-1f);
  p = fmaf (p, f, -1.2420140846e-1f);
  p = fmaf (p, f, 1.4249322787e-1f);
  p = fmaf (p, f, -1.6668057665e-1f);
  p = fmaf (p, f, 2.0000714765e-1f);
  p = fmaf (p, f, -2.4999993993e-1f);
  p = fmaf (p, f, 3.3333331174e-1f);
  float y = fmaf (e, -2.12194440e-4f, (f * z) * p);
  y = fmaf (-0.5f, z, y);
  return fmaf (e, 0.693359375f, f + y);
}

/* x = 2^e (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)), for a positive normal
 * finite x, by its bits alone (GCC turns a float select back into a
 * conditional multiply, which does not vectorise). */
NCFM_FM_HD void
ncfm_log_reduce (float x, float *f, float *e)
{
  const uint32_t bits = ncfm_float_bits (x);
  const uint32_t mantissa = bits & 0x7fffffu;
  const uint32_t big = mantissa > 0x3504f3u;   /* 1 + mantissa 2^-23 > sqrt(2) */
  *f = ncfm_bits_float (mantissa | (0x3f800000u - (big << 23))) - 1.0f;   /* exact */
  *e = (float) ((int) (bits >> 23) - 127 + (int) big);
}

/* ln x for a positive normal finite x (no checks: callers pass such x only). */
NCFM_FM_HD float
ncfm_log_fast (float x)
{
  float f, e;
  ncfm_log_reduce (x, &f, &e);
  return ncfm_log_reduced (f, e);
}

#endif
