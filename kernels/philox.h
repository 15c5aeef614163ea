/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* philox.h: Philox4x32-10 (Salmon et al., SC'11), the counter-based generator
 * behind fill_normal.  Shared verbatim by the CPU (C) and CUDA code so both
 * backends draw the same numbers for the same (seed, counter). */
#ifndef NCFM_PHILOX_H
#define NCFM_PHILOX_H

#include <stdint.h>
#ifndef __CUDACC__
#include <math.h>
#endif

#ifdef __CUDACC__
#define NCFM_HD __host__ __device__ __forceinline__
#else
#define NCFM_HD static inline
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

/* The normal deviate of stream position idx: Box-Muller on the first two
 * words of counter idx / 2 gives a pair; even idx take the cosine branch,
 * odd the sine.  Double precision inside keeps CPU and GPU within rounding. */
NCFM_HD float
ncfm_philox_normal (uint64_t key, uint64_t idx)
{
  NcfmPhilox4 r = ncfm_philox4x32_10 (idx >> 1, key);
  double u1 = ((double) r.v[0] + 1.0) * (1.0 / 4294967296.0);   /* (0, 1] */
  double u2 = (double) r.v[1] * (1.0 / 4294967296.0);           /* [0, 1) */
  double rad = sqrt (-2.0 * log (u1));
  double ang = 6.283185307179586476925286766559 * u2;
  return (float) ((idx & 1) ? rad * sin (ang) : rad * cos (ang));
}

/* Both deviates of pair @pair (stream positions 2 pair and 2 pair + 1), each
 * bit for bit what ncfm_philox_normal() gives for its position, for half the
 * Philox rounds, logarithms and square roots. */
NCFM_HD void
ncfm_philox_normal_pair (uint64_t key, uint64_t pair, float *even, float *odd)
{
  NcfmPhilox4 r = ncfm_philox4x32_10 (pair, key);
  double u1 = ((double) r.v[0] + 1.0) * (1.0 / 4294967296.0);
  double u2 = (double) r.v[1] * (1.0 / 4294967296.0);
  double rad = sqrt (-2.0 * log (u1));
  double ang = 6.283185307179586476925286766559 * u2;
  *even = (float) (rad * cos (ang));
  *odd = (float) (rad * sin (ang));
}

#endif
