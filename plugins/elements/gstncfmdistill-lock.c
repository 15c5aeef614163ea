/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-lock.c: one writer per synthetic set.  Two distillers on
 * one location would each resume from the file and then overwrite each
 * other's saves, silently losing one run's steps; so a run claims the
 * location at start (ncfm_file_lock_exclusive) until stop.  Holding the
 * claim, it also removes the temporaries that saves killed mid-write left. */
#include "gstncfmdistill-private.h"

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

/* The lock on s_location (for the caller to keep until stop), or NULL with
 * an error posted; stale temporaries of the set are removed under it. */
NcfmFileLock *
gst_ncfm_distill_claim_location (GstNcfmDistill *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmFileLock) lock = ncfm_file_lock_exclusive (self->s_location, &error);
  if (!lock) {
    const gboolean busy = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY);
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY, ("Cannot write the synthetic set %s (property "
            "location): %s", self->s_location, error->message), ("%s", busy
            ? "another ncfmdistill writes it: wait for it to finish, or choose another location"
            : "the location's folder must exist and be writable"));
    return NULL;
  }
  g_auto (GStrv) removed = ncfm_file_remove_stale_temporaries (self->s_location, &error);
  if (!removed)
    GST_WARNING_OBJECT (self, "cannot look for stale temporaries of %s: %s", self->s_location,
        error->message);
  for (guint i = 0; removed && removed[i]; i++)
    GST_WARNING_OBJECT (self, "removed %s, the temporary of a save that was interrupted",
        removed[i]);
  return g_steal_pointer (&lock);
}
