/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* random.c: normal random numbers from Philox4x32-10 (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

#include "../philox.h"

void
ncfm_cpu_fill_normal (NcfmBackend *be, size_t count, uint64_t seed, uint64_t offset, float stddev,
    float *x)
{
  (void) be;
  if (count == 0)
    return;
  /* whole Box-Muller pairs: one Philox call and one log per two values (a
   * Gaussian t of 4096 x 2048 is drawn every step), 8 pairs to a vector
   * (Philox's 32x32 -> 64 products are vpmuludq, the log and sin/cos plain
   * float arithmetic); the odd first and last positions alone */
  size_t head = (offset & 1) ? 1 : 0;
  if (head)
    x[0] = stddev * ncfm_philox_normal (seed, offset);
  const size_t pairs = (count - head) / 2;
  const uint64_t first_pair = (offset + head) >> 1;
#pragma omp parallel for simd schedule(static) if (pairs > 8192)
  for (size_t p = 0; p < pairs; p++) {
    float even, odd;
    ncfm_philox_normal_pair (seed, first_pair + p, &even, &odd);
    x[head + 2 * p] = stddev * even;
    x[head + 2 * p + 1] = stddev * odd;
  }
  if (head + 2 * pairs < count)
    x[count - 1] = stddev * ncfm_philox_normal (seed, offset + count - 1);
}
