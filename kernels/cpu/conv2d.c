/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d.c: 2-D convolution, forward and backward (CPU reference).
 *
 * im2col + SGEMM.  Images are processed in groups of `g` (enough that a group
 * gives the GEMM at least ~256 columns, so the small late layers do not run
 * GEMMs too thin to be efficient); groups are spread over the OpenMP threads
 * and every thread calls a single-threaded SGEMM on its own slice of the
 * backend scratch, so im2col/col2im/scatter run in parallel too.  OpenBLAS
 * itself is single-threaded in this backend (cpu-blas.h).  On 2 cores a
 * single GEMM with 2 OpenBLAS threads measured no faster than 2 OpenMP x 1
 * OpenBLAS.
 *
 * Per group, with K = c_in*kh*kw, P = h_out*w_out and N = g*P:
 *   col  [K, N]      im2col of the group's images (column j = image j/P, pixel j%P)
 *   forward:  out[c_out, N] = w[c_out, K] . col          (then scattered to NCHW + bias)
 *   backward: dyg[c_out, N] gathered from dy
 *             dw_partial  += dyg . col^T                 (one partial per thread, summed)
 *             dcol[K, N]   = w^T . dyg                   (col2im into dx)
 *
 * Fast path: 3x3 stride-1 layers with at least WINO_MIN_CHANNELS input and
 * output channels run the forward and the dx of backward (itself a 3x3
 * stride-1 convolution of dy by the flipped, transposed kernel, pad 2 - pad)
 * through Winograd F(2x2,3x3) (conv2d-winograd.c): 2.25x fewer GEMM flops.
 * dw and dbias always take the im2col path.  The forward of stride-1 layers
 * with fewer than WINO_MIN_CHANNELS input channels (the first layer) runs a
 * direct convolution (conv2d-direct.c).  The environment variable
 * NCFM_CONV_ALGO=im2col|winograd|direct|auto (read on every call; unset or
 * anything else: auto) forces a path, for tests and A/B benchmarks;
 * "winograd" and "direct" still fall back to im2col for geometries they do
 * not handle, and "direct" applies to the forward only.
 */
#include "conv2d-private.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
  int k;          /* rows of col: c_in * kh * kw */
  int p;          /* pixels per output image */
  int g;          /* images per group */
  int groups;     /* ceil (n / g) */
  size_t ld;      /* columns of col: g * p */
} ConvPlan;

static ConvPlan
conv_plan (const NcfmConv2dShape *s)
{
  ConvPlan pl;
  pl.k = s->c_in * s->kernel_h * s->kernel_w;
  pl.p = ncfm_conv2d_h_out (s) * ncfm_conv2d_w_out (s);
  pl.g = (256 + pl.p - 1) / pl.p;
  if (pl.g > s->n)
    pl.g = s->n;
  if (pl.g < 1)
    pl.g = 1;
  pl.groups = (s->n + pl.g - 1) / pl.g;
  pl.ld = (size_t) pl.g * pl.p;
  return pl;
}

static int
max_threads (void)
{
#ifdef _OPENMP
  return omp_get_max_threads ();
#else
  return 1;
#endif
}

/* Output columns ow in [lo, hi) read an input column inside [0, w_in) for
 * kernel column kj (same formula for rows). */
static void
valid_range (int w_out, int w_in, int stride, int pad, int kj, int *lo, int *hi)
{
  int a = pad - kj;      /* ow * stride >= a */
  int b = w_in + pad - kj;  /* ow * stride < b */
  int l = a <= 0 ? 0 : (a + stride - 1) / stride;
  int h = b <= 0 ? 0 : (b + stride - 1) / stride;
  if (h > w_out)
    h = w_out;
  if (l > h)
    l = h;
  *lo = l;
  *hi = h;
}

/* col[row, off + pixel] for one image x [c_in, h_in, w_in]; rows are ld apart. */
static void
im2col (const NcfmConv2dShape *s, const float *x, float *col, size_t ld)
{
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s);
  const int kh = s->kernel_h, kw = s->kernel_w, st = s->stride;
  for (int c = 0; c < s->c_in; c++) {
    const float *xc = x + (size_t) c * s->h_in * s->w_in;
    for (int ki = 0; ki < kh; ki++) {
      for (int kj = 0; kj < kw; kj++) {
        float *row = col + ((size_t) (c * kh + ki) * kw + kj) * ld;
        int lo, hi;
        valid_range (wo, s->w_in, st, s->pad, kj, &lo, &hi);
        for (int oh = 0; oh < ho; oh++) {
          float *dst = row + (size_t) oh * wo;
          int ih = oh * st - s->pad + ki;
          if (ih < 0 || ih >= s->h_in) {
            memset (dst, 0, sizeof (float) * wo);
            continue;
          }
          const float *src = xc + (size_t) ih * s->w_in - s->pad + kj;
          for (int ow = 0; ow < lo; ow++)
            dst[ow] = 0.0f;
          if (st == 1)
            memcpy (dst + lo, src + lo, sizeof (float) * (hi - lo));
          else
            for (int ow = lo; ow < hi; ow++)
              dst[ow] = src[ow * st];
          for (int ow = hi; ow < wo; ow++)
            dst[ow] = 0.0f;
        }
      }
    }
  }
}

