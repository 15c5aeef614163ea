/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optim.cu: AdamW and SGD(momentum) updates (CUDA; twin of cpu/optim.c).
 * The per-step scalars are computed on the host exactly as the CPU does, and
 * the _rn intrinsics keep nvcc from fusing multiply-adds, so both backends
 * round the same operations in the same order. */
#include "common.cuh"

#include <cmath>

static __global__ void
adamw_kernel (size_t count, float *param, const float *grad, float *exp_avg,
    float *exp_avg_sq, float decay, float beta1, float one_m_b1, float beta2,
    float one_m_b2, float bc2_sqrt, float eps, float neg_step_size)
{
  GRID_STRIDE (i, count) {
    const float g = grad[i];
    const float p = __fmul_rn (param[i], decay);
    const float m = __fadd_rn (__fmul_rn (exp_avg[i], beta1), __fmul_rn (one_m_b1, g));
    const float v = __fadd_rn (__fmul_rn (exp_avg_sq[i], beta2),
        __fmul_rn (__fmul_rn (one_m_b2, g), g));
    const float denom = __fadd_rn (__fdiv_rn (__fsqrt_rn (v), bc2_sqrt), eps);
    param[i] = __fadd_rn (p, __fdiv_rn (__fmul_rn (neg_step_size, m), denom));
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
  }
}

static __global__ void
sgd_kernel (size_t count, float *param, const float *grad, float *momentum_buf,
    float neg_lr, float momentum, float weight_decay)
{
  GRID_STRIDE (i, count) {
    float d = grad[i];
    if (weight_decay != 0.0f)
      d = __fadd_rn (d, __fmul_rn (weight_decay, param[i]));
    if (momentum != 0.0f) {
      d = __fadd_rn (__fmul_rn (momentum_buf[i], momentum), d);
      momentum_buf[i] = d;
    }
    param[i] = __fadd_rn (param[i], __fmul_rn (neg_lr, d));
  }
}

void
ncfm_cuda_adamw_step (NcfmBackend *be, size_t count, float *param, const float *grad,
    float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps,
    float weight_decay, int step)
{
  const float decay = (float) (1.0 - (double) lr * weight_decay);
  const float one_m_b1 = (float) (1.0 - beta1), one_m_b2 = (float) (1.0 - beta2);
  const float neg_step_size = (float) (-(double) lr / (1.0 - std::pow ((double) beta1, step)));
  const float bc2_sqrt = (float) std::sqrt (1.0 - std::pow ((double) beta2, step));
  LAUNCH_1D (adamw_kernel, count, param, grad, exp_avg, exp_avg_sq, decay, beta1, one_m_b1,
      beta2, one_m_b2, bc2_sqrt, eps, neg_step_size);
}

void
ncfm_cuda_sgd_step (NcfmBackend *be, size_t count, float *param, const float *grad,
    float *momentum_buf, float lr, float momentum, float weight_decay)
{
  LAUNCH_1D (sgd_kernel, count, param, grad, momentum_buf, -lr, momentum, weight_decay);
}
