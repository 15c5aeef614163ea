/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ncfm-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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

/* mkstemp, then an exclusive flock held until the caller closes the fd:
 * ncfm_file_remove_stale_temporaries() leaves locked temporaries alone.  A
 * cleaner that removed the file between the two calls leaves us a locked
 * but nameless file: then we try another name.  On a file system without
 * locks the temporary is written unlocked. */
static int
create_locked_temporary (gchar *tmpl, int mode)
{
  const gsize len = strlen (tmpl);
  for (guint attempt = 0; attempt < 8; attempt++) {
    memcpy (tmpl + len - 6, "XXXXXX", 6);
    int fd = g_mkstemp_full (tmpl, O_WRONLY | O_CLOEXEC, mode), r;
    if (fd < 0)
      return -1;
    while ((r = flock (fd, LOCK_EX)) != 0 && errno == EINTR)
      ;
    struct stat held, named;
    if (r != 0 || (fstat (fd, &held) == 0 && g_stat (tmpl, &named) == 0
            && held.st_dev == named.st_dev && held.st_ino == named.st_ino))
      return fd;
    close (fd);
  }
  errno = EAGAIN;
  return -1;
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

  int fd = create_locked_temporary (tmp, mode);
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
  /* renamed while still locked (closing unlocks), so that a cleaner never
   * takes a finished temporary for a stale one */
  if (!*what && g_rename (tmp, path) != 0)
    *what = "cannot rename the temporary file over it";
  if (*what) {
    *saved_errno = errno;
    g_unlink (tmp);
    close (fd);
    return FALSE;
  }
  /* the data is synced and in place: a failing close loses nothing */
  (void) close (fd);
  /* make the rename itself durable; a failure here changes nothing */
  int dir_fd = open (dir, O_RDONLY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void) fsync (dir_fd);
    close (dir_fd);
  }
  return TRUE;
}

/* ---- the writer's lock ---- */

struct _NcfmFileLock {
  gchar *lock_path;
  int fd;
};

static gchar *
sibling_path (const gchar *path, const gchar *suffix)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *name = g_strconcat (".", base, suffix, NULL);
  return g_build_filename (dir, name, NULL);
}

/* The pid the holder wrote into the lock file, 0 if none can be read. */
static gint64
holder_pid (int fd)
{
  gchar buf[32] = { 0 };
  const gssize n = pread (fd, buf, sizeof buf - 1, 0);
  gint64 pid = 0;
  if (n <= 0 || !g_ascii_string_to_signed (g_strstrip (buf), 10, 1, G_MAXINT64, &pid, NULL))
    return 0;
  return pid;
}

static gboolean
same_file (int fd, const gchar *path)
{
  struct stat held, named;
  return fstat (fd, &held) == 0 && g_stat (path, &named) == 0 && held.st_dev == named.st_dev
      && held.st_ino == named.st_ino;
}

NcfmFileLock *
ncfm_file_lock_exclusive (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree gchar *lock_path = sibling_path (path, ".lock");
  int fd = -1;
  /* the holder removes the lock file when it is done: a lock taken on a
   * file that is gone by then protects nothing, so take it again */
  for (guint attempt = 0; fd < 0; attempt++) {
    fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
          "%s: cannot create its lock file %s: %s", path, lock_path, g_strerror (e));
      return NULL;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      const gint64 pid = holder_pid (fd);
      close (fd);
      if (e == EWOULDBLOCK) {
        g_autofree gchar *who = pid ? g_strdup_printf ("process %" G_GINT64_FORMAT, pid)
            : g_strdup ("another process");
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s is being written by %s (it "
            "holds the lock file %s)", path, who, lock_path);
      } else {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: cannot lock %s: %s",
            path, lock_path, g_strerror (e));
      }
      return NULL;
    }
    if (!same_file (fd, lock_path)) {
      close (fd);
      fd = -1;
      if (attempt == 8) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s: its lock file %s keeps being "
            "replaced", path, lock_path);
        return NULL;
      }
    }
  }
  g_autofree gchar *pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) < 0)
    g_debug ("%s: cannot write the pid into it: %s", lock_path, g_strerror (errno));
  NcfmFileLock *lock = g_new (NcfmFileLock, 1);
  lock->lock_path = g_steal_pointer (&lock_path);
  lock->fd = fd;
  return lock;
}

void
ncfm_file_lock_release (NcfmFileLock *lock)
{
  if (!lock)
    return;
  /* removed while still held: whoever opened it meanwhile sees it gone */
  g_unlink (lock->lock_path);
  close (lock->fd);
  g_free (lock->lock_path);
  g_free (lock);
}

/* ---- stale temporaries ---- */

/* ".BASE." followed by the six characters g_mkstemp puts for XXXXXX */
static gboolean
is_temporary_of (const gchar *name, const gchar *base)
{
  const gsize len = strlen (base);
  if (name[0] != '.' || strncmp (name + 1, base, len) != 0 || name[len + 1] != '.'
      || strlen (name + len + 2) != 6)
    return FALSE;
  for (const gchar *c = name + len + 2; *c; c++)
    if (!g_ascii_isalnum (*c))
      return FALSE;
  return TRUE;
}

gchar **
ncfm_file_remove_stale_temporaries (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return NULL;
  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  while ((name = g_dir_read_name (d))) {
    if (!is_temporary_of (name, base))
      continue;
    g_autofree gchar *tmp = g_build_filename (dir, name, NULL);
    int fd = open (tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
      continue;
    struct stat st;
    /* a live writer holds the lock until its rename */
    if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && flock (fd, LOCK_EX | LOCK_NB) == 0
        && same_file (fd, tmp) && g_unlink (tmp) == 0)
      g_ptr_array_add (removed, g_steal_pointer (&tmp));
    close (fd);
  }
  g_ptr_array_add (removed, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&removed), FALSE);
}
