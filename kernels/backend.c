/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend.c: picking a backend from a device spec ("auto", "cpu", "cuda[:N]"),
 * and loading the CUDA module (backend-private.h) when, and only when, a CUDA
 * backend is asked for: the CUDA runtime and cuBLAS cost ~200 MB of resident
 * memory as soon as they are loaded, which a CPU run must not pay. */
#include "backend-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NCFM_HAVE_CUDA
#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>
#endif

/* printf into a caller's message buffer (buf may be NULL). */
static void __attribute__ ((format (printf, 3, 4)))
set_msg (char *buf, size_t len, const char *fmt, ...)
{
  if (!buf || !len)
    return;
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (buf, len, fmt, ap);
  va_end (ap);
}

#ifdef NCFM_HAVE_CUDA

/* The cheap test "auto" makes before loading the module: the NVIDIA kernel
 * driver is loaded (it creates /proc/driver/nvidia/version) or its control
 * node is there (/dev/nvidiactl, which GPU containers get).  libcuda can
 * reach no GPU without one of them; two stat calls cost nothing. */
#define NVIDIA_DRIVER_CTL "/dev/nvidiactl"
#define NVIDIA_DRIVER_PROC "/proc/driver/nvidia/version"

static int
nvidia_driver_present (void)
{
  return access (NVIDIA_DRIVER_CTL, F_OK) == 0 || access (NVIDIA_DRIVER_PROC, F_OK) == 0;
}

/* dlerror() text without a leading "PATH: " (the caller names the path). */
static const char *
dl_reason (const char *path)
{
  const char *e = dlerror ();
  if (!e)
    return "unknown dynamic loader error";
  size_t n = strlen (path);
  if (strncmp (e, path, n) == 0 && strncmp (e + n, ": ", 2) == 0)
    e += n + 2;
  return e;
}

/* Opens one candidate (a path, or a bare name for the dynamic linker's
 * search) and checks its table.  The module is never closed: backends keep
 * pointers into it, and the CUDA runtime it pulls in does not support being
 * unloaded once initialised.  A second dlopen of it only bumps a count. */
static const NcfmCudaModule *
cuda_module_open (const char *path, char *err, size_t err_len)
{
  void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    set_msg (err, err_len, "cannot load the CUDA module %s: %s", path, dl_reason (path));
    return NULL;
  }
  NcfmCudaModuleEntry entry = (NcfmCudaModuleEntry) dlsym (handle, NCFM_CUDA_MODULE_ENTRY);
  if (!entry) {
    set_msg (err, err_len, "%s is not a CUDA module of gst-ncfm: %s", path, dl_reason (path));
    return NULL;
  }
  const NcfmCudaModule *mod = entry ();
  if (!mod || mod->abi != NCFM_CUDA_MODULE_ABI || mod->backend_size != sizeof (NcfmBackend)
      || mod->ops_size != sizeof (NcfmBackendOps)) {
    set_msg (err, err_len, "the CUDA module %s was built from another version of gst-ncfm "
        "than this library (rebuild both)", path);
    return NULL;
  }
  return mod;
}

/* Any object of this file: dladdr on it names the shared object holding
 * this code (libncfm), or the program when the kernels are linked in. */
static const char self_anchor;

/* Copies into dir[len] the directory of the object holding this code ("" if
 * unknown). */
static void
own_object_dir (char *dir, size_t len)
{
  Dl_info info;
  dir[0] = '\0';
  if (!dladdr (&self_anchor, &info) || !info.dli_fname)
    return;
  const char *slash = strrchr (info.dli_fname, '/');
  if (slash && (size_t) (slash - info.dli_fname) < len)
    snprintf (dir, len, "%.*s", (int) (slash - info.dli_fname), info.dli_fname);
}

/* Finds and loads the CUDA module, in this order:
 *  1. $NCFM_CUDA_MODULE, a full path (then nothing else is tried);
 *  2. the directory of the shared object holding this code: libncfm, in
 *     build trees and install trees alike;
 *  3. the install libdir and 4. the build directory (both compile-time; the
 *     latter serves test programs that link the kernels statically);
 *  5. the dynamic linker's own search (LD_LIBRARY_PATH: a build tree copied
 *     to another machine, e.g. by shared/device/pack.sh).
 * NULL with the reason in err (may be NULL) when that fails. */
static const NcfmCudaModule *
cuda_module_load (char *err, size_t err_len)
{
  const char *env = getenv ("NCFM_CUDA_MODULE");
  if (env && *env)
    return cuda_module_open (env, err, err_len);

  char own[PATH_MAX], path[PATH_MAX + 64];
  own_object_dir (own, sizeof own);
  const char *dirs[] = { own, NCFM_CUDA_MODULE_LIBDIR, NCFM_CUDA_MODULE_BUILDDIR };
  const size_t n_dirs = sizeof dirs / sizeof dirs[0];
  for (size_t i = 0; i < n_dirs; i++) {
    snprintf (path, sizeof path, "%s/%s", dirs[i], NCFM_CUDA_MODULE_NAME);
    if (dirs[i][0] && access (path, F_OK) == 0)
      return cuda_module_open (path, err, err_len);
  }
  const NcfmCudaModule *mod = cuda_module_open (NCFM_CUDA_MODULE_NAME, err, err_len);
  if (mod || !err || !err_len)
    return mod;
  /* then say where it looked */
  size_t used = strlen (err);
  const char *sep = " (not in ";
  for (size_t i = 0; i < n_dirs && used < err_len; i++) {
    int dup = dirs[i][0] == '\0';
    for (size_t j = 0; j < i && !dup; j++)
      dup = strcmp (dirs[i], dirs[j]) == 0;
    if (dup)
      continue;
    used += snprintf (err + used, err_len - used, "%s%s", sep, dirs[i]);
    sep = ", ";
  }
  if (used < err_len)
    snprintf (err + used, err_len - used, "; NCFM_CUDA_MODULE may name it)");
  return NULL;
}

