/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cpu-ops.h: the CPU implementation of every op of NcfmBackendOps
 * (documented in ../ncfm-backend.h), one family per file in kernels/cpu/. */
#ifndef NCFM_CPU_OPS_H
#define NCFM_CPU_OPS_H

#include "../ncfm-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* memory (backend-cpu) */
void *ncfm_cpu_alloc (NcfmBackend *be, size_t bytes);
void ncfm_cpu_free (NcfmBackend *be, void *ptr);
void ncfm_cpu_upload (NcfmBackend *be, void *dst, const void *host_src, size_t bytes);
void ncfm_cpu_download (NcfmBackend *be, void *host_dst, const void *src, size_t bytes);
void ncfm_cpu_copy (NcfmBackend *be, void *dst, const void *src, size_t bytes);
void ncfm_cpu_synchronize (NcfmBackend *be);
/* elementwise */
void ncfm_cpu_fill (NcfmBackend *be, size_t count, float value, float *x);
void ncfm_cpu_axpby (NcfmBackend *be, size_t count, float a, const float *x, float b, float *y);
void ncfm_cpu_clamp (NcfmBackend *be, size_t count, float lo, float hi, float *x);
void ncfm_cpu_scale_rows (NcfmBackend *be, int rows, int cols, const float *scale, float *x);
/* conv2d */
void ncfm_cpu_conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *bias, float *y);
void ncfm_cpu_conv2d_backward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias);
void ncfm_cpu_conv_block_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w, const float *bias, float eps, const float *gamma, const float *beta, float *y);
/* norm */
void ncfm_cpu_groupnorm_forward (NcfmBackend *be, int n, int c, int hw, int groups, float eps, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd);
void ncfm_cpu_groupnorm_backward (NcfmBackend *be, int n, int c, int hw, int groups, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta);
void ncfm_cpu_batchnorm_forward_train (NcfmBackend *be, int n, int c, int hw, float eps, float momentum, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd, float *running_mean, float *running_var);
void ncfm_cpu_batchnorm_forward_eval (NcfmBackend *be, int n, int c, int hw, float eps, const float *x, const float *gamma, const float *beta, const float *running_mean, const float *running_var, float *y);
void ncfm_cpu_batchnorm_backward (NcfmBackend *be, int n, int c, int hw, const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma, float *dbeta);
/* the statistics and the affine map of one GroupNorm group, shared with
 * the fused conv block (conv2d.c) so that it normalises bit for bit alike */
void ncfm_cpu_norm_stats (const float *x, size_t m, float eps, float *mean, float *rstd);
void ncfm_cpu_norm_affine (const float *x, float *y, size_t m, float mean, float scale, float shift);
/* activation */
void ncfm_cpu_leaky_relu_forward (NcfmBackend *be, size_t count, float slope, const float *x, float *y);
void ncfm_cpu_leaky_relu_backward (NcfmBackend *be, size_t count, float slope, const float *x_or_y, const float *dy, float *dx);
void ncfm_cpu_tanh_forward (NcfmBackend *be, size_t count, const float *x, float *y);
void ncfm_cpu_tanh_backward (NcfmBackend *be, size_t count, const float *y, const float *dy, float *dx);
/* pool */
void ncfm_cpu_avgpool2x2_forward (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y);
void ncfm_cpu_avgpool2x2_backward (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx);
/* linear */
void ncfm_cpu_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *b, float *y);
void ncfm_cpu_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db);
/* loss */
void ncfm_cpu_cross_entropy_forward (NcfmBackend *be, int n, int k, const float *logits, const int32_t *labels, const float *soft_targets, float *probs, float *loss);
void ncfm_cpu_cross_entropy_backward (NcfmBackend *be, int n, int k, const float *probs, const int32_t *labels, const float *soft_targets, float *dlogits);
/* l2norm */
void ncfm_cpu_l2norm_rows_forward (NcfmBackend *be, int n, int d, float eps, const float *x, float *y, float *norms);
void ncfm_cpu_l2norm_rows_backward (NcfmBackend *be, int n, int d, float eps, const float *y, const float *norms, const float *dy, float *dx);
/* resize */
void ncfm_cpu_resize_bilinear_forward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *x, float *y);
void ncfm_cpu_resize_bilinear_backward (NcfmBackend *be, int n, int c, int h_in, int w_in, int h_out, int w_out, const float *dy, float *dx);
/* random */
void ncfm_cpu_fill_normal (NcfmBackend *be, size_t count, uint64_t seed, uint64_t offset, float stddev, float *x);
/* sorf */
void ncfm_cpu_sorf_forward (NcfmBackend *be, int n, int d, int m, int p, const float *signs, const float *scale, const float *x, float *phase);
void ncfm_cpu_sorf_backward (NcfmBackend *be, int n, int d, int m, int p, const float *signs, const float *scale, const float *dphase, float *dx);
/* cf */
void ncfm_cpu_cf_accumulate (NcfmBackend *be, int n, int m, int k, const float *phase, const int32_t *labels, float *sum_cos, float *sum_sin);
void ncfm_cpu_cf_backward_weights (NcfmBackend *be, int n, int m, int k, const int32_t *labels, const float *g_re, const float *g_im, const float *scale, float *phase_to_w);
void ncfm_cpu_ncfd_forward_backward (NcfmBackend *be, int k, int m, float alpha, float beta, float scale, const float *re_r, const float *im_r, const float *re_s, const float *im_s, float *loss, float *g_re_s, float *g_im_s, float *g_re_r, float *g_im_r);
void ncfm_cpu_mmd_forward_backward (NcfmBackend *be, int n_r, int n_s, int d, const float *x_r, const float *x_s, float *loss, float *g_s, float *g_r);
/* image */
void ncfm_cpu_u8_to_f32 (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y);
void ncfm_cpu_channel_affine (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a, const float *x, float *y);
void ncfm_cpu_tiles_split (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x, float *y);
void ncfm_cpu_tiles_merge (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y, float *x);
/* dsa */
void ncfm_cpu_dsa_brightness (NcfmBackend *be, int n, int chw, const float *delta, const float *x, float *y);
void ncfm_cpu_dsa_saturation (NcfmBackend *be, int n, int c, int hw, const float *factor, const float *x, float *y);
void ncfm_cpu_dsa_contrast (NcfmBackend *be, int n, int chw, const float *factor, const float *x, float *y);
void ncfm_cpu_dsa_translate (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift, int sign, const float *x, float *y);
void ncfm_cpu_dsa_cutout (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box, const float *x, float *y);
void ncfm_cpu_dsa_flip (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip, const float *x, float *y);
void ncfm_cpu_dsa_affine_forward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *x, float *y);
void ncfm_cpu_dsa_affine_backward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *dy, float *dx);
void ncfm_cpu_cutmix (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm, const int32_t *box, const float *x, float *y);
/* optim */
void ncfm_cpu_adamw_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps, float weight_decay, int step);
void ncfm_cpu_sgd_step (NcfmBackend *be, size_t count, float *param, const float *grad, float *momentum_buf, float lr, float momentum, float weight_decay);

#ifdef __cplusplus
}
#endif
#endif
