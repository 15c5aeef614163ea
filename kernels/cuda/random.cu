/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* random.cu: normal random numbers from Philox4x32-10 (twin of cpu/random.c). */
#include "common.cuh"
#include "../philox.h"

static __global__ void
fill_normal_kernel (size_t count, uint64_t seed, uint64_t offset, float stddev, float *x)
{
  GRID_STRIDE (i, count) x[i] = stddev * ncfm_philox_normal (seed, offset + i);
}

void
ncfm_cuda_fill_normal (NcfmBackend *be, size_t count, uint64_t seed, uint64_t offset,
    float stddev, float *x)
{
  LAUNCH_1D (fill_normal_kernel, count, seed, offset, stddev, x);
}
