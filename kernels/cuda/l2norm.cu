/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* l2norm: STUB, to be implemented. */
#include "cuda-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_l2norm_rows_forward (NcfmBackend *be, int n, int d, float eps, const float *x, float *y, float *norms)
{
  fprintf (stderr, "ncfm: cuda l2norm_rows_forward not implemented\n");
  abort ();
}

void ncfm_cuda_l2norm_rows_backward (NcfmBackend *be, int n, int d, float eps, const float *y, const float *norms, const float *dy, float *dx)
{
  fprintf (stderr, "ncfm: cuda l2norm_rows_backward not implemented\n");
  abort ();
}
