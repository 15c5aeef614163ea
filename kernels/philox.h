/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* philox.h: Philox4x32-10 (Salmon et al., SC'11), the counter-based generator
 * behind fill_normal.  Shared verbatim by the CPU (C) and CUDA code so both
 * backends draw the same numbers for the same (seed, counter). */
#ifndef NCFM_PHILOX_H
#define NCFM_PHILOX_H

#include <stdint.h>
#include "fastmath.h"

#ifdef __CUDACC__
#define NCFM_HD __host__ __device__ __forceinline__
#else   /* always inlined: the vector loops around these need their bodies */
#define NCFM_HD static inline __attribute__ ((always_inline))
#endif

typedef struct {
  uint32_t v[4];
} NcfmPhilox4;

NCFM_HD uint32_t
ncfm_mulhilo32 (uint32_t a, uint32_t b, uint32_t *hi)
{
  uint64_t p = (uint64_t) a * b;
  *hi = (uint32_t) (p >> 32);
  return (uint32_t) p;
}

/* Four 32-bit random words for a 64-bit counter and a 64-bit key. */
NCFM_HD NcfmPhilox4
ncfm_philox4x32_10 (uint64_t counter, uint64_t key)
{
  uint32_t c0 = (uint32_t) counter, c1 = (uint32_t) (counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t) key, k1 = (uint32_t) (key >> 32);
  /* unrolled in C: a loop inside would keep the callers' loops from
   * vectorising (nvcc unrolls it by itself) */
#ifndef __CUDACC__
#pragma GCC unroll 10
#endif
  for (int r = 0; r < 10; r++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = ncfm_mulhilo32 (0xD2511F53u, c0, &hi0);
    uint32_t lo1 = ncfm_mulhilo32 (0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  NcfmPhilox4 out = { { c0, c1, c2, c3 } };
  return out;
}

/* (w + 1/2) 2^-32 in (0, 1], all 32 bits of w: the top 24 and the low 8
 * scaled apart, so that the one rounding is the last add. */
NCFM_HD float
ncfm_unit_open (uint32_t w)
{
  return fmaf ((float) (int32_t) (w >> 8), 0x1p-24f,
      fmaf ((float) (int32_t) (w & 0xffu), 0x1p-32f, 0x1p-33f));
}

/* The Box-Muller pair of two random words in float arithmetic that
 * vectorises on the CPU and gives the same floats on CUDA (fastmath.h):
 *   u1 = (w0 + 1/2) 2^-32, radius sqrt(-2 ln u1): where u1 >= sqrt(1/2), ln
 *     takes f = -(1 - u1) from ~w0 (u1 - 1 in float would keep only ~2^-24 of
 *     it), so small radii keep their precision;
 *   angle w1 2^-32 turns, reduced exactly in integers to a quadrant and a
 *     remainder in [-1/8, 1/8) turn.
 * even = r cos a, odd = r sin a: within ~3e-7 relative of the same formula in
 * double for the same words. */
NCFM_HD void
ncfm_box_muller (uint32_t w0, uint32_t w1, float *even, float *odd)
{
  float f, e;
  ncfm_log_reduce (ncfm_unit_open (w0), &f, &e);
  /* u1 >= sqrt(1/2) (there e = 0, f = u1 - 1): f = -((~w0 + 1/2) 2^-32)
   * instead, blended by a mask (with a select GCC moves the other side's
   * conversions under a branch, and the loop no longer vectorises) */
  const uint32_t near_one = 0u - (uint32_t) (w0 >= 0xb504f334u);
  const float f_near = -ncfm_unit_open (~w0);
  f = ncfm_bits_float ((ncfm_float_bits (f_near) & near_one) | (ncfm_float_bits (f) & ~near_one));
  e = ncfm_bits_float (ncfm_float_bits (e) & ~near_one);   /* +0.0f where near one */
  const float rad = sqrtf (-2.0f * ncfm_log_reduced (f, e));
  const uint32_t quadrant = (w1 + 0x20000000u) >> 30;      /* nearest quarter turn */
  const int32_t rest = (int32_t) (w1 - (quadrant << 30));   /* [-2^29, 2^29) */
  float s, c;
  ncfm_sincos_quadrant ((float) rest * 0x1.921fb6p-30f, (int) quadrant, &s, &c);   /* 2 pi 2^-32 */
  *even = rad * c;
  *odd = rad * s;
}

/* The normal deviate of stream position idx: Box-Muller on the first two
 * words of counter idx / 2 gives a pair; even idx take the cosine branch,
 * odd the sine. */
NCFM_HD float
ncfm_philox_normal (uint64_t key, uint64_t idx)
{
  NcfmPhilox4 r = ncfm_philox4x32_10 (idx >> 1, key);
  float even, odd;
  ncfm_box_muller (r.v[0], r.v[1], &even, &odd);
  return (idx & 1) ? odd : even;
}

/* Both deviates of pair @pair (stream positions 2 pair and 2 pair + 1), each
 * bit for bit what ncfm_philox_normal() gives for its position, for half the
 * Philox rounds. */
NCFM_HD void
ncfm_philox_normal_pair (uint64_t key, uint64_t pair, float *even, float *odd)
{
  NcfmPhilox4 r = ncfm_philox4x32_10 (pair, key);
  ncfm_box_muller (r.v[0], r.v[1], even, odd);
}

#endif
