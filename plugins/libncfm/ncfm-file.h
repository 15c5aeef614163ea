/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-file.h: the one atomic file writer of libncfm (C only, not in the
 * typelib): safetensors files, synthetic sets and the decoded dataset cache
 * are all written through it, so a crash at any moment leaves the old file or
 * the new one, never a torn one; and the writer's lock and the clean-up of
 * the temporaries a crash leaves behind. */
#ifndef NCFM_FILE_H
#define NCFM_FILE_H

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gconstpointer data;
  gsize len;
} NcfmFileChunk;

/* Writes the chunks, in order, to a temporary file beside `path` (mode
 * `mode`), syncs it, renames it over `path` and syncs the folder.  On failure
 * the temporary file is removed, `path` is left as it was, and *what (a
 * phrase such as "cannot write") and *saved_errno say why, for the caller's
 * own error message. */
gboolean ncfm_file_write_atomic (const gchar *path, const NcfmFileChunk *chunks, guint n_chunks,
    int mode, const gchar **what, int *saved_errno);

/* An exclusive advisory lock on `path` for one writer at a time (flock on
 * the sibling file `.NAME.lock`, which holds the holder's pid; a lock on
 * `path` itself would be lost with every atomic rename over it).  Taken at
 * once or not at all: G_IO_ERROR_BUSY names `path` and the holder's pid.
 * Released (and the lock file removed) by ncfm_file_lock_release(), or by
 * the process's end, kill -9 included. */
typedef struct _NcfmFileLock NcfmFileLock;

NcfmFileLock *ncfm_file_lock_exclusive (const gchar *path, GError **error);
void ncfm_file_lock_release (NcfmFileLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NcfmFileLock, ncfm_file_lock_release)

/* Removes the temporaries `.NAME.XXXXXX` that ncfm_file_write_atomic() left
 * beside `path` when its process died mid-write: those whose lock can be
 * taken (a live writer holds its temporary's lock until the rename).
 * Returns the removed paths (a NULL-terminated array, empty if none), or
 * NULL with `error` set if the folder cannot be read. */
gchar **ncfm_file_remove_stale_temporaries (const gchar *path, GError **error);

G_END_DECLS
#endif
