/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ncfm-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

static gboolean
write_all (int fd, const guint8 *p, gsize n)
{
  while (n > 0) {
    gssize w = write (fd, p, MIN (n, (gsize) G_MAXSSIZE));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return FALSE;
    p += w;
    n -= (gsize) w;
  }
  return TRUE;
}

gboolean
ncfm_file_write_atomic (const gchar *path, const NcfmFileChunk *chunks, guint n_chunks, int mode,
    const gchar **what, int *saved_errno)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *tmp = g_strdup_printf ("%s" G_DIR_SEPARATOR_S ".%s.XXXXXX", dir, base);
  *what = NULL;
  *saved_errno = 0;

  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) {
    *saved_errno = errno;
    *what = "cannot create a temporary file beside it";
    return FALSE;
  }
  for (guint i = 0; i < n_chunks && !*what; i++)
    if (!write_all (fd, chunks[i].data, chunks[i].len))
      *what = "cannot write";
  if (!*what && fsync (fd) != 0)
    *what = "cannot sync";
  if (*what)
    *saved_errno = errno;
  if (close (fd) != 0 && !*what) {
    *saved_errno = errno;
    *what = "cannot close";
  }
  if (!*what && g_rename (tmp, path) != 0) {
    *saved_errno = errno;
    *what = "cannot rename the temporary file over it";
  }
  if (*what) {
    g_unlink (tmp);
    return FALSE;
  }
  /* make the rename itself durable; a failure here changes nothing */
  int dir_fd = open (dir, O_RDONLY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void) fsync (dir_fd);
    close (dir_fd);
  }
  return TRUE;
}