/* dx [c_in, h_in, w_in] = col2im (dcol) for one image (overwrites dx). */
static void
col2im (const NcfmConv2dShape *s, const float *dcol, size_t ld, float *dx)
{
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s);
  const int kh = s->kernel_h, kw = s->kernel_w, st = s->stride;
  memset (dx, 0, sizeof (float) * s->c_in * s->h_in * s->w_in);
  for (int c = 0; c < s->c_in; c++) {
    float *dxc = dx + (size_t) c * s->h_in * s->w_in;
    for (int ki = 0; ki < kh; ki++) {
      for (int kj = 0; kj < kw; kj++) {
        const float *row = dcol + ((size_t) (c * kh + ki) * kw + kj) * ld;
        int lo, hi;
        valid_range (wo, s->w_in, st, s->pad, kj, &lo, &hi);
        for (int oh = 0; oh < ho; oh++) {
          int ih = oh * st - s->pad + ki;
          if (ih < 0 || ih >= s->h_in)
            continue;
          const float *src = row + (size_t) oh * wo;
          float *dst = dxc + (size_t) ih * s->w_in - s->pad + kj;
          if (st == 1) {
#pragma omp simd
            for (int ow = lo; ow < hi; ow++)
              dst[ow] += src[ow];
          } else {
            for (int ow = lo; ow < hi; ow++)
              dst[ow * st] += src[ow];
          }
        }
      }
    }
  }
}

static int
thread_id (void)
{
#ifdef _OPENMP
  return omp_get_thread_num ();
#else
  return 0;
#endif
}

static int
team_size (void)
{
#ifdef _OPENMP
  return omp_get_num_threads ();
#else
  return 1;
#endif
}

/* Narrower layers (the 1- or 3-channel first layer, its dx) skip Winograd:
 * their GEMMs are too thin for the 16 Winograd GEMMs to pay for the
 * transforms.  Their forward runs the direct convolution instead. */
#define WINO_MIN_CHANNELS 16

/* NCFM_CONV_ALGO is `name` */
static int
algo_is (const char *name)
{
  const char *algo = getenv ("NCFM_CONV_ALGO");
  return algo && strcmp (algo, name) == 0;
}

static int
use_winograd (const NcfmConv2dShape *s)
{
  if (s->kernel_h != 3 || s->kernel_w != 3 || s->stride != 1
      || ncfm_conv2d_h_out (s) < 1 || ncfm_conv2d_w_out (s) < 1
      || algo_is ("im2col") || algo_is ("direct"))
    return 0;
  return algo_is ("winograd")
      || (s->c_in >= WINO_MIN_CHANNELS && s->c_out >= WINO_MIN_CHANNELS);
}

/* forward only (a direct dx would be a convolution with c_out inputs) */
static int
use_direct (const NcfmConv2dShape *s)
{
  if (!ncfm_cpu_conv2d_direct_supported (s) || algo_is ("im2col") || algo_is ("winograd"))
    return 0;
  return algo_is ("direct") || s->c_in < WINO_MIN_CHANNELS;
}

/* blk NULL: y gets the convolution; else every output plane goes through
 * blk (conv2d-private.h) from the thread's own out, and y is unused. */
