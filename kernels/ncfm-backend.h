/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-backend.h: the compute backends of gst-ncfm.
 *
 * A backend is an instance (CPU, or one CUDA device with its stream, cuBLAS
 * handle and workspace) plus a table of operations.  Every operation works on
 * float32 tensors that live in the backend's memory (host memory for the CPU
 * backend, device memory for CUDA), laid out contiguously in NCHW / row-major
 * order.  The CPU implementation of each op is the reference; the CUDA one
 * must agree with it (tests/kernels/cuda-parity*).
 *
 * Conventions shared by all ops:
 *  - pointers are backend memory; "NULL" is allowed only where documented;
 *  - backward ops OVERWRITE their gradient outputs (they never accumulate);
 *  - shapes are validated by callers (libncfm); ops assume they are right;
 *  - a backend instance is used by one thread at a time (it owns scratch
 *    memory and, on CUDA, a stream);
 *  - ops are asynchronous on CUDA: call synchronize() or download() (which
 *    synchronizes) before reading results on the host.
 *
 * No GLib here: kernels/ is plain C11 (+ OpenMP, cblas) and CUDA.
 */
#ifndef NCFM_BACKEND_H
#define NCFM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NCFM_DEVICE_CPU = 0,
  NCFM_DEVICE_CUDA = 1,
} NcfmDeviceType;

typedef struct NcfmBackend NcfmBackend;
typedef struct NcfmBackendOps NcfmBackendOps;

/* Per-channel y = x * scale[c] + shift[c] (passed by value, so no upload). */
#define NCFM_MAX_CHANNELS 4
typedef struct {
  float scale[NCFM_MAX_CHANNELS];
  float shift[NCFM_MAX_CHANNELS];
} NcfmChannelAffine;

/* 2-D convolution geometry (PyTorch Conv2d, dilation 1, groups 1). */
typedef struct {
  int n, c_in, h_in, w_in;
  int c_out, kernel_h, kernel_w, stride, pad;
} NcfmConv2dShape;

static inline int ncfm_conv2d_h_out (const NcfmConv2dShape *s)
{ return (s->h_in + 2 * s->pad - s->kernel_h) / s->stride + 1; }
static inline int ncfm_conv2d_w_out (const NcfmConv2dShape *s)
{ return (s->w_in + 2 * s->pad - s->kernel_w) / s->stride + 1; }

struct NcfmBackendOps {
  /* ---- memory ---- */
  void *(*alloc) (NcfmBackend *be, size_t bytes);            /* zero-filled; NULL on failure */
  void (*free) (NcfmBackend *be, void *ptr);
  void (*upload) (NcfmBackend *be, void *dst, const void *host_src, size_t bytes);
  void (*download) (NcfmBackend *be, void *host_dst, const void *src, size_t bytes); /* synchronizes */
  void (*copy) (NcfmBackend *be, void *dst, const void *src, size_t bytes);
  void (*synchronize) (NcfmBackend *be);

  /* ---- elementwise (kernels/{cpu,cuda}/elementwise) ---- */
  void (*fill) (NcfmBackend *be, size_t count, float value, float *x);
  /* y = a * x + b * y */
  void (*axpby) (NcfmBackend *be, size_t count, float a, const float *x, float b, float *y);
  /* x = min(max(x, lo), hi) in place */
  void (*clamp) (NcfmBackend *be, size_t count, float lo, float hi, float *x);
  /* x[r, :] *= scale[r] for a row-major [rows, cols] x; scale in backend memory */
  void (*scale_rows) (NcfmBackend *be, int rows, int cols, const float *scale, float *x);

  /* ---- conv2d (kernels/{cpu,cuda}/conv2d) ----
   * x [n,c_in,h_in,w_in], w [c_out,c_in,kh,kw], bias [c_out] or NULL,
   * y [n,c_out,h_out,w_out].  Backward: any of dx, dw, dbias may be NULL. */
  void (*conv2d_forward) (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
      const float *w, const float *bias, float *y);
  void (*conv2d_backward) (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
      const float *w, const float *dy, float *dx, float *dw, float *dbias);
  /* The ConvNet block for inference, nothing kept for backward: conv2d ->
   * instance norm (groupnorm_forward with groups == c_out, affine gamma/beta;
   * none when gamma is NULL) -> ReLU -> avgpool2x2:
   * y [n, c_out, h_out / 2, w_out / 2].  The same values as those four ops
   * in turn (the CPU: bit for bit); the CPU normalises and pools each
   * group of images while its convolution output is still in cache. */
  void (*conv_block_forward) (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
      const float *w, const float *bias, float eps, const float *gamma, const float *beta,
      float *y);

