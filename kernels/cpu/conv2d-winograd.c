/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d-winograd.c: 3x3 stride-1 convolution by Winograd F(2x2,3x3)
 * (Lavin & Gray 2015), the fast path of conv2d.c for wide layers.
 *
 * Each 2x2 output tile is A^T [(G g G^T) .* (B^T d B)] A, d the 4x4 input
 * patch, g the 3x3 kernel:
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * Summed over input channels the elementwise product becomes 16 independent
 * GEMMs, M_k [c_out, N] = U_k [c_out, c_in] . V_k [c_in, N], k = 4 r + c the
 * position in the 4x4 transformed tile, N the tiles of a group of images:
 * 16 * c_in * c_out multiply-adds per 4 outputs instead of 36 * c_in * c_out.
 *
 * Work is organised as in the im2col path (conv2d.c): U is built once per
 * call, groups of images (enough for ~WINO_COLS tile columns) go round the
 * OpenMP threads, each thread transforms its group's input into its own
 * slice of the backend scratch, runs 16 single-threaded SGEMMs and the output
 * transform.  Error: see the note in tests/kernels/test-conv2d.c; the
 * transforms' constants are 0, +-1/2 and +-1, so it is a small multiple of
 * the direct sum's. */
#include "conv2d-private.h"

#include <cblas.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* tile columns per group of images: enough for efficient SGEMMs, few enough
 * that a thread's V and M (16 * (c_in + c_out) * N floats) stay near L2/L3 */
#define WINO_COLS 256

#define ROUND16(v) (((v) + 15) / 16 * 16)  /* whole 64-byte lines */

typedef struct {
  int n, c_in, h_in, w_in, c_out, h_out, w_out, pad;
  int th, tw, tiles;     /* tile rows, tile columns, tiles per image */
  int wp;                /* width of a padded input row: 2 * tw + 2 */
  int g, groups;         /* images per group, ceil (n / g) */
  size_t ld;             /* columns of V and M: g * tiles */
  size_t u_size, per_thread, v_off, m_off, rows_off, plane_off;   /* scratch, in floats */
} WinoPlan;

/* U_k [c_out, c_in] (k = 0..15, k-major) = G g G^T for every (co, ci). */
static void
weight_transform (const WinoPlan *p, const float *w, int flipped, int co, float *u)
{
  const size_t kstride = (size_t) p->c_out * p->c_in;
  for (int ci = 0; ci < p->c_in; ci++) {
    float g[3][3], t[4][3];
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++)
        g[a][b] = flipped ? w[((size_t) ci * p->c_out + co) * 9 + (2 - a) * 3 + (2 - b)]
            : w[((size_t) co * p->c_in + ci) * 9 + a * 3 + b];
    for (int b = 0; b < 3; b++) {      /* t = G g */
      t[0][b] = g[0][b];
      t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
      t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
      t[3][b] = g[2][b];
    }
    float *dst = u + (size_t) co * p->c_in + ci;
    for (int r = 0; r < 4; r++) {      /* U = t G^T */
      dst[(4 * r + 0) * kstride] = t[r][0];
      dst[(4 * r + 1) * kstride] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      dst[(4 * r + 2) * kstride] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      dst[(4 * r + 3) * kstride] = t[r][2];
    }
  }
}

/* V_k[., t] = (B^T d B)_k for every tile t of one channel xc [h_in, w_in];
 * v points at the channel's first column of V_0, V_k is k * kstride further.
 * rows: scratch for (2 p->th + 6) rows of p->wp floats. */
