/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d.cu: 2-D convolution (CUDA; twin of cpu/conv2d.c).
 *
 * im2col + cuBLAS SGEMM over chunks of `nb` images (as many as fit the
 * scratch budget).  With K = c_in*kh*kw, P = h_out*w_out and L = nb*P, the
 * chunk's col is row-major [K, L] (column j = image j/P, pixel j%P), and
 *   forward:  y_b[c_out, P]  = w[c_out, K] . col[:, bP:(b+1)P]   (strided batched)
 *   dx:       dcol[:, bP..]  = w^T . dy_b                        (strided batched), col2im
 *   dw:       dw[c_out, K]  += dyg[c_out, L] . col^T             (one GEMM, dyg gathered)
 * cuBLAS is column-major: a row-major [R, C] matrix with leading dimension
 * ld is, to cuBLAS, the C x R matrix with the same ld, so every product
 * C = A . B is issued as C^T = B^T . A^T with the operands swapped.
 */
#include "common.cuh"

/* Scratch for one chunk (col, plus the gathered dy in backward). */
#define CONV_SCRATCH_BUDGET ((size_t) 512 << 20)

static __global__ void
im2col_kernel (size_t count, const float *x, float *col, int c_in, int h_in, int w_in,
    int kh, int kw, int stride, int pad, int h_out, int w_out, int L)
{
  const int p = h_out * w_out;
  GRID_STRIDE (i, count) {
    const int j = (int) (i % L), k = (int) (i / L);
    const int b = j / p, pix = j % p, oh = pix / w_out, ow = pix % w_out;
    const int c = k / (kh * kw), r = k % (kh * kw), ki = r / kw, kj = r % kw;
    const int ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
    float v = 0.0f;
    if (ih >= 0 && ih < h_in && iw >= 0 && iw < w_in)
      v = x[(((size_t) b * c_in + c) * h_in + ih) * w_in + iw];
    col[i] = v;
  }
}

/* dx (one thread per input element) = sum of the dcol entries that read it:
 * a gather, so no atomics and a deterministic order. */
static __global__ void
col2im_kernel (size_t count, const float *dcol, float *dx, int c_in, int h_in, int w_in,
    int kh, int kw, int stride, int pad, int h_out, int w_out, int L)
{
  const int p = h_out * w_out;
  GRID_STRIDE (i, count) {
    const int iw = (int) (i % w_in), ih = (int) ((i / w_in) % h_in);
    const int c = (int) ((i / ((size_t) w_in * h_in)) % c_in);
    const int b = (int) (i / ((size_t) w_in * h_in * c_in));
    float sum = 0.0f;
    for (int ki = 0; ki < kh; ki++) {
      const int th = ih + pad - ki;
      if (th < 0 || th % stride)
        continue;
      const int oh = th / stride;
      if (oh >= h_out)
        continue;
      for (int kj = 0; kj < kw; kj++) {
        const int tw = iw + pad - kj;
        if (tw < 0 || tw % stride)
          continue;
        const int ow = tw / stride;
        if (ow >= w_out)
          continue;
        const size_t k = ((size_t) c * kh + ki) * kw + kj;
        sum += dcol[k * L + (size_t) b * p + oh * w_out + ow];
      }
    }
    dx[i] = sum;
  }
}

/* dyg[co, b*P + q] = dy[b, co, q] for the chunk. */
static __global__ void
gather_dy_kernel (size_t count, const float *dy, float *dyg, int c_out, int p, int L)
{
  GRID_STRIDE (i, count) {
    const int j = (int) (i % L), co = (int) (i / L);
    const int b = j / p, q = j % p;
    dyg[i] = dy[((size_t) b * c_out + co) * p + q];
  }
}

static __global__ void
add_bias_kernel (size_t count, float *y, const float *bias, int c_out, int p)
{
  GRID_STRIDE (i, count) y[i] += bias[(i / p) % c_out];
}

/* One block per output channel; a fixed-order tree reduction. */
static __global__ void
dbias_kernel (const float *dy, float *dbias, int n, int c_out, int p)
{
  __shared__ float part[256];
  const int co = blockIdx.x;
  const size_t total = (size_t) n * p;
  float sum = 0.0f;
  for (size_t t = threadIdx.x; t < total; t += blockDim.x) {
    const size_t b = t / p, q = t % p;
    sum += dy[(b * c_out + co) * p + q];
  }
  part[threadIdx.x] = sum;
  __syncthreads ();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if ((int) threadIdx.x < half)
      part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads ();
  }
  if (threadIdx.x == 0)
    dbias[co] = part[0];
}

/* Images per chunk so that `floats_per_image` * nb fits the scratch budget. */
static int
chunk_images (int n, size_t floats_per_image)
{
  size_t nb = CONV_SCRATCH_BUDGET / (floats_per_image * sizeof (float));
  if (nb < 1)
    nb = 1;
  return nb < (size_t) n ? (int) nb : n;
}

static void
launch_im2col (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, float *col,
    int k, int L)
{
  const size_t count = (size_t) k * L;
  LAUNCH_1D (im2col_kernel, count, x, col, s->c_in, s->h_in, s->w_in, s->kernel_h,
      s->kernel_w, s->stride, s->pad, ncfm_conv2d_h_out (s), ncfm_conv2d_w_out (s), L);
}