  /* ---- normalisation (kernels/{cpu,cuda}/norm) ----
   * GroupNorm (PyTorch nn.GroupNorm, affine): x,y [n, c, hw]; groups divides c;
   * saves mean/rstd [n*groups] for backward.  Instance norm = groups == c.
   * Backward (both norms): any of dx, dgamma, dbeta may be NULL. */
  void (*groupnorm_forward) (NcfmBackend *be, int n, int c, int hw, int groups, float eps,
      const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd);
  void (*groupnorm_backward) (NcfmBackend *be, int n, int c, int hw, int groups,
      const float *x, const float *gamma, const float *mean, const float *rstd,
      const float *dy, float *dx, float *dgamma, float *dbeta);
  /* BatchNorm (nn.BatchNorm1d/2d) in training mode: batch statistics over
   * (n, hw) per channel, biased variance for normalising; saves mean/rstd [c];
   * running_mean/running_var (may be NULL) updated as PyTorch does
   * (unbiased variance, r = (1 - momentum) r + momentum * batch). */
  void (*batchnorm_forward_train) (NcfmBackend *be, int n, int c, int hw, float eps,
      float momentum, const float *x, const float *gamma, const float *beta, float *y,
      float *mean, float *rstd, float *running_mean, float *running_var);
  void (*batchnorm_forward_eval) (NcfmBackend *be, int n, int c, int hw, float eps,
      const float *x, const float *gamma, const float *beta, const float *running_mean,
      const float *running_var, float *y);
  void (*batchnorm_backward) (NcfmBackend *be, int n, int c, int hw, const float *x,
      const float *gamma, const float *mean, const float *rstd, const float *dy,
      float *dx, float *dgamma, float *dbeta);

  /* ---- activations (kernels/{cpu,cuda}/activation) ----
   * y = x > 0 ? x : slope * x   (slope 0: ReLU).  May run in place (y == x).
   * Backward takes x or y (same sign for slope >= 0); dx may equal dy. */
  void (*leaky_relu_forward) (NcfmBackend *be, size_t count, float slope, const float *x, float *y);
  void (*leaky_relu_backward) (NcfmBackend *be, size_t count, float slope, const float *x_or_y,
      const float *dy, float *dx);
  /* y = tanh(x); backward from y: dx = dy * (1 - y^2). */
  void (*tanh_forward) (NcfmBackend *be, size_t count, const float *x, float *y);
  void (*tanh_backward) (NcfmBackend *be, size_t count, const float *y, const float *dy, float *dx);

  /* ---- pooling (kernels/{cpu,cuda}/pool): nn.AvgPool2d(2, 2), floor mode ----
   * x [n,c,h,w] -> y [n,c,h/2,w/2]. */
  void (*avgpool2x2_forward) (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y);
  void (*avgpool2x2_backward) (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx);

  /* ---- linear (kernels/{cpu,cuda}/linear): y = x W^T + b ----
   * x [n,in], w [out,in], b [out] or NULL, y [n,out]; dx, dw, db may be NULL. */
  void (*linear_forward) (NcfmBackend *be, int n, int in, int out, const float *x,
      const float *w, const float *b, float *y);
  void (*linear_backward) (NcfmBackend *be, int n, int in, int out, const float *x,
      const float *w, const float *dy, float *dx, float *dw, float *db);

  /* ---- softmax cross-entropy (kernels/{cpu,cuda}/loss) ----
   * logits [n,k]; exactly one of labels (int32 [n], class index) or
   * soft_targets ([n,k] probabilities) is non-NULL.  Writes probs [n,k]
   * (softmax, kept for backward) and loss[0] = mean over the batch of
   * -sum_k target_k log softmax_k.  Backward: dlogits = (probs - target) / n,
   * the gradient of that mean. */
  void (*cross_entropy_forward) (NcfmBackend *be, int n, int k, const float *logits,
      const int32_t *labels, const float *soft_targets, float *probs, float *loss);
  void (*cross_entropy_backward) (NcfmBackend *be, int n, int k, const float *probs,
      const int32_t *labels, const float *soft_targets, float *dlogits);

