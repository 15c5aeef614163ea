/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sorf.c: phases of structured frequencies by fast Hadamard transforms
 * (sorf_forward) against x t^T with t materialised from dense products
 * H D1 H D2 H D3 in double, for d a power of two and not, m a multiple of
 * the block and not; the input gradient (sorf_backward) by finite
 * differences and as the exact adjoint. */
#include "test-util.h"
#include "hadamard.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* (-1)^popcount(i & j): entry (i, j) of the unnormalised Hadamard matrix. */
static double
hadamard_entry (int i, int j)
{
  return __builtin_popcount ((unsigned) (i & j)) % 2 ? -1.0 : 1.0;
}

/* t [m, d] in double as ncfm-backend.h defines it, by dense products. */
static double *
materialise (int d, int m, int p, const float *signs, const float *scale)
{
  double *t = g_new0 (double, (size_t) m * d);
  g_autofree double *b = g_new (double, (size_t) p * p), *tmp = g_new (double, (size_t) p * p);
  for (int row0 = 0; row0 < m; row0 += p) {
    const float *s = signs + (size_t) (row0 / p) * 3 * p;
    for (int i = 0; i < p; i++)       /* b = I */
      for (int j = 0; j < p; j++)
        b[i * p + j] = i == j;
    for (int l = 0; l < 3; l++) {     /* b <- b H D_l */
      for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) {
          double acc = 0;
          for (int k = 0; k < p; k++)
            acc += b[i * p + k] * hadamard_entry (k, j);
          tmp[i * p + j] = acc * s[l * p + j];
        }
      memcpy (b, tmp, sizeof (double) * p * p);
    }
    for (int r = 0; r < p && row0 + r < m; r++)
      for (int j = 0; j < d; j++)
        t[(size_t) (row0 + r) * d + j] = scale[row0 + r] * b[r * p + j];
  }
  return t;
}

static float *
random_signs (GRand *rand, size_t n)
{
  float *s = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    s[i] = g_rand_boolean (rand) ? 1.0f : -1.0f;
  return s;
}

/* Float butterflies: 3 log2(p) stages, each rounding values bounded by
 * p^(3/2) max|x| (the unnormalised transforms' growth), then one product
 * by the scale: the error bound is (3 log2 p + 1) eps max|scale| p^(3/2) ||x||_1. */
static void
check_case (int n, int d, int m, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int p = (int) ncfm_hadamard_size ((unsigned) d), blocks = (m + p - 1) / p;
  g_autofree float *signs = random_signs (rand, (size_t) blocks * 3 * p);
  g_autofree float *scale = ncfm_test_new_uniform (rand, m, -2.0f, 2.0f);
  g_autofree float *x = ncfm_test_new_uniform (rand, (size_t) n * d, -1.0f, 1.0f);
  g_autofree float *phase = g_new (float, (size_t) n * m), *want = g_new (float, (size_t) n * m);
  g_autofree double *t = materialise (d, m, p, signs, scale);
  be->ops->sorf_forward (be, n, d, m, p, signs, scale, x, phase);
  for (int i = 0; i < n; i++)
    for (int r = 0; r < m; r++) {
      double acc = 0;
      for (int j = 0; j < d; j++)
        acc += (double) x[(size_t) i * d + j] * t[(size_t) r * d + j];
      want[(size_t) i * m + r] = (float) acc;
    }
  const double bound = (3 * log2 (p) + 1) * FLT_EPSILON * 2.0 * pow (p, 1.5) * d;
  ncfm_test_assert_close ("sorf phase", phase, want, (size_t) n * m, 2 * FLT_EPSILON, bound);
  ncfm_backend_free (be);
}

static void
test_vs_dense (void)
{
  check_case (3, 16, 16, 1);     /* d = p, one whole block */
  check_case (4, 20, 70, 2);     /* p = 32: two blocks and 6 rows */
  check_case (2, 1, 3, 3);       /* p = 1: t is scale * signs */
  check_case (2, 5, 3, 4);       /* fewer rows than one block */
}

typedef struct {
  NcfmBackend *be;
  int n, d, m, p;
  float *signs, *scale, *x, *phase, *r;
} SorfCtx;

static double
sorf_loss (gpointer data)
{
  SorfCtx *c = data;
  c->be->ops->sorf_forward (c->be, c->n, c->d, c->m, c->p, c->signs, c->scale, c->x, c->phase);
  return ncfm_test_dot (c->phase, c->r, (size_t) c->n * c->m);
}

/* L = <phase, r> is linear in x: central differences are exact but for the
 * rounding of L (~sqrt(n m) 1e-7 p^(3/2) over 2 h = 0.2), far below the
 * gradients (~p^(3/2) sqrt(m / p)).  The adjoint identity <x t^T, r> =
 * <x, r t> holds to the same rounding. */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  SorfCtx c = { .be = be, .n = 3, .d = 12, .m = 40, .p = 16 };
  const size_t nd = (size_t) c.n * c.d, nm = (size_t) c.n * c.m;
  c.signs = random_signs (rand, 3 * 3 * c.p);
  c.scale = ncfm_test_new_uniform (rand, c.m, 0.5f, 1.5f);
  c.x = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  c.phase = g_new (float, nm);
  c.r = ncfm_test_new_uniform (rand, nm, -1.0f, 1.0f);
  g_autofree float *dx = g_new (float, nd);
  be->ops->sorf_backward (be, c.n, c.d, c.m, c.p, c.signs, c.scale, c.r, dx);
  ncfm_test_gradcheck ("sorf dx", c.x, dx, nd, sorf_loss, &c, 0.1, 1e-3, nd, rand);
  double lhs = sorf_loss (&c), rhs = ncfm_test_dot (c.x, dx, nd);
  g_assert_cmpfloat (fabs (lhs - rhs), <=, 1e-5 * (fabs (lhs) + 1) * pow (c.p, 1.5));
  g_free (c.signs);
  g_free (c.scale);
  g_free (c.x);
  g_free (c.phase);
  g_free (c.r);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/sorf/vs-dense", test_vs_dense);
  g_test_add_func ("/kernels/sorf/gradcheck", test_gradcheck);
  return g_test_run ();
}
