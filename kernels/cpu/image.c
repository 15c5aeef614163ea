/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image: STUB, to be implemented. */
#include "cpu-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cpu_u8_to_f32 (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y)
{
  fprintf (stderr, "ncfm: cpu u8_to_f32 not implemented\n");
  abort ();
}

void ncfm_cpu_channel_affine (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cpu channel_affine not implemented\n");
  abort ();
}

void ncfm_cpu_tiles_split (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cpu tiles_split not implemented\n");
  abort ();
}

void ncfm_cpu_tiles_merge (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y, float *x)
{
  fprintf (stderr, "ncfm: cpu tiles_merge not implemented\n");
  abort ();
}
