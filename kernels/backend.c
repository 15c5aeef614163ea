/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend.c: picking a backend from a device spec ("auto", "cpu", "cuda[:N]"). */
#include "backend-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
set_msg (char *buf, size_t len, const char *msg)
{
  if (buf && len)
    snprintf (buf, len, "%s", msg);
}

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
  return ncfm_cuda_usable_devices (NULL, 0);
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

NcfmBackend *
ncfm_backend_new (const char *spec, char *err, size_t err_len, char *why_auto, size_t why_len)
{
  char msg[256];

  if (!spec || !*spec)
    spec = getenv ("NCFM_DEVICE");
  if (!spec || !*spec)
    spec = "auto";

  if (strcmp (spec, "cpu") == 0)
    return ncfm_backend_new_cpu ();

  if (strcmp (spec, "auto") == 0) {
#ifdef NCFM_HAVE_CUDA
    char why[160] = "";
    if (ncfm_cuda_usable_devices (why, sizeof why) > 0) {
      NcfmBackend *be = ncfm_backend_new_cuda (0, why, sizeof why);
      if (be) {
        snprintf (msg, sizeof msg, "auto: a CUDA device is usable, using %s", be->name);
        set_msg (why_auto, why_len, msg);
        return be;
      }
    }
    snprintf (msg, sizeof msg, "auto: no usable CUDA device (%s), using the CPU", why);
#else
    snprintf (msg, sizeof msg, "auto: this build has no CUDA backend, using the CPU");
#endif
    set_msg (why_auto, why_len, msg);
    return ncfm_backend_new_cpu ();
  }

  int idx = parse_cuda_spec (spec);
  if (idx < 0) {
    snprintf (msg, sizeof msg,
        "invalid device \"%s\": expected auto, cpu, cuda or cuda:N", spec);
    set_msg (err, err_len, msg);
    return NULL;
  }
#ifdef NCFM_HAVE_CUDA
  {
    char why[160] = "";
    int count = ncfm_cuda_usable_devices (why, sizeof why);
    if (idx >= count) {
      if (count == 0)
        snprintf (msg, sizeof msg, "device \"%s\" requested but no CUDA device is usable (%s)",
            spec, why);
      else
        snprintf (msg, sizeof msg, "device \"%s\" requested but only %d CUDA device%s usable",
            spec, count, count == 1 ? " is" : "s are");
      set_msg (err, err_len, msg);
      return NULL;
    }
    return ncfm_backend_new_cuda (idx, err, err_len);
  }
#else
  snprintf (msg, sizeof msg, "device \"%s\" requested but this build has no CUDA backend "
      "(rebuild with -Dcuda=enabled)", spec);
  set_msg (err, err_len, msg);
  return NULL;
#endif
}

void *
ncfm_backend_scratch (NcfmBackend *be, size_t bytes)
{
  if (bytes <= be->scratch_bytes)
    return be->scratch;
  if (be->scratch)
    be->ops->free (be, be->scratch);
  /* grow geometrically so a slowly increasing size does not reallocate each call */
  size_t want = bytes + bytes / 4;
  be->scratch = be->ops->alloc (be, want);
  if (!be->scratch) {
    fprintf (stderr, "ncfm: out of %s memory allocating %zu bytes of scratch\n",
        be->name, want);
    abort ();
  }
  be->scratch_bytes = want;
  return be->scratch;
}

void
ncfm_backend_note_alloc (NcfmBackend *be, void *ptr, size_t bytes)
{
  if (!ptr)
    return;
  if (be->n_live == be->cap_live) {
    size_t cap = be->cap_live ? 2 * be->cap_live : 64;
    struct NcfmAllocation *grown = realloc (be->live, cap * sizeof *grown);
    if (!grown) {
      fprintf (stderr, "ncfm: out of host memory for the allocation table\n");
      abort ();
    }
    be->live = grown;
    be->cap_live = cap;
  }
  be->live[be->n_live++] = (struct NcfmAllocation) { ptr, bytes };
  be->bytes_in_use += bytes;
  if (be->bytes_in_use > be->peak_bytes)
    be->peak_bytes = be->bytes_in_use;
}

void
ncfm_backend_note_free (NcfmBackend *be, void *ptr)
{
  /* newest first: short-lived buffers are freed soonest */
  for (size_t i = be->n_live; i-- > 0;) {
    if (be->live[i].ptr == ptr) {
      be->bytes_in_use -= be->live[i].bytes;
      be->live[i] = be->live[--be->n_live];
      return;
    }
  }
}

void
ncfm_backend_reset_peak (NcfmBackend *be)
{
  be->peak_bytes = be->bytes_in_use;
}

void
ncfm_backend_free (NcfmBackend *be)
{
  if (!be)
    return;
  if (be->scratch)
    be->ops->free (be, be->scratch);
  free (be->live);
#ifdef NCFM_HAVE_CUDA
  if (be->type == NCFM_DEVICE_CUDA) {
    ncfm_backend_free_cuda (be);
    return;
  }
#endif
  free (be);
}
