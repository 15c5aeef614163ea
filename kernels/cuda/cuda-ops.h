/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cuda-ops.h: the CUDA implementation of every op of NcfmBackendOps
 * (documented in ../ncfm-backend.h), one family per file in kernels/cuda/. */
#ifndef NCFM_CUDA_OPS_H
#define NCFM_CUDA_OPS_H

#include "../ncfm-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* memory (backend-cuda) */
void *ncfm_cuda_alloc (NcfmBackend *be, size_t bytes);
void ncfm_cuda_free (NcfmBackend *be, void *ptr);
void ncfm_cuda_upload (NcfmBackend *be, void *dst, const void *host_src, size_t bytes);
void ncfm_cuda_download (NcfmBackend *be, void *host_dst, const void *src, size_t bytes);
void ncfm_cuda_copy (NcfmBackend *be, void *dst, const void *src, size_t bytes);
void ncfm_cuda_synchronize (NcfmBackend *be);
/* elementwise */
void ncfm_cuda_fill (NcfmBackend *be, size_t count, float value, float *x);
void ncfm_cuda_axpby (NcfmBackend *be, size_t count, float a, const float *x, float b, float *y);
void ncfm_cuda_clamp (NcfmBackend *be, size_t count, float lo, float hi, float *x);
void ncfm_cuda_scale_rows (NcfmBackend *be, int rows, int cols, const float *scale, float *x);
/* conv2d */
void ncfm_cuda_conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *bias, float *y);
void ncfm_cuda_conv2d_backward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias);
void ncfm_cuda_conv_block_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *bias, float eps, const float *gamma, const float *beta, float *y);
/* norm */
void ncfm_cuda_groupnorm_forward (NcfmBackend *be, int n, int c, int hw, int groups, float eps, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd);
void ncfm_cuda_groupnorm_backward (NcfmBackend *be, int n, int c, int hw, int groups, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta);
/* the conv block's epilogue (norm.cu), used by ncfm_cuda_conv_block_forward */
void ncfm_cuda_norm_relu_pool (NcfmBackend *be, int n, int c, int h, int w, float eps, const float *x, const float *gamma, const float *beta, float *y);
void ncfm_cuda_batchnorm_forward_train (NcfmBackend *be, int n, int c, int hw, float eps, float momentum, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd, float *running_mean, float *running_var);
void ncfm_cuda_batchnorm_forward_eval (NcfmBackend *be, int n, int c, int hw, float eps, const float *x, const float *gamma, const float *beta, const float *running_mean, const float *running_var, float *y);
void ncfm_cuda_batchnorm_backward (NcfmBackend *be, int n, int c, int hw, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta);
/* activation */
void ncfm_cuda_leaky_relu_forward (NcfmBackend *be, size_t count, float slope, const float *x, float *y);
void ncfm_cuda_leaky_relu_backward (NcfmBackend *be, size_t count, float slope, const float *x_or_y, const float *dy, float *dx);
void ncfm_cuda_tanh_forward (NcfmBackend *be, size_t count, const float *x, float *y);
void ncfm_cuda_tanh_backward (NcfmBackend *be, size_t count, const float *y, const float *dy, float *dx);
/* pool */
void ncfm_cuda_avgpool2x2_forward (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y);
void ncfm_cuda_avgpool2x2_backward (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx);
/* linear */
void ncfm_cuda_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *b, float *y);
void ncfm_cuda_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db);
/* loss */
void ncfm_cuda_cross_entropy_forward (NcfmBackend *be, int n, int k, const float *logits, const int32_t *labels, const float *soft_targets, float *probs, float *loss);
void ncfm_cuda_cross_entropy_backward (NcfmBackend *be, int n, int k, const float *probs, const int32_t *labels, const float *soft_targets, float *dlogits);
/* l2norm */
void ncfm_cuda_l2norm_rows_forward (NcfmBackend *be, int n, int d, float eps, const float *x, float *y, float *norms);
void ncfm_cuda_l2norm_rows_backward (NcfmBackend *be, int n, int d, float eps, const float *y, const float *norms, const float *dy, float *dx);
/* resize */
void ncfm_cuda_resize_bilinear_forward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *x, float *y);
void ncfm_cuda_resize_bilinear_backward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *dy, float *dx);
/* random */
void ncfm_cuda_fill_normal (NcfmBackend *be, size_t count, uint64_t seed, uint64_t offset, float stddev, float *x);
/* sorf */
void ncfm_cuda_sorf_forward (NcfmBackend *be, int n, int d, int m, int p, const float *signs, const float *scale, const float *x, float *phase);
void ncfm_cuda_sorf_backward (NcfmBackend *be, int n, int d, int m, int p, const float *signs, const float *scale, const float *dphase, float *dx);
/* cf */
void ncfm_cuda_cf_accumulate (NcfmBackend *be, int n, int m, int k, const float *phase, const int32_t *labels, float *sum_cos, float *sum_sin);
void ncfm_cuda_cf_backward_weights (NcfmBackend *be, int n, int m, int k, const int32_t *labels, const float *g_re, const float *g_im, const float *scale, float *phase_to_w);
void ncfm_cuda_ncfd_forward_backward (NcfmBackend *be, int k, int m, float alpha, float beta, float scale, const float *re_r, const float *im_r, const float *re_s, const float *im_s, float *loss, float *g_re_s, float *g_im_s, float *g_re_r, float *g_im_r);
void ncfm_cuda_mmd_forward_backward (NcfmBackend *be, int n_r, int n_s, int d, const float *x_r, const float *x_s, float *loss, float *g_s, float *g_r);
/* image */
void ncfm_cuda_u8_to_f32 (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y);
void ncfm_cuda_channel_affine (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a, const float *x, float *y);
void ncfm_cuda_tiles_split (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x, float *y);
void ncfm_cuda_tiles_merge (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y, float *x);
/* dsa */
void ncfm_cuda_dsa_brightness (NcfmBackend *be, int n, int chw, const float *delta, const float *x, float *y);
void ncfm_cuda_dsa_saturation (NcfmBackend *be, int n, int c, int hw, const float *factor, const float *x, float *y);
void ncfm_cuda_dsa_contrast (NcfmBackend *be, int n, int chw, const float *factor, const float *x, float *y);
void ncfm_cuda_dsa_translate (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift, int sign, const float *x, float *y);
void ncfm_cuda_dsa_cutout (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box, const float *x, float *y);
void ncfm_cuda_dsa_flip (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip, const float *x, float *y);
void ncfm_cuda_dsa_affine_forward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *x, float *y);
void ncfm_cuda_dsa_affine_backward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *dy, float *dx);
void ncfm_cuda_cutmix (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm, const int32_t *box, const float *x, float *y);
/* optim */
void ncfm_cuda_adamw_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps, float weight_decay, int step);
void ncfm_cuda_sgd_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *momentum_buf, float lr, float momentum, float weight_decay);

#ifdef __cplusplus
}
#endif
#endif