  /* ---- per-row L2 normalisation (kernels/{cpu,cuda}/l2norm) ----
   * F.normalize(x, dim=1, eps): y = x / max(||x||, eps); saves norms [n] (the
   * unclamped ||x||).  Backward from y and norms. */
  void (*l2norm_rows_forward) (NcfmBackend *be, int n, int d, float eps, const float *x,
      float *y, float *norms);
  void (*l2norm_rows_backward) (NcfmBackend *be, int n, int d, float eps, const float *y,
      const float *norms, const float *dy, float *dx);

  /* ---- bilinear resize (kernels/{cpu,cuda}/resize): F.interpolate(mode=
   * 'bilinear', align_corners=False, antialias=False) ----
   * x [n,c,h_in,w_in] -> y [n,c,h_out,w_out]. */
  void (*resize_bilinear_forward) (NcfmBackend *be, int n, int c, int h_in, int w_in,
      int h_out, int w_out, const float *x, float *y);
  void (*resize_bilinear_backward) (NcfmBackend *be, int n, int c, int h_in, int w_in,
      int h_out, int w_out, const float *dy, float *dx);

  /* ---- random numbers (kernels/{cpu,cuda}/random) ----
   * x[i] ~ N(0, stddev^2), element i drawn from Philox4x32-10 keyed by seed at
   * counter offset + i (kernels/philox.h): the same stream on every backend,
   * and any slice can be regenerated from (seed, offset). */
  void (*fill_normal) (NcfmBackend *be, size_t count, uint64_t seed, uint64_t offset,
      float stddev, float *x);

  /* ---- characteristic functions and the NCFD/MMD objectives (kernels/{cpu,cuda}/cf) ----
   * The phases phase [n, m] = X t^T (X [n, d] features, t [m, d] frequencies)
   * come from linear_forward (n, d, m, X, t, NULL, phase).
   *
   * cf_accumulate ADDS the per-class sums of one batch: for every sample i with
   * c = labels[i] in [0, k) (other labels are skipped),
   *   sum_cos[c, j] += cos(phase[i, j]),  sum_sin[c, j] += sin(phase[i, j]).
   * The empirical CF of class c is (sum_cos, sum_sin)[c] / count_c. */
  void (*cf_accumulate) (NcfmBackend *be, int n, int m, int k, const float *phase,
      const int32_t *labels, float *sum_cos, float *sum_sin);
  /* cf_backward_weights turns phases into the weights of the chain rule, in
   * place: with c = labels[i],
   *   w[i, j] = scale[c] * (-sin(phase[i, j]) g_re[c, j] + cos(phase[i, j]) g_im[c, j])
   * where g_re/g_im [k, m] are dL/dRe(phi_c), dL/dIm(phi_c) and scale[c] is
   * 1 / count_c.  Then dL/dX = w t and dL/dt = w^T X, both from one
   * linear_backward (n, d, m, X, t, w, dX, dt, NULL).  Rows with a label
   * outside [0, k) get w = 0. */
  void (*cf_backward_weights) (NcfmBackend *be, int n, int m, int k, const int32_t *labels,
      const float *g_re, const float *g_im, const float *scale, float *phase_to_w);
  /* NCFD per class c (method card section 3), from CFs re/im [k, m]:
   *   amp = (|phi_r| - |phi_s|)^2,
   *   pha = max(2 (|phi_r| |phi_s| - re_r re_s - im_r im_s), 1e-12),
   *   loss[c] = scale * mean_j sqrt(alpha amp + beta pha)
   * (scale = 300 in the method).  Writes loss [k] and the gradients of
   * sum_c loss[c] wrt the synthetic CF (g_re_s, g_im_s) and the real CF
   * (g_re_r, g_im_r), [k, m] each; either pair may be NULL.  Where the phase
   * term is clamped it contributes no gradient (torch.clamp); where a modulus
   * is 0 its derivative is taken as 0. */
  void (*ncfd_forward_backward) (NcfmBackend *be, int k, int m, float alpha, float beta,
      float scale, const float *re_r, const float *im_r, const float *re_s, const float *im_s,
      float *loss, float *g_re_s, float *g_im_s, float *g_re_r, float *g_im_r);
  /* MMD of mean features (the DM baseline): loss[0] = ||mean_i x_r[i] -
   * mean_i x_s[i]||^2 over rows of x_r [n_r, d] and x_s [n_s, d]; writes
   * g_s [n_s, d] = dL/dx_s and, if non-NULL, g_r [n_r, d] = dL/dx_r. */
  void (*mmd_forward_backward) (NcfmBackend *be, int n_r, int n_s, int d, const float *x_r,
      const float *x_s, float *loss, float *g_s, float *g_r);