static void
conv2d_forward_im2col (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float *y, const NcfmCpuConvBlock *blk)
{
  const ConvPlan pl = conv_plan (s);
  const size_t x_img = (size_t) s->c_in * s->h_in * s->w_in;
  const size_t y_img = (size_t) s->c_out * pl.p;
  const int own_out = pl.g > 1 || blk;
  /* per thread: col [k, ld] and, when not writing into y, out [c_out, ld] */
  const size_t per_thread = (size_t) pl.k * pl.ld + (own_out ? (size_t) s->c_out * pl.ld : 0);
  float *scratch = ncfm_backend_scratch (be, sizeof (float) * per_thread * max_threads ());

#pragma omp parallel
  for (int grp = thread_id (), nth = team_size (); grp < pl.groups; grp += nth) {
    const int tid = thread_id ();
    const int img0 = grp * pl.g, cnt = s->n - img0 < pl.g ? s->n - img0 : pl.g;
    float *col = scratch + per_thread * tid;
    float *out = own_out ? col + (size_t) pl.k * pl.ld : y + img0 * y_img;
    for (int j = 0; j < cnt; j++)
      im2col (s, x + (img0 + j) * x_img, col + (size_t) j * pl.p, pl.ld);
    const int ncols = cnt * pl.p;
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, ncols, pl.k,
        1.0f, w, pl.k, col, (int) pl.ld, 0.0f, out, (int) pl.ld);
    for (int j = 0; j < cnt; j++) {
      for (int co = 0; co < s->c_out; co++) {
        float *src = out + (size_t) co * pl.ld + (size_t) j * pl.p;
        float *dst = blk ? src : y + (img0 + j) * y_img + (size_t) co * pl.p;
        const float b = bias ? bias[co] : 0.0f;
        if (src == dst && !bias && !blk)
          continue;
#pragma omp simd
        for (int q = 0; q < pl.p; q++)
          dst[q] = src[q] + b;
        if (blk)
          ncfm_cpu_conv_block_plane (blk, img0 + j, co, dst, ncfm_conv2d_h_out (s),
              ncfm_conv2d_w_out (s));
      }
    }
  }

}

static void
conv2d_backward_im2col (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
  const ConvPlan pl = conv_plan (s);
  const size_t x_img = (size_t) s->c_in * s->h_in * s->w_in;
  const size_t y_img = (size_t) s->c_out * pl.p;
  const size_t w_size = (size_t) s->c_out * pl.k;

  if (!dx && !dw && !dbias)
    return;

  /* per thread: dyg [c_out, ld], col or dcol [k, ld], dw partial [c_out, k],
   * dbias partial (double) [c_out]; rounded to whole cache lines, which also
   * keeps the doubles aligned */
  const int nthreads = max_threads ();
  /* every part starts on a 64-byte boundary (16 floats): the double partials
   * must be 8-byte aligned, and whole cache lines avoid false sharing */
#define ROUND16(v) (((v) + 15) / 16 * 16)
  const size_t dw_off = ROUND16 ((size_t) (s->c_out + pl.k) * pl.ld);
  const size_t db_off = ROUND16 (dw_off + (dw ? w_size : 0));
  const size_t per_thread = ROUND16 (db_off + (dbias ? 2 * (size_t) s->c_out : 0));
#undef ROUND16
  float *scratch = ncfm_backend_scratch (be, sizeof (float) * per_thread * nthreads);
  int used[nthreads];       /* whether thread t wrote its dw partial */
  memset (used, 0, sizeof used);
  int team = 1;

#pragma omp parallel
  {
    const int tid = thread_id (), nth = team_size ();
    float *dyg = scratch + per_thread * tid;
    float *col = dyg + (size_t) s->c_out * pl.ld;
    float *dw_part = dyg + dw_off;
    double *db_part = (double *) (dyg + db_off);
    if (tid == 0)
      team = nth;
    if (dbias)
      for (int co = 0; co < s->c_out; co++)
        db_part[co] = 0.0;

    for (int grp = tid; grp < pl.groups; grp += nth) {
      const int img0 = grp * pl.g, cnt = s->n - img0 < pl.g ? s->n - img0 : pl.g;
      const int ncols = cnt * pl.p;
      const float *dyp = dy + img0 * y_img;
      int ldd = (int) pl.p;     /* a single image's dy is already [c_out, p] */
      if (cnt > 1 && (dx || dw)) {
        for (int co = 0; co < s->c_out; co++)
          for (int j = 0; j < cnt; j++)
            memcpy (dyg + (size_t) co * pl.ld + (size_t) j * pl.p,
                dyp + j * y_img + (size_t) co * pl.p, sizeof (float) * pl.p);
        dyp = dyg;
        ldd = (int) pl.ld;
      }
      /* dbias here, while the group's dy is in cache: float sums per image
       * row, double across rows */
      for (int co = 0; dbias && co < s->c_out; co++) {
        for (int j = 0; j < cnt; j++) {
          const float *d = dy + (img0 + j) * y_img + (size_t) co * pl.p;
          float part = 0.0f;
#pragma omp simd reduction(+:part)
          for (int q = 0; q < pl.p; q++)
            part += d[q];
          db_part[co] += part;
        }
      }
      if (dw) {
        for (int j = 0; j < cnt; j++)
          im2col (s, x + (img0 + j) * x_img, col + (size_t) j * pl.p, pl.ld);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, s->c_out, pl.k, ncols,
            1.0f, dyp, ldd, col, (int) pl.ld, used[tid] ? 1.0f : 0.0f, dw_part, pl.k);
        used[tid] = 1;
      }
      if (dx) {
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, pl.k, ncols, s->c_out,
            1.0f, w, pl.k, dyp, ldd, 0.0f, col, (int) pl.ld);
        for (int j = 0; j < cnt; j++)
          col2im (s, col + (size_t) j * pl.p, pl.ld, dx + (img0 + j) * x_img);
      }
    }
  }

  if (dbias) {
    for (int co = 0; co < s->c_out; co++) {
      double sum = 0.0;
      for (int t = 0; t < team; t++)
        sum += ((const double *) (scratch + per_thread * t + db_off))[co];
      dbias[co] = (float) sum;
    }
  }
  if (dw) {
#pragma omp parallel for
    for (size_t i = 0; i < w_size; i++) {
      float sum = 0.0f;
      for (int t = 0; t < team; t++)
        if (used[t])
          sum += scratch[per_thread * t + dw_off + i];
      dw[i] = sum;
    }
  }
}

