/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pool: STUB, to be implemented. */
#include "cuda-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_avgpool2x2_forward (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda avgpool2x2_forward not implemented\n");
  abort ();
}

void ncfm_cuda_avgpool2x2_backward (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx)
{
  fprintf (stderr, "ncfm: cuda avgpool2x2_backward not implemented\n");
  abort ();
}