static void
input_transform (const WinoPlan *p, const float *xc, float *restrict v, size_t kstride,
    float *restrict rows)
{
  const int wp = p->wp;
  float *restrict e = rows, *restrict d = rows + 4 * (size_t) wp;
  /* padded-row column q reads input column q - pad */
  int lo = p->pad > 0 ? p->pad : 0, hi = p->w_in + p->pad;
  if (hi > wp)
    hi = wp;
  if (hi < 0)
    hi = 0;
  if (lo > hi)
    lo = hi;
  /* the channel, zero-padded, once: (2 th + 2) rows of wp (short rows:
   * plain loops beat memcpy/memset calls) */
  for (int r = 0; r < 2 * p->th + 2; r++) {
    float *dr = d + (size_t) r * wp;
    const int ih = r - p->pad;
    const int l = ih < 0 || ih >= p->h_in ? wp : lo, h = l == wp ? wp : hi;
    for (int q = 0; q < l; q++)
      dr[q] = 0.0f;
    for (int q = l; q < h; q++)
      dr[q] = xc[(size_t) ih * p->w_in + q - p->pad];
    for (int q = h; q < wp; q++)
      dr[q] = 0.0f;
  }
  for (int ty = 0; ty < p->th; ty++) {
    const float *dt = d + (size_t) 2 * ty * wp;
    /* B^T d: rows */
#pragma omp simd
    for (int q = 0; q < wp; q++) {
      e[q] = dt[q] - dt[2 * wp + q];
      e[wp + q] = dt[wp + q] + dt[2 * wp + q];
      e[2 * wp + q] = dt[2 * wp + q] - dt[wp + q];
      e[3 * wp + q] = dt[wp + q] - dt[3 * wp + q];
    }
    /* (B^T d) B: columns */
    float *vt = v + (size_t) ty * p->tw;
    for (int i = 0; i < 4; i++) {
      const float *ei = e + (size_t) i * wp;
      float *v0 = vt + (4 * i) * kstride, *v1 = v0 + kstride;
      float *v2 = v1 + kstride, *v3 = v2 + kstride;
#pragma omp simd
      for (int tx = 0; tx < p->tw; tx++) {
        v0[tx] = ei[2 * tx] - ei[2 * tx + 2];
        v1[tx] = ei[2 * tx + 1] + ei[2 * tx + 2];
        v2[tx] = ei[2 * tx + 2] - ei[2 * tx + 1];
        v3[tx] = ei[2 * tx + 1] - ei[2 * tx + 3];
      }
    }
  }
}

/* yc [h_out, w_out] = A^T M A + b for one output channel of one image;
 * m points at its first column of M_0, M_k is k * kstride further.
 * rows: scratch for 4 * p->tiles floats.  All tiles in one vector loop
 * (the tile rows alone are too short for AVX), then interleaved into yc. */
static void
output_transform (const WinoPlan *p, const float *m, size_t kstride, float b,
    float *restrict yc, float *restrict rows)
{
  const int tw = p->tw, tiles = p->tiles, w_out = p->w_out;
  float *restrict o00 = rows, *restrict o01 = rows + tiles;
  float *restrict o10 = rows + 2 * (size_t) tiles, *restrict o11 = rows + 3 * (size_t) tiles;
#pragma omp simd
  for (int t = 0; t < tiles; t++) {
    float s[2][4];
    for (int c = 0; c < 4; c++) {      /* A^T M: rows */
      const float m0 = m[c * kstride + t], m1 = m[(4 + c) * kstride + t];
      const float m2 = m[(8 + c) * kstride + t], m3 = m[(12 + c) * kstride + t];
      s[0][c] = m0 + m1 + m2;
      s[1][c] = m1 - m2 - m3;
    }
    o00[t] = s[0][0] + s[0][1] + s[0][2] + b;
    o01[t] = s[0][1] - s[0][2] - s[0][3] + b;
    o10[t] = s[1][0] + s[1][1] + s[1][2] + b;
    o11[t] = s[1][1] - s[1][2] - s[1][3] + b;
  }
  const int pairs = w_out / 2;         /* whole tiles across */
  for (int ty = 0; ty < p->th; ty++) {
    const int oh = 2 * ty;
    for (int r = 0; r < 2 && oh + r < p->h_out; r++) {
      const float *e = (r ? o10 : o00) + (size_t) ty * tw, *f = (r ? o11 : o01) + (size_t) ty * tw;
      float *dst = yc + (size_t) (oh + r) * w_out;
      for (int tx = 0; tx < pairs; tx++) {
        dst[2 * tx] = e[tx];
        dst[2 * tx + 1] = f[tx];
      }
      if (w_out & 1)
        dst[w_out - 1] = e[pairs];
    }
  }
}