/* conv2d_forward, or with blk the fused block */
static void
conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x, const float *w,
    const float *bias, float *y, const NcfmCpuConvBlock *blk)
{
  if (use_winograd (s))
    ncfm_cpu_conv2d_winograd (be, s->n, s->c_in, s->h_in, s->w_in, s->c_out,
        ncfm_conv2d_h_out (s), ncfm_conv2d_w_out (s), s->pad, x, w, 0, bias, y, blk);
  else if (use_direct (s))
    ncfm_cpu_conv2d_direct (be, s, x, w, bias, y, blk);
  else
    conv2d_forward_im2col (be, s, x, w, bias, y, blk);
}

void
ncfm_cpu_conv2d_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float *y)
{
  conv2d_forward (be, s, x, w, bias, y, NULL);
}

/* The fused block's epilogue on one plane: the arithmetic of
 * groupnorm_forward (its very helpers), leaky_relu_forward with slope 0 and
 * avgpool2x2_forward, so the block equals the four ops bit for bit. */
void
ncfm_cpu_conv_block_plane (const NcfmCpuConvBlock *blk, int img, int co, float *plane, int h,
    int w)
{
  const size_t m = (size_t) h * w;
  float mean = 0.0f, scale = 1.0f, shift = 0.0f;
  if (blk->gamma) {
    float rstd;
    ncfm_cpu_norm_stats (plane, m, blk->eps, &mean, &rstd);
    scale = blk->gamma[co] * rstd;
    shift = blk->beta[co];
  }
  /* one pass from the plane to the pooled output (the plane is scratch, and
   * only whole 2x2 windows are read), each value through exactly the
   * arithmetic of ncfm_cpu_norm_affine, then leaky_relu_forward with slope 0:
   * pos + 0 * neg is v when v > 0, else +0 (also for -0 and NaN), this
   * select.  Without a norm the affine is the identity (v - 0) 1 + 0, which
   * differs from v only in turning -0 into +0, and the ReLU maps both to +0;
   * no condition in the loop, so it vectorises. */
  const int ho = h / 2, wo = w / 2;
  float *dst = blk->y + ((size_t) img * blk->c_out + co) * ho * wo;
  for (int i = 0; i < ho; i++) {
    const float *r0 = plane + (size_t) (2 * i) * w, *r1 = r0 + w;
    float *d = dst + (size_t) i * wo;
#pragma omp simd
    for (int j = 0; j < wo; j++) {
      float v[4] = { r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1] };
      for (int q = 0; q < 4; q++) {
        const float a = (v[q] - mean) * scale + shift;
        v[q] = a > 0.0f ? a : 0.0f;
      }
      d[j] = (v[0] + v[1] + v[2] + v[3]) * 0.25f;
    }
  }
}

void
ncfm_cpu_conv_block_forward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float eps, const float *gamma, const float *beta,
    float *y)
{
  const NcfmCpuConvBlock blk = { .c_out = s->c_out, .eps = eps, .gamma = gamma, .beta = beta,
    .y = y };
  if (s->n > 0 && ncfm_conv2d_h_out (s) > 0 && ncfm_conv2d_w_out (s) > 0)
    conv2d_forward (be, s, x, w, bias, NULL, &blk);
}

void
ncfm_cpu_conv2d_backward (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
  if (!dx || !use_winograd (s)) {
    conv2d_backward_im2col (be, s, x, w, dy, dx, dw, dbias);
    return;
  }
  if (dw || dbias)
    conv2d_backward_im2col (be, s, x, w, dy, NULL, dw, dbias);
  /* dx = dy (x) flip (w)^T: the input pixel ih gets dy[oh] w[ih - oh + pad],
   * i.e. a 3x3 convolution of dy with pad 2 - pad */
  ncfm_cpu_conv2d_winograd (be, s->n, s->c_out, ncfm_conv2d_h_out (s), ncfm_conv2d_w_out (s),
      s->c_in, s->h_in, s->w_in, 2 - s->pad, dy, w, 1, NULL, dx, NULL);
}
