/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hadamard.h: the fast Walsh-Hadamard transform behind structured
 * frequencies, shared by the CPU op (cpu/sorf.c) and the host-side draw of
 * libncfm (ncfm-sampler-sorf.c), so t and the op's x t^T use one transform. */
#ifndef NCFM_HADAMARD_H
#define NCFM_HADAMARD_H

/* The smallest power of two >= n (n >= 1). */
static inline unsigned
ncfm_hadamard_size (unsigned n)
{
  unsigned p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

/* y <- y H in place: H the unnormalised p x p Walsh-Hadamard matrix in
 * Sylvester order (H[i][j] = (-1)^popcount(i & j)), p a power of two, in
 * p log2 p additions. */
static inline void
ncfm_hadamard_rows (float *y, unsigned p)
{
  for (unsigned h = 1; h < p; h <<= 1)
    for (unsigned i = 0; i < p; i += 2 * h)
      for (unsigned j = i; j < i + h; j++) {
        float a = y[j], b = y[j + h];
        y[j] = a + b;
        y[j + h] = a - b;
      }
}

#endif
