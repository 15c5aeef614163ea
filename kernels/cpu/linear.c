/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linear: STUB, to be implemented. */
#include "cpu-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cpu_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *b, float *y)
{
  fprintf (stderr, "ncfm: cpu linear_forward not implemented\n");
  abort ();
}

void ncfm_cpu_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db)
{
  fprintf (stderr, "ncfm: cpu linear_backward not implemented\n");
  abort ();
}
