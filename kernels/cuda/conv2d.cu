/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d: STUB, to be implemented. */
#include "cuda-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *bias, float *y)
{
  fprintf (stderr, "ncfm: cuda conv2d_forward not implemented\n");
  abort ();
}

void ncfm_cuda_conv2d_backward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
  fprintf (stderr, "ncfm: cuda conv2d_backward not implemented\n");
  abort ();
}
