/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-random.c: fill_normal (Philox4x32-10 + Box-Muller). */
#include "test-util.h"

#include <math.h>
#include <string.h>

#include "philox.h"

/* Known-answer test: the Random123 reference vector for Philox4x32-10 with
 * counter 0 and key 0 is (6627e8d5 e169c58d bc57ac4c 9b00dbd8). */
static void
test_philox_kat (void)
{
  NcfmPhilox4 r = ncfm_philox4x32_10 (0, 0);
  g_assert_cmphex (r.v[0], ==, 0x6627e8d5u);
  g_assert_cmphex (r.v[1], ==, 0xe169c58du);
  g_assert_cmphex (r.v[2], ==, 0xbc57ac4cu);
  g_assert_cmphex (r.v[3], ==, 0x9b00dbd8u);
}

static void
test_normal_moments (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const size_t n = 1 << 20;
  float *x = be->ops->alloc (be, n * sizeof (float));
  be->ops->fill_normal (be, n, 1234, 0, 2.0f, x);
  double s = 0, s2 = 0, s4 = 0;
  for (size_t i = 0; i < n; i++) {
    double v = x[i] / 2.0;
    s += v;
    s2 += v * v;
    s4 += v * v * v * v;
  }
  double mean = s / n, var = s2 / n - mean * mean, kurt = s4 / n;
  /* standard errors over 2^20 samples: mean 1e-3, variance 1.4e-3, 4th moment
   * 1e-2; 5 sigma */
  g_assert_cmpfloat (fabs (mean), <, 5e-3);
  g_assert_cmpfloat (fabs (var - 1.0), <, 7e-3);
  g_assert_cmpfloat (fabs (kurt - 3.0), <, 5e-2);
  be->ops->free (be, x);
  ncfm_backend_free (be);
}

static void
test_normal_streams (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  float a[64], b[64], c[32];
  be->ops->fill_normal (be, 64, 7, 0, 1.0f, a);
  be->ops->fill_normal (be, 64, 7, 0, 1.0f, b);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);             /* deterministic */
  be->ops->fill_normal (be, 32, 7, 17, 1.0f, c);          /* a slice regenerates */
  g_assert_cmpmem (a + 17, 32 * sizeof (float), c, sizeof c);
  be->ops->fill_normal (be, 64, 8, 0, 1.0f, b);           /* another seed differs */
  g_assert_true (memcmp (a, b, sizeof a) != 0);
  ncfm_backend_free (be);
}

/* The pairwise fill (one Philox call per two values) is bit for bit the
 * per-position ncfm_philox_normal() for every parity of offset and count,
 * below and above the parallel threshold. */
static void
test_normal_pairs_exact (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const size_t counts[] = { 1, 2, 3, 64, 65, 40001 };
  const uint64_t offsets[] = { 0, 1, 6, 17, G_GUINT64_CONSTANT (1) << 40 | 1 };
  for (gsize ci = 0; ci < G_N_ELEMENTS (counts); ci++)
    for (gsize oi = 0; oi < G_N_ELEMENTS (offsets); oi++) {
      const size_t n = counts[ci];
      g_autofree float *x = g_new (float, n);
      be->ops->fill_normal (be, n, 99, offsets[oi], 0.5f, x);
      for (size_t i = 0; i < n; i++) {
        const float want = 0.5f * ncfm_philox_normal (99, offsets[oi] + i);
        if (memcmp (&x[i], &want, sizeof want) != 0)
          g_error ("count %zu offset %" G_GUINT64_FORMAT ": x[%zu] = %a, want %a", n,
              offsets[oi], i, (double) x[i], (double) want);
      }
    }
  ncfm_backend_free (be);
}

/* The float Box-Muller (kernels/philox.h) against the same formula in
 * double for the same Philox words: within 1e-6 absolute and 1e-6 of the
 * radius (small radii too: u1 near 1 is taken from the complement), over
 * words that include the extremes of u1 and every quadrant edge of the angle. */
static void
test_box_muller_accuracy (void)
{
  const uint32_t edges[] = { 0, 1, 0xffu, 0x100u, 0x1fffffffu, 0x20000000u, 0x3fffffffu,
    0x40000000u, 0x7fffffffu, 0x80000000u, 0xb504f333u, 0xb504f334u, 0xbfffffffu, 0xdfffffffu,
    0xe0000000u, 0xfffffeffu, 0xffffffffu };
  const gsize n_edges = G_N_ELEMENTS (edges), n_random = 200000;
  for (gsize i = 0; i < n_edges * n_edges + n_random; i++) {
    uint32_t w0, w1;
    if (i < n_edges * n_edges) {
      w0 = edges[i / n_edges];
      w1 = edges[i % n_edges];
    } else {
      NcfmPhilox4 r = ncfm_philox4x32_10 (i, 5);
      w0 = r.v[0];
      w1 = r.v[1];
    }
    float even, odd;
    ncfm_box_muller (w0, w1, &even, &odd);
    const double rad = sqrt (-2.0 * log ((w0 + 0.5) / 4294967296.0));
    const double ang = 6.283185307179586 * (w1 / 4294967296.0);
    const double err = fmax (fabs (even - rad * cos (ang)), fabs (odd - rad * sin (ang)));
    if (err > 1e-6 || err > 1e-6 * rad + 1e-12)
      g_error ("w0 %08x w1 %08x: (%a, %a), want (%a, %a)", w0, w1, (double) even, (double) odd,
          rad * cos (ang), rad * sin (ang));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/random/philox-kat", test_philox_kat);
  g_test_add_func ("/kernels/random/normal-moments", test_normal_moments);
  g_test_add_func ("/kernels/random/normal-streams", test_normal_streams);
  g_test_add_func ("/kernels/random/normal-pairs-exact", test_normal_pairs_exact);
  g_test_add_func ("/kernels/random/box-muller-accuracy", test_box_muller_accuracy);
  return g_test_run ();
}
