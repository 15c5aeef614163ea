/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-file.h: the one atomic file writer of libncfm (C only, not in the
 * typelib): safetensors files, synthetic sets and the decoded dataset cache
 * are all written through it, so a crash at any moment leaves the old file or
 * the new one, never a torn one. */
#ifndef NCFM_FILE_H
#define NCFM_FILE_H

#include <glib.h>

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

G_END_DECLS
#endif
