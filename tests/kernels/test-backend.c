/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-backend.c: device specs, the auto choice, scratch memory. */
#include "test-util.h"

#include <string.h>

static void
test_specs (void)
{
  char err[256], why[256];
  NcfmBackend *be = ncfm_backend_new ("cpu", err, sizeof err, NULL, 0);
  g_assert_nonnull (be);
  g_assert_cmpint (be->type, ==, NCFM_DEVICE_CPU);
  g_assert_true (g_str_has_prefix (be->name, "cpu"));
  ncfm_backend_free (be);

  why[0] = '\0';
  be = ncfm_backend_new ("auto", err, sizeof err, why, sizeof why);
  g_assert_nonnull (be);
  g_assert_true (g_str_has_prefix (why, "auto:"));
  if (ncfm_backend_cuda_device_count () == 0)
    g_assert_cmpint (be->type, ==, NCFM_DEVICE_CPU);
  else
    g_assert_cmpint (be->type, ==, NCFM_DEVICE_CUDA);
  ncfm_backend_free (be);

  const char *bad[] = { "gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:1:2" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    err[0] = '\0';
    g_assert_null (ncfm_backend_new (bad[i], err, sizeof err, NULL, 0));
    g_assert_nonnull (strstr (err, "invalid device"));
    g_assert_nonnull (strstr (err, bad[i]));
  }

  /* an explicit CUDA request on a machine without one is an error, not a fallback */
  if (ncfm_backend_cuda_device_count () == 0) {
    err[0] = '\0';
    g_assert_null (ncfm_backend_new ("cuda:0", err, sizeof err, NULL, 0));
    g_assert_nonnull (strstr (err, "cuda:0"));
  }
  /* a device index past the last one */
  err[0] = '\0';
  g_assert_null (ncfm_backend_new ("cuda:999", err, sizeof err, NULL, 0));
  g_assert_cmpstr (err, !=, "");
}

static void
test_env (void)
{
  char err[256];
  g_setenv ("NCFM_DEVICE", "cpu", TRUE);
  NcfmBackend *be = ncfm_backend_new (NULL, err, sizeof err, NULL, 0);
  g_assert_nonnull (be);
  g_assert_cmpint (be->type, ==, NCFM_DEVICE_CPU);
  ncfm_backend_free (be);
  g_setenv ("NCFM_DEVICE", "bogus", TRUE);
  g_assert_null (ncfm_backend_new (NULL, err, sizeof err, NULL, 0));
  g_assert_nonnull (strstr (err, "bogus"));
  /* an explicit spec wins over the environment */
  be = ncfm_backend_new ("cpu", err, sizeof err, NULL, 0);
  g_assert_nonnull (be);
  ncfm_backend_free (be);
  g_unsetenv ("NCFM_DEVICE");
}

static void
test_scratch (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  float *a = ncfm_backend_scratch (be, 1000);
  a[999 / sizeof (float)] = 1.0f;
  g_assert_true (ncfm_backend_scratch (be, 500) == (void *) a);   /* smaller: reused */
  float *b = ncfm_backend_scratch (be, 1 << 20);
  b[(1 << 20) / sizeof (float) - 1] = 2.0f;
  g_assert_cmpuint (be->scratch_bytes, >=, 1 << 20);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/backend/specs", test_specs);
  g_test_add_func ("/kernels/backend/env", test_env);
  g_test_add_func ("/kernels/backend/scratch", test_scratch);
  return g_test_run ();
}
