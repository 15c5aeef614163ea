/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* norm: STUB, to be implemented. */
#include "cpu-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cpu_groupnorm_forward (NcfmBackend *be, int n, int c, int hw, int groups, float eps, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd)
{
  fprintf (stderr, "ncfm: cpu groupnorm_forward not implemented\n");
  abort ();
}

void ncfm_cpu_groupnorm_backward (NcfmBackend *be, int n, int c, int hw, int groups, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
  fprintf (stderr, "ncfm: cpu groupnorm_backward not implemented\n");
  abort ();
}

void ncfm_cpu_batchnorm_forward_train (NcfmBackend *be, int n, int c, int hw, float eps, float momentum, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd, float *running_mean, float *running_var)
{
  fprintf (stderr, "ncfm: cpu batchnorm_forward_train not implemented\n");
  abort ();
}

void ncfm_cpu_batchnorm_forward_eval (NcfmBackend *be, int n, int c, int hw, float eps, const float *x, const float *gamma, const float *beta, const float *running_mean, const float *running_var, float *y)
{
  fprintf (stderr, "ncfm: cpu batchnorm_forward_eval not implemented\n");
  abort ();
}

void ncfm_cpu_batchnorm_backward (NcfmBackend *be, int n, int c, int hw, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
  fprintf (stderr, "ncfm: cpu batchnorm_backward not implemented\n");
  abort ();
}