void
ncfm_cuda_conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float *y)
{
  const int k = s->c_in * s->kernel_h * s->kernel_w;
  const int p = ncfm_conv2d_h_out (s) * ncfm_conv2d_w_out (s);
  if (s->n <= 0 || p <= 0)
    return;
  const size_t x_img = (size_t) s->c_in * s->h_in * s->w_in, y_img = (size_t) s->c_out * p;
  const int nb = chunk_images (s->n, (size_t) k * p);
  float *col = (float *) ncfm_backend_scratch (be, sizeof (float) * k * (size_t) nb * p);
  cublasHandle_t h = ncfm_cuda_cublas (be);
  const float one = 1.0f, zero = 0.0f;

  for (int img0 = 0; img0 < s->n; img0 += nb) {
    const int cnt = s->n - img0 < nb ? s->n - img0 : nb, L = cnt * p;
    launch_im2col (be, s, x + img0 * x_img, col, k, L);
    /* per image b: y_b^T (P x c_out) = col_b^T (P x K, ld L) . w^T (K x c_out, ld K) */
    CUBLAS_CHECK (cublasSgemmStridedBatched (h, CUBLAS_OP_N, CUBLAS_OP_N, p, s->c_out, k,
        &one, col, L, p, w, k, 0, &zero, y + img0 * y_img, p, (long long) y_img, cnt));
  }
  if (bias) {
    const size_t count = (size_t) s->n * y_img;
    LAUNCH_1D (add_bias_kernel, count, y, bias, s->c_out, p);
  }
}

/* conv2d into a temporary, then the epilogue kernel (norm.cu) */
void
ncfm_cuda_conv_block_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float eps, const float *gamma, const float *beta,
    float *y)
{
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s);
  if (s->n <= 0 || ho <= 0 || wo <= 0)
    return;
  const size_t bytes = sizeof (float) * s->n * s->c_out * ho * wo;
  float *out = (float *) ncfm_cuda_alloc (be, bytes);
  if (!out) {
    fprintf (stderr, "ncfm: out of CUDA memory allocating %zu bytes for a conv block\n", bytes);
    abort ();
  }
  ncfm_cuda_conv2d_forward (be, s, x, w, bias, out);
  ncfm_cuda_norm_relu_pool (be, s->n, s->c_out, ho, wo, eps, out, gamma, beta, y);
  ncfm_cuda_free (be, out);   /* stream-ordered, or after a synchronisation */
}

void
ncfm_cuda_conv2d_backward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
  const int k = s->c_in * s->kernel_h * s->kernel_w;
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s), p = ho * wo;
  const size_t x_img = (size_t) s->c_in * s->h_in * s->w_in, y_img = (size_t) s->c_out * p;
  cudaStream_t stream = ncfm_cuda_stream (be);

  if (dbias) {
    if (s->n > 0 && p > 0) {
      dbias_kernel<<<s->c_out, 256, 0, stream>>> (dy, dbias, s->n, s->c_out, p);
      CUDA_CHECK_LAUNCH ();
    } else {
      CUDA_CHECK (cudaMemsetAsync (dbias, 0, sizeof (float) * s->c_out, stream));
    }
  }
  if (!dx && !dw)
    return;
  if (s->n <= 0 || p <= 0) {
    if (dx)
      CUDA_CHECK (cudaMemsetAsync (dx, 0, sizeof (float) * s->n * x_img, stream));
    if (dw)
      CUDA_CHECK (cudaMemsetAsync (dw, 0, sizeof (float) * s->c_out * k, stream));
    return;
  }

  /* col [K, L] (reused as dcol for dx) and, for dw, dyg [c_out, L] */
  const size_t per_image = (size_t) k * p + (dw ? (size_t) s->c_out * p : 0);
  const int nb = chunk_images (s->n, per_image);
  float *col = (float *) ncfm_backend_scratch (be, sizeof (float) * per_image * nb);
  float *dyg = col + (size_t) k * nb * p;
  cublasHandle_t h = ncfm_cuda_cublas (be);
  const float one = 1.0f, zero = 0.0f;

  for (int img0 = 0; img0 < s->n; img0 += nb) {
    const int cnt = s->n - img0 < nb ? s->n - img0 : nb, L = cnt * p;
    const float *dy_chunk = dy + img0 * y_img;
    if (dw) {
      launch_im2col (be, s, x + img0 * x_img, col, k, L);
      const size_t count = (size_t) s->c_out * L;
      LAUNCH_1D (gather_dy_kernel, count, dy_chunk, dyg, s->c_out, p, L);
      /* dw^T (K x c_out, ld K) = col^T^T . dyg^T: col is L x K (ld L) to
       * cuBLAS, transposed; dyg is L x c_out (ld L) */
      const float *beta = img0 == 0 ? &zero : &one;
      CUBLAS_CHECK (cublasSgemm (h, CUBLAS_OP_T, CUBLAS_OP_N, k, s->c_out, L,
          &one, col, L, dyg, L, beta, dw, k));
    }
    if (dx) {
      /* per image b: dcol_b^T (P x K, ld L) = dy_b^T (P x c_out, ld P) . w (c_out x K):
       * w is K x c_out (ld K) to cuBLAS, transposed */
      CUBLAS_CHECK (cublasSgemmStridedBatched (h, CUBLAS_OP_N, CUBLAS_OP_T, p, k, s->c_out,
          &one, dy_chunk, p, (long long) y_img, w, k, 0, &zero, col, L, p, cnt));
      const size_t count = (size_t) cnt * x_img;
      LAUNCH_1D (col2im_kernel, count, col, dx + img0 * x_img, s->c_in, s->h_in, s->w_in,
          s->kernel_h, s->kernel_w, s->stride, s->pad, ho, wo, L);
    }
  }
}
