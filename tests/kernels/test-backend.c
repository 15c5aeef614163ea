/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-backend.c: device specs, the auto choice, loading the CUDA module on
 * demand, scratch memory. */
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

/* What backend.c checks before loading the CUDA module for "auto". */
static gboolean
nvidia_driver_present (void)
{
  return g_file_test ("/dev/nvidiactl", G_FILE_TEST_EXISTS)
      || g_file_test ("/proc/driver/nvidia/version", G_FILE_TEST_EXISTS);
}

/* TRUE when a library whose path contains `name` is mapped into this process. */
static gboolean
library_mapped (const char *name)
{
  g_autofree char *maps = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  return strstr (maps, name) != NULL;
}

/* NCFM_DEVICE=auto on a machine without an NVIDIA driver: the CPU, and why. */
static void
test_auto_without_driver (void)
{
  if (nvidia_driver_present ()) {
    g_test_skip ("an NVIDIA driver is present here");
    return;
  }
  char err[256] = "", why[256] = "";
  g_setenv ("NCFM_DEVICE", "auto", TRUE);
  NcfmBackend *be = ncfm_backend_new (NULL, err, sizeof err, why, sizeof why);
  g_unsetenv ("NCFM_DEVICE");
  g_assert_nonnull (be);
  g_assert_cmpint (be->type, ==, NCFM_DEVICE_CPU);
  g_test_message ("%s", why);
  if (ncfm_backend_have_cuda ())
    g_assert_cmpstr (why, ==, "auto: no NVIDIA driver (neither /dev/nvidiactl nor "
        "/proc/driver/nvidia/version exists), using the CPU");
  else
    g_assert_cmpstr (why, ==, "auto: this build has no CUDA backend, using the CPU");
  ncfm_backend_free (be);
  g_assert_cmpint (ncfm_backend_cuda_device_count (), ==, 0);
}

/* "cpu", and "auto" without a driver, never load the CUDA module or runtime
 * (in a subprocess: other tests here do load them). */
static void
test_cpu_loads_no_cuda (void)
{
  if (g_test_subprocess ()) {
    NcfmBackend *be = ncfm_test_cpu_backend ();
    ncfm_backend_free (be);
    if (!nvidia_driver_present ()) {
      ncfm_backend_free (ncfm_backend_new ("auto", NULL, 0, NULL, 0));
      g_assert_cmpint (ncfm_backend_cuda_device_count (), ==, 0);
    }
    g_assert_false (library_mapped ("libncfm-cuda"));
    g_assert_false (library_mapped ("libcudart"));
    g_assert_false (library_mapped ("libcublas"));
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* An explicit "cuda" where none is usable: an error that says why, no crash. */
static void
test_cuda_unavailable (void)
{
  if (ncfm_backend_cuda_device_count () > 0) {
    g_test_skip ("a CUDA device is usable here");
    return;
  }
  const char *built = g_getenv ("NCFM_TEST_CUDA_MODULE");
  /* the default search, and the module of this build named explicitly */
  for (int pass = 0; pass < (built ? 2 : 1); pass++) {
    char err[512] = "";
    if (pass == 1)
      g_setenv ("NCFM_CUDA_MODULE", built, TRUE);
    g_assert_null (ncfm_backend_new ("cuda", err, sizeof err, NULL, 0));
    g_unsetenv ("NCFM_CUDA_MODULE");
    g_test_message ("%s", err);
    g_assert_true (g_str_has_prefix (err, "device \"cuda\" requested but "));
    if (!ncfm_backend_have_cuda ())
      g_assert_cmpstr (err, ==, "device \"cuda\" requested but this build has no CUDA "
          "backend (rebuild with -Dcuda=enabled)");
    else if (built)   /* the module loads; the runtime finds no device */
      g_assert_nonnull (strstr (err, "requested but no CUDA device is usable ("));
  }
}

/* $NCFM_CUDA_MODULE naming a missing file: "cuda" fails naming it, "auto"
 * falls back to the CPU (saying why when it got as far as loading). */
static void
test_cuda_module_missing (void)
{
  if (!ncfm_backend_have_cuda ()) {
    g_test_skip ("this build has no CUDA backend, so it never loads a module");
    return;
  }
  const char *path = "/nonexistent/ncfm-test/libncfm-cuda.so";
  char err[512] = "", why[512] = "";
  g_setenv ("NCFM_CUDA_MODULE", path, TRUE);
  g_assert_null (ncfm_backend_new ("cuda:0", err, sizeof err, NULL, 0));
  g_test_message ("%s", err);
  g_assert_true (g_str_has_prefix (err, "device \"cuda:0\" requested but cannot load the "
      "CUDA module /nonexistent/ncfm-test/libncfm-cuda.so: "));
  g_assert_nonnull (strstr (err, "No such file or directory"));

  NcfmBackend *be = ncfm_backend_new ("auto", err, sizeof err, why, sizeof why);
  g_assert_nonnull (be);
  g_assert_cmpint (be->type, ==, NCFM_DEVICE_CPU);
  if (nvidia_driver_present ())
    g_assert_nonnull (strstr (why, path));
  ncfm_backend_free (be);
  g_assert_cmpint (ncfm_backend_cuda_device_count (), ==, 0);
  g_unsetenv ("NCFM_CUDA_MODULE");
}

/* $NCFM_CUDA_MODULE naming a file that is not a module: the loader's words. */
static void
test_cuda_module_invalid (void)
{
  if (!ncfm_backend_have_cuda ()) {
    g_test_skip ("this build has no CUDA backend, so it never loads a module");
    return;
  }
  char err[512] = "";
  /* not a shared object at all */
  const char *source = g_test_get_filename (G_TEST_DIST, "test-backend.c", NULL);
  g_setenv ("NCFM_CUDA_MODULE", source, TRUE);
  g_assert_null (ncfm_backend_new ("cuda", err, sizeof err, NULL, 0));
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, "cannot load the CUDA module"));
  g_assert_nonnull (strstr (err, source));
  /* a shared object without the entry point (the C maths library) */
  g_setenv ("NCFM_CUDA_MODULE", "libm.so.6", TRUE);
  g_assert_null (ncfm_backend_new ("cuda", err, sizeof err, NULL, 0));
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, "libm.so.6 is not a CUDA module of gst-ncfm: "));
  g_assert_nonnull (strstr (err, "ncfm_cuda_module_table"));
  g_unsetenv ("NCFM_CUDA_MODULE");
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
  g_test_add_func ("/kernels/backend/auto-without-driver", test_auto_without_driver);
  g_test_add_func ("/kernels/backend/cpu-loads-no-cuda", test_cpu_loads_no_cuda);
  g_test_add_func ("/kernels/backend/cuda-unavailable", test_cuda_unavailable);
  g_test_add_func ("/kernels/backend/cuda-module-missing", test_cuda_module_missing);
  g_test_add_func ("/kernels/backend/cuda-module-invalid", test_cuda_module_invalid);
  g_test_add_func ("/kernels/backend/scratch", test_scratch);
  return g_test_run ();
}