static WinoPlan
wino_plan (int n, int c_in, int h_in, int w_in, int c_out, int h_out, int w_out, int pad)
{
  WinoPlan p = { .n = n, .c_in = c_in, .h_in = h_in, .w_in = w_in, .c_out = c_out,
    .h_out = h_out, .w_out = w_out, .pad = pad };
  p.th = (h_out + 1) / 2;
  p.tw = (w_out + 1) / 2;
  p.tiles = p.th * p.tw;
  p.wp = 2 * p.tw + 2;
  p.g = (WINO_COLS + p.tiles - 1) / p.tiles;
  if (p.g > n)
    p.g = n;
  if (p.g < 1)
    p.g = 1;
  p.groups = (n + p.g - 1) / p.g;
  p.ld = (size_t) p.g * p.tiles;
  p.u_size = ROUND16 (16 * (size_t) c_out * c_in);
  p.v_off = 0;
  p.m_off = ROUND16 (16 * (size_t) c_in * p.ld);
  p.rows_off = p.m_off + ROUND16 (16 * (size_t) c_out * p.ld);
  /* rows: a padded input channel and 4 transformed rows, or 4 output planes */
  const size_t in_rows = (2 * (size_t) p.th + 6) * p.wp, out_rows = 4 * (size_t) p.tiles;
  const size_t rows = in_rows > out_rows ? in_rows : out_rows;
  p.plane_off = p.rows_off + ROUND16 (rows);
  /* plane: one output channel of one image, for the fused block's epilogue */
  p.per_thread = p.plane_off + ROUND16 ((size_t) h_out * w_out);
  return p;
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

void
ncfm_cpu_conv2d_winograd (NcfmBackend *be, int n, int c_in, int h_in, int w_in,
    int c_out, int h_out, int w_out, int pad, const float *x, const float *w, int flipped,
    const float *bias, float *y, const NcfmCpuConvBlock *blk)
{
  const WinoPlan p = wino_plan (n, c_in, h_in, w_in, c_out, h_out, w_out, pad);
  const size_t x_img = (size_t) c_in * h_in * w_in, y_img = (size_t) c_out * h_out * w_out;
  const size_t y_chan = (size_t) h_out * w_out;
  float *scratch = ncfm_backend_scratch (be,
      sizeof (float) * (p.u_size + p.per_thread * max_threads ()));
  float *u = scratch;

#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int co = 0; co < c_out; co++)
      weight_transform (&p, w, flipped, co, u);
    /* (implicit barrier: U is complete) */

    const int tid = thread_id (), nth = team_size ();
    float *v = scratch + p.u_size + p.per_thread * tid + p.v_off;
    float *m = scratch + p.u_size + p.per_thread * tid + p.m_off;
    float *rows = scratch + p.u_size + p.per_thread * tid + p.rows_off;
    float *plane = scratch + p.u_size + p.per_thread * tid + p.plane_off;
    const size_t v_k = (size_t) c_in * p.ld, m_k = (size_t) c_out * p.ld;
    for (int grp = tid; grp < p.groups; grp += nth) {
      const int img0 = grp * p.g, cnt = n - img0 < p.g ? n - img0 : p.g;
      const int ncols = cnt * p.tiles;
      for (int j = 0; j < cnt; j++)
        for (int ci = 0; ci < c_in; ci++)
          input_transform (&p, x + (img0 + j) * x_img + (size_t) ci * h_in * w_in,
              v + (size_t) ci * p.ld + (size_t) j * p.tiles, v_k, rows);
      for (int k = 0; k < 16; k++)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, c_out, ncols, c_in,
            1.0f, u + (size_t) k * c_out * c_in, c_in, v + k * v_k, (int) p.ld,
            0.0f, m + k * m_k, (int) p.ld);
      for (int j = 0; j < cnt; j++)
        for (int co = 0; co < c_out; co++) {
          float *yc = blk ? plane : y + (img0 + j) * y_img + (size_t) co * y_chan;
          output_transform (&p, m + (size_t) co * p.ld + (size_t) j * p.tiles, m_k,
              bias ? bias[co] : 0.0f, yc, rows);
          if (blk)   /* normalised and pooled while the plane is in L1 */
            ncfm_cpu_conv_block_plane (blk, img0 + j, co, plane, h_out, w_out);
        }
    }
  }

}
