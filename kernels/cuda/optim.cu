/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optim: STUB, to be implemented. */
#include "cuda-ops.h"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_adamw_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps, float weight_decay, int step)
{
  fprintf (stderr, "ncfm: cuda adamw_step not implemented\n");
  abort ();
}

void ncfm_cuda_sgd_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *momentum_buf, float lr, float momentum, float weight_decay)
{
  fprintf (stderr, "ncfm: cuda sgd_step not implemented\n");
  abort ();
}
