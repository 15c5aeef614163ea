/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linear: STUB, to be implemented. */
#include "cuda-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *b, float *y)
{
  fprintf (stderr, "ncfm: cuda linear_forward not implemented\n");
  abort ();
}

void ncfm_cuda_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db)
{
  fprintf (stderr, "ncfm: cuda linear_backward not implemented\n");
  abort ();
}
