/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d-direct.c: direct stride-1 convolution for layers with few input
 * channels (the ConvNet's first layer, 3 -> 128 at 32x32).
 *
 * There im2col + SGEMM spends more time around the GEMM than in it: the
 * GEMM is thin (K = c_in kh kw = 27), OpenBLAS packs and zeroes for it, and
 * the [c_out, h_out w_out] result (512 KiB an image) leaves L1/L2 before the
 * fused block (norm, ReLU, pool) reads it back.  Here each image is copied
 * once into a zero-padded buffer, then every output row is computed for
 * CO_BLOCK channels at once, 16 pixels (two 8-float vectors) at a time, all
 * taps summed in registers, and the block's CO_BLOCK planes go through the
 * fused epilogue while they are still in L1.
 *
 * Arithmetic (the same on every path of this file): each output is
 *   fmaf (w[t], x[t], ... fmaf (w[0], x[0], 0.0f)) + bias
 * over the taps t in (ci, ki, kj) order, so the AVX2 kernel and the plain C
 * one give the same bits.
 */
#include "conv2d-private.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define HAVE_AVX2_FMA 1
#endif

/* Output channels per block and pixels per row chunk: 6 x 2 vectors is 12
 * accumulators + 2 inputs + 1 broadcast weight, within the 16 AVX2
 * registers, and 8 loads per 12 FMAs keeps the FMA units the bottleneck. */
#define CO_BLOCK 6
#define CHUNK 16

typedef struct {
  int c_in, kh, kw;
  int hp, wp;         /* padded input plane: h_out + kh - 1 rows of wp floats */
} Padded;

/* xp [c_in, hp, wp] = x [c_in, h_in, w_in] shifted by pad, zeros around. */
static void
pad_image (const NcfmConv2dShape *s, const Padded *pd, const float *x, float *xp)
{
  memset (xp, 0, sizeof (float) * pd->c_in * pd->hp * pd->wp);
  for (int c = 0; c < s->c_in; c++) {
    for (int ih = 0; ih < s->h_in; ih++) {
      const int r = ih + s->pad;
      if (r < 0 || r >= pd->hp)
        continue;
      /* columns iw with 0 <= iw + pad < wp */
      int lo = -s->pad > 0 ? -s->pad : 0;
      int hi = pd->wp - s->pad < s->w_in ? pd->wp - s->pad : s->w_in;
      if (hi > lo)
        memcpy (xp + ((size_t) c * pd->hp + r) * pd->wp + lo + s->pad,
            x + ((size_t) c * s->h_in + ih) * s->w_in + lo, sizeof (float) * (hi - lo));
    }
  }
}

/* dst[c][0 .. CHUNK) = the CHUNK outputs of channel c from xp's row oh,
 * column q0, with weights wc[c] ([c_in, kh, kw]) and bias b[c]. */
static void
chunk_kernel (const Padded *pd, const float *xp, int oh, int q0, const float *const *wc,
    const float *b, float *const *dst)
{
#ifdef HAVE_AVX2_FMA
  /* named accumulators: GCC keeps an array of them in registers but also
   * stores it to the stack on every tap */
#define ZERO(c) __m256 a##c##0 = _mm256_setzero_ps (), a##c##1 = a##c##0;
#define TAP(c) do { \
    const __m256 wv = _mm256_broadcast_ss (wc[c] + t); \
    a##c##0 = _mm256_fmadd_ps (wv, x0, a##c##0); \
    a##c##1 = _mm256_fmadd_ps (wv, x1, a##c##1); \
  } while (0)
#define STORE(c) do { \
    const __m256 bv = _mm256_set1_ps (b[c]); \
    _mm256_storeu_ps (dst[c], _mm256_add_ps (a##c##0, bv)); \
    _mm256_storeu_ps (dst[c] + 8, _mm256_add_ps (a##c##1, bv)); \
  } while (0)
  _Static_assert (CO_BLOCK == 6 && CHUNK == 16, "the AVX2 kernel is written for 6 x 16");
  ZERO (0) ZERO (1) ZERO (2) ZERO (3) ZERO (4) ZERO (5)
  int t = 0;
  for (int ci = 0; ci < pd->c_in; ci++) {
    for (int ki = 0; ki < pd->kh; ki++) {
      const float *row = xp + ((size_t) ci * pd->hp + oh + ki) * pd->wp + q0;
      for (int kj = 0; kj < pd->kw; kj++, t++) {
        const __m256 x0 = _mm256_loadu_ps (row + kj), x1 = _mm256_loadu_ps (row + kj + 8);
        TAP (0); TAP (1); TAP (2); TAP (3); TAP (4); TAP (5);
      }
    }
  }
  STORE (0); STORE (1); STORE (2); STORE (3); STORE (4); STORE (5);
#undef ZERO
#undef TAP
#undef STORE
#else
  float acc[CO_BLOCK][CHUNK] = { { 0.0f } };
  int t = 0;
  for (int ci = 0; ci < pd->c_in; ci++) {
    for (int ki = 0; ki < pd->kh; ki++) {
      const float *row = xp + ((size_t) ci * pd->hp + oh + ki) * pd->wp + q0;
      for (int kj = 0; kj < pd->kw; kj++, t++)
        for (int c = 0; c < CO_BLOCK; c++)
          for (int q = 0; q < CHUNK; q++)
            acc[c][q] = fmaf (wc[c][t], row[kj + q], acc[c][q]);
    }
  }
  for (int c = 0; c < CO_BLOCK; c++)
    for (int q = 0; q < CHUNK; q++)
      dst[c][q] = acc[c][q] + b[c];
#endif
}

int
ncfm_cpu_conv2d_direct_supported (const NcfmConv2dShape *s)
{
  return s->stride == 1 && ncfm_conv2d_h_out (s) > 0 && ncfm_conv2d_w_out (s) > 0;
}

void
ncfm_cpu_conv2d_direct (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float *y, const NcfmCpuConvBlock *blk)
{
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s);
  const int chunks = (wo + CHUNK - 1) / CHUNK;   /* per output row */
  const Padded pd = { .c_in = s->c_in, .kh = s->kernel_h, .kw = s->kernel_w,
    .hp = ho + s->kernel_h - 1, .wp = chunks * CHUNK + s->kernel_w - 1 };
  const size_t p = (size_t) ho * wo, x_img = (size_t) s->c_in * s->h_in * s->w_in;
  const size_t taps = (size_t) s->c_in * s->kernel_h * s->kernel_w;
  /* per thread: the padded image, and with blk the block's planes; rounded
   * to whole cache lines */
  const size_t xp_size = ((size_t) pd.c_in * pd.hp * pd.wp + 15) / 16 * 16;
  const size_t per_thread = xp_size + (blk ? (CO_BLOCK * p + 15) / 16 * 16 : 0);
#ifdef _OPENMP
  const int nthreads = omp_get_max_threads ();
#else
  const int nthreads = 1;
#endif
  float *scratch = ncfm_backend_scratch (be, sizeof (float) * per_thread * nthreads);

#pragma omp parallel for schedule(static)
  for (int img = 0; img < s->n; img++) {
#ifdef _OPENMP
    float *xp = scratch + per_thread * omp_get_thread_num ();
#else
    float *xp = scratch;
#endif
    pad_image (s, &pd, x + img * x_img, xp);
    for (int co0 = 0; co0 < s->c_out; co0 += CO_BLOCK) {
      const int nc = s->c_out - co0 < CO_BLOCK ? s->c_out - co0 : CO_BLOCK;
      const float *wc[CO_BLOCK];
      float *plane[CO_BLOCK];
      float b[CO_BLOCK];
      for (int c = 0; c < CO_BLOCK; c++) {
        const int co = co0 + (c < nc ? c : nc - 1);   /* the tail block repeats its last channel */
        wc[c] = w + co * taps;
        b[c] = bias ? bias[co] : 0.0f;
        plane[c] = blk ? xp + xp_size + c * p : y + ((size_t) img * s->c_out + co) * p;
      }
      for (int oh = 0; oh < ho; oh++) {
        for (int q0 = 0; q0 < wo; q0 += CHUNK) {
          float *dst[CO_BLOCK];
          for (int c = 0; c < CO_BLOCK; c++)
            dst[c] = plane[c] + (size_t) oh * wo + q0;
          if (wo - q0 >= CHUNK) {
            chunk_kernel (&pd, xp, oh, q0, wc, b, dst);
            continue;
          }
          /* the row's last, partial chunk: through a buffer */
          float part[CO_BLOCK][CHUNK];
          float *pp[CO_BLOCK];
          for (int c = 0; c < CO_BLOCK; c++)
            pp[c] = part[c];
          chunk_kernel (&pd, xp, oh, q0, wc, b, pp);
          for (int c = 0; c < nc; c++)
            memcpy (dst[c], part[c], sizeof (float) * (wo - q0));
        }
      }
      for (int c = 0; blk && c < nc; c++)
        ncfm_cpu_conv_block_plane (blk, img, co0 + c, plane[c], ho, wo);
    }
  }
}
