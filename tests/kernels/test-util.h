/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-util.h: shared helpers for the kernel tests: random data, closeness
 * checks that print the worst element, and finite-difference gradient checks. */
#ifndef NCFM_TEST_UTIL_H
#define NCFM_TEST_UTIL_H

#include <glib.h>
#include "ncfm-backend.h"

G_BEGIN_DECLS

/* A CPU backend for a test; aborts the test if it cannot be made. */
NcfmBackend *ncfm_test_cpu_backend (void);
/* A CUDA backend, or NULL when none is usable (the caller skips). */
NcfmBackend *ncfm_test_cuda_backend (void);

void ncfm_test_fill_uniform (GRand *rand, float *x, size_t n, float lo, float hi);
/* Standard normal values (Box-Muller). */
void ncfm_test_fill_normal (GRand *rand, float *x, size_t n, float stddev);
/* A fresh g_malloc'd buffer of n uniform values in [lo, hi). */
float *ncfm_test_new_uniform (GRand *rand, size_t n, float lo, float hi);

/* sum_i a[i] * b[i] in double: the projection used to turn a tensor output
 * into a scalar loss L = <y, r> whose gradient wrt y is r. */
double ncfm_test_dot (const float *a, const float *b, size_t n);

/* Asserts |got - want| <= atol + rtol * |want| elementwise; on failure
 * reports the worst index and values.  Returns the max abs difference. */
double ncfm_test_assert_close (const char *what, const float *got, const float *want,
    size_t n, double rtol, double atol);

/* Scalar loss of the current contents of the inputs (closure for gradcheck). */
typedef double (*NcfmTestLossFunc) (gpointer user_data);

/* Finite-difference check of `analytic`, the gradient of loss() wrt x[0..n).
 * Perturbs x in place (restoring it) by central differences of step h:
 *  - elementwise at up to max_points indices (all when n <= max_points);
 *  - along one random direction v over all of x: <analytic, v> vs
 *    (L(x + h v) - L(x - h v)) / 2h.
 * Where an element fails at step h (a kink of ReLU/clamp inside the step),
 * it is retried at h/4, h/16, ... h/256 and passes if any step agrees.
 * An element passes when |num - ana| <= tol * max(|num|, |ana|, floor) with
 * floor = 1e-3 * max_i |analytic_i| (so tiny gradients are judged on the
 * scale of the whole gradient, not on their own rounding noise). */
void ncfm_test_gradcheck (const char *what, float *x, const float *analytic, size_t n,
    NcfmTestLossFunc loss, gpointer user_data, double h, double tol, size_t max_points,
    GRand *rand);

/* The same with the floor's fraction of max |analytic| given (1e-3 above):
 * checks through deep float32 chains, whose loss carries more rounding noise
 * than one op's, judge small gradient entries on a larger share of the scale. */
void ncfm_test_gradcheck_floor (const char *what, float *x, const float *analytic, size_t n,
    NcfmTestLossFunc loss, gpointer user_data, double h, double tol, size_t max_points,
    GRand *rand, double floor_fraction);

/* PyTorch fixtures (safetensors files in tests/fixtures, written by the
 * make-*-fixture.py scripts there).  The kernel tests do not link libncfm, so
 * this is a minimal reader of little-endian F32 entries.
 * The path of tests/fixtures/FILE: under $NCFM_FIXTURES_DIR when set, else
 * G_TEST_SRCDIR/../fixtures (meson sets G_TEST_SRCDIR to tests/kernels), else
 * relative to this source file. */
gchar *ncfm_test_fixture_path (const char *file);
/* A g_malloc'd copy of F32 tensor `name` of fixture FILE, its element count in
 * *n (may be NULL); NULL (with a test message) when the file cannot be read or
 * has no such tensor; aborts the test on a malformed file. */
float *ncfm_test_load_fixture_f32 (const char *file, const char *name, gsize *n);
/* The same, also writing up to max_dims sizes into shape and the rank into
 * *n_dims (may be NULL). */
float *ncfm_test_load_fixture_f32_shape (const char *file, const char *name, gsize *n,
    gint64 *shape, int max_dims, int *n_dims);

G_END_DECLS
#endif
