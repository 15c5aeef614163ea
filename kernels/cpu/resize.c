/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resize: STUB, to be implemented. */
#include "cpu-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cpu_resize_bilinear_forward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cpu resize_bilinear_forward not implemented\n");
  abort ();
}

void ncfm_cpu_resize_bilinear_backward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *dy, float *dx)
{
  fprintf (stderr, "ncfm: cpu resize_bilinear_backward not implemented\n");
  abort ();
}
