/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optim.c: AdamW and SGD(momentum) parameter updates with torch.optim
 * semantics (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

/* torch.optim.AdamW (_single_tensor_adamw, amsgrad off).  The per-step
 * scalars are computed in double as torch does in Python, then rounded to
 * float once; the elementwise part keeps torch's operation order (its CPU
 * addcmul/addcdiv evaluate `self + value * t1 * t2` and `self + value * t1 / t2`
 * left to right):
 *   p *= 1 - lr wd;  m = m b1 + (1 - b1) g;  v = v b2 + (1 - b2) g g;
 *   p += -(lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
void
ncfm_cpu_adamw_step (NcfmBackend *be, size_t count, float *param, const float *grad,
    float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps,
    float weight_decay, int step)
{
  (void) be;
  const float decay = (float) (1.0 - (double) lr * weight_decay);
  const float one_m_b1 = (float) (1.0 - beta1), one_m_b2 = (float) (1.0 - beta2);
  const float neg_step_size = (float) (-(double) lr / (1.0 - pow (beta1, step)));
  const float bc2_sqrt = (float) sqrt (1.0 - pow (beta2, step));

#pragma omp parallel for if (count > 65536)
  for (size_t i = 0; i < count; i++) {
    const float g = grad[i];
    float p = param[i] * decay;
    float m = exp_avg[i] * beta1 + one_m_b1 * g;
    float v = exp_avg_sq[i] * beta2 + one_m_b2 * g * g;
    float denom = sqrtf (v) / bc2_sqrt + eps;
    param[i] = p + neg_step_size * m / denom;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
  }
}

/* torch.optim.SGD (dampening 0, nesterov off): g' = g + wd p;
 * buf = momentum buf + g' (a zero buffer makes the first step torch's
 * clone(g')); p += -lr buf.  With momentum 0 the buffer is never touched. */
void
ncfm_cpu_sgd_step (NcfmBackend *be, size_t count, float *param, const float *grad,
    float *momentum_buf, float lr, float momentum, float weight_decay)
{
  (void) be;
  const float neg_lr = -lr;

#pragma omp parallel for if (count > 65536)
  for (size_t i = 0; i < count; i++) {
    float d = weight_decay != 0.0f ? grad[i] + weight_decay * param[i] : grad[i];
    if (momentum != 0.0f) {
      d = momentum_buf[i] * momentum + d;
      momentum_buf[i] = d;
    }
    param[i] = param[i] + neg_lr * d;
  }
}
