/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/linear.c: y = x W^T + b and its backward, cuBLAS vs OpenBLAS.
 *
 * Both sides are float dot products of depth K in different orders (cuBLAS
 * in its default math mode: no TF32).  Rounding errors of a depth-K dot
 * product grow like sqrt(K) with high probability (Higham & Mary, "A new
 * approach to probabilistic rounding error analysis", 2019): |err| <=
 * lambda sqrt(K) eps sum|terms|, lambda = 4 covering both sides' errors;
 * the worst case K eps would hide little but be 10x looser at K = 2048.
 * The bias sum of db is done in double on the CPU and a warp tree on the GPU. */
#include "parity.h"

#include <float.h>
#include <math.h>

#define EPS_F ((double) FLT_EPSILON)

/* max over rows i, columns j of sum_k |a[i,k] b[k,j]| for row-major a [rows, depth]
 * (strides a_i, a_k) and b (strides b_k, b_j), bounded cheaply by
 * max_i sum_k |a[i,k]| * max |b| */
static double
l1_bound (int rows, int depth, const float *a, size_t a_i, size_t a_k, const float *b, size_t nb)
{
  double bmax = 0.0, amax = 0.0;
  for (size_t i = 0; i < nb; i++)
    bmax = fmax (bmax, fabs (b[i]));
  for (int i = 0; i < rows; i++) {
    double s = 0.0;
    for (int k = 0; k < depth; k++)
      s += fabs (a[i * a_i + k * a_k]);
    amax = fmax (amax, s);
  }
  return amax * bmax;
}

static double
dot_tol (int depth, double l1)
{
  return (4.0 * sqrt ((double) depth) + 2.0) * EPS_F * l1;
}

static void
test_linear (gconstpointer data)
{
  const ParityEnv *env = data;
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);
  /* {n, in, out}: the ConvNet's classifier (128 * 4 * 4 -> 10), odd sizes, 1x1 */
  const int shapes[][3] = { { 256, 2048, 10 }, { 37, 129, 33 }, { 1, 1, 1 }, { 300, 7, 513 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
    const size_t nx = (size_t) n * in, nw = (size_t) out * in, ny = (size_t) n * out;
    g_test_message ("linear n=%d in=%d out=%d", n, in, out);
    g_autofree float *x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *w = ncfm_test_new_uniform (rand, nw, -0.1f, 0.1f);
    g_autofree float *b = ncfm_test_new_uniform (rand, out, -1.0f, 1.0f);
    g_autofree float *dy = ncfm_test_new_uniform (rand, ny, -1.0f, 1.0f);
    g_autofree float *y = g_new (float, ny), *dx = g_new (float, nx);
    g_autofree float *dw = g_new (float, nw), *db = g_new (float, out);
    float *gx = parity_upload (gpu, x, nx), *gw = parity_upload (gpu, w, nw);
    float *gb = parity_upload (gpu, b, out), *gdy = parity_upload (gpu, dy, ny);
    /* outputs start as garbage: the ops overwrite, never accumulate */
    float *gy = parity_upload (gpu, dy, ny), *gdx = parity_upload (gpu, x, nx);
    float *gdw = parity_upload (gpu, w, nw), *gdb = parity_upload (gpu, b, out);

    double tol_y = dot_tol (in, l1_bound (n, in, x, in, 1, w, nw) + 1.0);
    double tol_dx = dot_tol (out, l1_bound (n, out, dy, out, 1, w, nw));
    double tol_dw = dot_tol (n, l1_bound (out, n, dy, 1, out, x, nx));
    double l1_db = 0.0;   /* largest column sum of |dy| */
    for (int o = 0; o < out; o++) {
      double c = 0.0;
      for (int i = 0; i < n; i++)
        c += fabs (dy[(size_t) i * out + o]);
      l1_db = fmax (l1_db, c);
    }
    double tol_db = dot_tol (n, l1_db);

    for (int with_bias = 0; with_bias < 2; with_bias++) {
      cpu->ops->linear_forward (cpu, n, in, out, x, w, with_bias ? b : NULL, y);
      gpu->ops->linear_forward (gpu, n, in, out, gx, gw, with_bias ? gb : NULL, gy);
      parity_compare (env, with_bias ? "linear_forward" : "linear_forward (no bias)", gy, y,
          ny, 0, tol_y);
    }
    cpu->ops->linear_backward (cpu, n, in, out, x, w, dy, dx, dw, db);
    gpu->ops->linear_backward (gpu, n, in, out, gx, gw, gdy, gdx, gdw, gdb);
    parity_compare (env, "linear dx", gdx, dx, nx, 0, tol_dx);
    parity_compare (env, "linear dw", gdw, dw, nw, 0, tol_dw);
    parity_compare (env, "linear db", gdb, db, out, 0, tol_db);
    /* NULL outputs: only db, then only dw, leave the others alone */
    gpu->ops->linear_backward (gpu, n, in, out, gx, gw, gdy, NULL, NULL, gdb);
    parity_compare (env, "linear db alone", gdb, db, out, 0, tol_db);
    gpu->ops->linear_backward (gpu, n, in, out, gx, gw, gdy, NULL, gdw, NULL);
    parity_compare (env, "linear dw alone", gdw, dw, nw, 0, tol_dw);

    float *bufs[] = { gx, gw, gb, gdy, gy, gdx, gdw, gdb };
    for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
      gpu->ops->free (gpu, bufs[i]);
  }
}

void
parity_add_linear (ParityEnv *env)
{
  g_test_add_data_func ("/parity/linear", env, test_linear);
}