  /* ---- structured frequencies (kernels/{cpu,cuda}/sorf) ----
   * t [m, d] in blocks of p rows (p a power of two >= d; the last block may
   * be short): t[b p + r, :] = scale[b p + r] (e_r H D1 H D2 H D3)[:d], H the
   * unnormalised p x p Walsh-Hadamard matrix (Sylvester order), D_l =
   * diag(signs[(3 b + l - 1) p ..]) of +-1; signs [ceil(m / p) * 3 * p].
   * sorf_forward: phase [n, m] = x t^T for x [n, d], in O(n m log p) without
   * t (linear_forward on a materialised t gives the same up to rounding).
   * sorf_backward: dx [n, d] = dphase t, the gradient of <dphase, phase>
   * wrt x (overwritten). */
  void (*sorf_forward) (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
      const float *scale, const float *x, float *phase);
  void (*sorf_backward) (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
      const float *scale, const float *dphase, float *dx);

  /* ---- image data path (kernels/{cpu,cuda}/image) ----
   * u8_to_f32: y[i] = x[i] * scale (x: uint8 in backend memory). */
  void (*u8_to_f32) (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y);
  /* channel_affine: y[i, ch, p] = x[i, ch, p] * a.scale[ch] + a.shift[ch] for x [n, c, hw],
   * c <= NCFM_MAX_CHANNELS; may run in place.  Normalising with the dataset
   * mean/std is scale = 1/std, shift = -mean/std; its backward is scale = 1/std,
   * shift = 0. */
  void (*channel_affine) (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a,
      const float *x, float *y);
  /* Multi-formation tiles: x [n, c, h, w] (h, w divisible by rho) ->
   * y [n * rho * rho, c, h / rho, w / rho], tile t = ty * rho + tx of image i at
   * y[i * rho * rho + t].  tiles_merge is its inverse (and adjoint): y -> x. */
  void (*tiles_split) (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x,
      float *y);
  void (*tiles_merge) (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y,
      float *x);

  /* ---- differentiable siamese augmentation (kernels/{cpu,cuda}/dsa) ----
   * Images x, y [n, c, h, w] float (normalised space).  Per-sample parameters
   * live in backend memory.  Unless stated, y must not alias x.
   * Colour ops are linear in x; saturation, contrast, cutout and flip are
   * self-adjoint (their backward is the same op applied to dy), brightness's
   * backward is the identity, translate's is translate with sign -1. */
  /* y = x + delta[i] (may run in place) */
  void (*dsa_brightness) (NcfmBackend *be, int n, int chw, const float *delta, const float *x,
      float *y);
  /* y = m + (x - m) * factor[i], m = the mean over channels at each pixel (may run in place) */
  void (*dsa_saturation) (NcfmBackend *be, int n, int c, int hw, const float *factor,
      const float *x, float *y);
  /* y = m + (x - m) * factor[i], m = the mean of image i over c, h, w (may run in place) */
  void (*dsa_contrast) (NcfmBackend *be, int n, int chw, const float *factor, const float *x,
      float *y);
  /* y[i, :, r, q] = x[i, :, r - sign * shift[i, 0], q - sign * shift[i, 1]], zero outside */
  void (*dsa_translate) (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift,
      int sign, const float *x, float *y);
  /* y = x with the half-open box [y0, y1) x [x0, x1) of image i zeroed;
   * box [n, 4] = (y0, y1, x0, x1), already clipped to the image (may run in place) */
  void (*dsa_cutout) (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box,
      const float *x, float *y);
  /* y = x flipped left-right where flip[i] != 0, else copied */
  void (*dsa_flip) (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip,
      const float *x, float *y);
  /* F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False),
   * mode='bilinear', padding_mode='zeros', align_corners=False), theta [n, 2, 3];
   * backward: dx (overwritten) from dy. */
  void (*dsa_affine_forward) (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
      const float *x, float *y);
  void (*dsa_affine_backward) (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
      const float *dy, float *dx);
  /* CutMix (forward only): y = x, then the box [y0, y1) x [x0, x1) of image i
   * is taken from image perm[i]; box [4] for the whole batch. */
  void (*cutmix) (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm,
      const int32_t *box, const float *x, float *y);