static NcfmBackend *
cuda_backend_new (const NcfmCudaModule *mod, int device, char *err, size_t err_len)
{
  NcfmBackend *be = mod->backend_new (device, err, err_len);
  if (be)
    be->destroy = mod->backend_free;
  return be;
}

#endif /* NCFM_HAVE_CUDA */

int
ncfm_backend_have_cuda (void)
{
#ifdef NCFM_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

int
ncfm_backend_cuda_device_count (void)
{
#ifdef NCFM_HAVE_CUDA
  if (!nvidia_driver_present ())
    return 0;
  const NcfmCudaModule *mod = cuda_module_load (NULL, 0);
  return mod ? mod->usable_devices (NULL, 0) : 0;
#else
  return 0;
#endif
}

/* Parses "cuda" / "cuda:N"; returns the ordinal or -1. */
static int
parse_cuda_spec (const char *spec)
{
  if (strcmp (spec, "cuda") == 0)
    return 0;
  if (strncmp (spec, "cuda:", 5) != 0 || spec[5] == '\0')
    return -1;
  char *end = NULL;
  long idx = strtol (spec + 5, &end, 10);
  if (*end != '\0' || idx < 0 || idx > 1024)
    return -1;
  return (int) idx;
}

/* "auto": CUDA device 0 when a driver is present, the module loads and a
 * device is usable; otherwise the CPU, with the reason in why_auto. */
static NcfmBackend *
backend_new_auto (char *why_auto, size_t why_len)
{
#ifdef NCFM_HAVE_CUDA
  char why[1024] = "";
  const NcfmCudaModule *mod = NULL;
  if (!nvidia_driver_present ()) {
    set_msg (why, sizeof why, "no NVIDIA driver (neither %s nor %s exists)",
        NVIDIA_DRIVER_CTL, NVIDIA_DRIVER_PROC);
  } else if ((mod = cuda_module_load (why, sizeof why))) {
    char cuda_why[512] = "";
    NcfmBackend *be = NULL;
    if (mod->usable_devices (cuda_why, sizeof cuda_why) > 0)
      be = cuda_backend_new (mod, 0, cuda_why, sizeof cuda_why);
    if (be) {
      set_msg (why_auto, why_len, "auto: a CUDA device is usable, using %s", be->name);
      return be;
    }
    set_msg (why, sizeof why, "no usable CUDA device (%s)", cuda_why);
  }
  set_msg (why_auto, why_len, "auto: %s, using the CPU", why);
#else
  set_msg (why_auto, why_len, "auto: this build has no CUDA backend, using the CPU");
#endif
  return ncfm_backend_new_cpu ();
}

/* "cuda:N" (idx = N): that device, or NULL with the reason in err. */
static NcfmBackend *
backend_new_cuda (const char *spec, int idx, char *err, size_t err_len)
{
#ifdef NCFM_HAVE_CUDA
  char why[1024] = "";
  const NcfmCudaModule *mod = cuda_module_load (why, sizeof why);
  if (!mod) {
    set_msg (err, err_len, "device \"%s\" requested but %s", spec, why);
    return NULL;
  }
  int count = mod->usable_devices (why, sizeof why);
  if (idx < count)
    return cuda_backend_new (mod, idx, err, err_len);
  if (count == 0)
    set_msg (err, err_len, "device \"%s\" requested but no CUDA device is usable (%s)",
        spec, why);
  else
    set_msg (err, err_len, "device \"%s\" requested but only %d CUDA device%s usable",
        spec, count, count == 1 ? " is" : "s are");
#else
  (void) idx;
  set_msg (err, err_len, "device \"%s\" requested but this build has no CUDA backend "
      "(rebuild with -Dcuda=enabled)", spec);
#endif
  return NULL;
}

NcfmBackend *
ncfm_backend_new (const char *spec, char *err, size_t err_len, char *why_auto, size_t why_len)
{
  if (!spec || !*spec)
    spec = getenv ("NCFM_DEVICE");
  if (!spec || !*spec)
    spec = "auto";

  if (strcmp (spec, "cpu") == 0)
    return ncfm_backend_new_cpu ();
  if (strcmp (spec, "auto") == 0)
    return backend_new_auto (why_auto, why_len);

  int idx = parse_cuda_spec (spec);
  if (idx < 0) {
    set_msg (err, err_len, "invalid device \"%s\": expected auto, cpu, cuda or cuda:N", spec);
    return NULL;
  }
  return backend_new_cuda (spec, idx, err, err_len);
}

void
ncfm_backend_free (NcfmBackend *be)
{
  if (!be)
    return;
  if (be->scratch)
    be->ops->free (be, be->scratch);
  free (be->live);
  if (be->destroy)
    be->destroy (be);
  else
    free (be);
}
