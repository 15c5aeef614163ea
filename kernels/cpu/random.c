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
#pragma omp parallel for schedule(static) if (count > 16384)
  for (size_t i = 0; i < count; i++)
    x[i] = stddev * ncfm_philox_normal (seed, offset + i);
}