  /* ---- optimizers (kernels/{cpu,cuda}/optim): PyTorch torch.optim semantics ----
   * AdamW (decoupled weight decay, no amsgrad); step is 1-based. */
  void (*adamw_step) (NcfmBackend *be, size_t count, float *param, const float *grad,
      float *exp_avg, float *exp_avg_sq, float lr, float beta1, float beta2, float eps,
      float weight_decay, int step);
  /* SGD with momentum (dampening 0, nesterov off); momentum_buf zero-initialised
   * (equivalent to PyTorch's first-step copy); may be NULL when momentum == 0. */
  void (*sgd_step) (NcfmBackend *be, size_t count, float *param, const float *grad,
      float *momentum_buf, float lr, float momentum, float weight_decay);
};

struct NcfmBackend {
  const NcfmBackendOps *ops;
  NcfmDeviceType type;
  int device_index;          /* CUDA ordinal; 0 on CPU */
  char name[128];            /* "cpu (2 threads)", "cuda:0 (NVIDIA H100 80GB HBM3)" */
  /* scratch memory owned by the backend, grown on demand (ncfm_backend_scratch) */
  void *scratch;
  size_t scratch_bytes;
  void *impl;                /* backend private state (CUDA: stream, cuBLAS handle) */
  /* frees impl and be itself; NULL means free (be).  CUDA backends get the
   * CUDA module's destructor (backend.c) */
  void (*destroy) (NcfmBackend *be);
  /* memory accounting of alloc/free (scratch included): bytes live now and the
   * high-water mark since creation or ncfm_backend_reset_peak() */
  size_t bytes_in_use, peak_bytes;
  struct NcfmAllocation { void *ptr; size_t bytes; } *live;
  size_t n_live, cap_live;
  /* A race detector for whoever serialises threads around the backend (the
   * NcfmDevice lock): lock_owner is ncfm_backend_thread_token() of the thread
   * holding that lock, or NULL (read and written with __atomic builtins);
   * ncfm_backend_scratch() from any other thread meanwhile calls on_race. */
  void *lock_owner;
  void (*on_race) (NcfmBackend *be);
};

/* Creates a backend from a device spec: "auto", "cpu", "cuda" or "cuda:N".
 * spec NULL means the NCFM_DEVICE environment variable, or "auto" when unset.
 * "auto" takes CUDA only when this build has it, an NVIDIA driver is present
 * and a GPU is usable; it never fails.  An explicit "cuda..." that cannot be
 * honoured returns NULL with a message in err.  why_auto (may be NULL)
 * receives, for "auto", the reason of the choice so callers can log it.
 * "cpu", and "auto" without a driver, never load the CUDA module (see
 * backend-private.h): $NCFM_CUDA_MODULE, when set, is its full path. */
NcfmBackend *ncfm_backend_new (const char *spec, char *err, size_t err_len,
    char *why_auto, size_t why_len);
void ncfm_backend_free (NcfmBackend *be);

/* Scratch memory of at least `bytes` in backend memory, valid until the next
 * call on the same backend.  Aborts if memory is exhausted. */
void *ncfm_backend_scratch (NcfmBackend *be, size_t bytes);
/* A pointer unique to the calling thread (for NcfmBackend.lock_owner). */
void *ncfm_backend_thread_token (void);

/* Called by the backends' alloc/free to keep bytes_in_use / peak_bytes. */
void ncfm_backend_note_alloc (NcfmBackend *be, void *ptr, size_t bytes);
void ncfm_backend_note_free (NcfmBackend *be, void *ptr);
/* Restarts the high-water mark at the current use. */
void ncfm_backend_reset_peak (NcfmBackend *be);

/* 1 when this build includes the CUDA backend (compile-time: the module
 * may still be missing or fail to load). */
int ncfm_backend_have_cuda (void);
/* Number of usable CUDA devices (0 in a build without CUDA, without an NVIDIA
 * driver, when the CUDA module cannot be loaded, or with no GPU).  Loads the
 * module only when a driver is present. */
int ncfm_backend_cuda_device_count (void);

#ifdef __cplusplus
}
#endif
#endif /* NCFM_BACKEND_H */
