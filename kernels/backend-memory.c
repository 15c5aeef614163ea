/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-memory.c: scratch memory and allocation accounting, the part of
 * the backend core that every backend's ops call.  Compiled into the kernels
 * library and, as a private copy, into the CUDA module (which then needs
 * nothing from its host). */
#include "ncfm-backend.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void *
ncfm_backend_thread_token (void)
{
  /* pthread_self, not the address of a thread-local variable: the CUDA
   * module links its own copy of this file, and both copies must agree */
  return (void *) (uintptr_t) pthread_self ();
}

void *
ncfm_backend_scratch (NcfmBackend *be, size_t bytes)
{
  /* every op that uses scratch asks for it first, outside its parallel region */
  void *owner = __atomic_load_n (&be->lock_owner, __ATOMIC_ACQUIRE);
  if (owner && owner != ncfm_backend_thread_token () && be->on_race)
    be->on_race (be);
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
