/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-file.c's writer lock and the clean-up of stale temporaries: a second
 * writer is refused while the first holds the lock (in this process or
 * another, whose pid the error names) and allowed once it is released or
 * killed; only the temporaries of the set that no one holds are removed. */
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include "libncfm-test.h"
#include "ncfm-file.h"

static gchar *
make_file (const gchar *dir, const gchar *name)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  return path;
}

static void
remove_dir (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
  }
  g_rmdir (dir);
}

static void
test_lock_in_process (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-file-XXXXXX", NULL);
  g_autofree gchar *set = g_build_filename (dir, "set.safetensors", NULL);
  g_autofree gchar *lock_file = g_build_filename (dir, ".set.safetensors.lock", NULL);
  g_autofree gchar *pid = g_strdup_printf ("process %ld ", (long) getpid ());

  NcfmFileLock *first = ncfm_file_lock_exclusive (set, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (lock_file, G_FILE_TEST_EXISTS));
  g_assert_null (ncfm_file_lock_exclusive (set, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, set));
  g_assert_nonnull (strstr (error->message, pid));
  g_clear_error (&error);
  /* another set in the same folder is another lock */
  g_autofree gchar *other = g_build_filename (dir, "other.safetensors", NULL);
  g_autoptr (NcfmFileLock) other_lock = ncfm_file_lock_exclusive (other, &error);
  g_assert_no_error (error);

  ncfm_file_lock_release (first);
  g_assert_false (g_file_test (lock_file, G_FILE_TEST_EXISTS));
  g_autoptr (NcfmFileLock) again = ncfm_file_lock_exclusive (set, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_clear_pointer (&again, ncfm_file_lock_release);
  g_clear_pointer (&other_lock, ncfm_file_lock_release);
  remove_dir (dir);
}

/* A child process takes the lock and waits; killed with SIGKILL, it leaves
 * the lock file behind but not the lock. */
static void
test_lock_other_process (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-file-XXXXXX", NULL);
  g_autofree gchar *set = g_build_filename (dir, "set.safetensors", NULL);
  int ready[2];
  g_assert_cmpint (pipe (ready), ==, 0);
  const pid_t child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0) {
    NcfmFileLock *held = ncfm_file_lock_exclusive (set, NULL);
    const char c = held ? 'y' : 'n';
    (void) !write (ready[1], &c, 1);
    for (;;)
      pause ();
  }
  char c = 0;
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'y');
  g_autofree gchar *who = g_strdup_printf ("process %ld ", (long) child);
  g_assert_null (ncfm_file_lock_exclusive (set, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, who));
  g_clear_error (&error);
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  close (ready[0]);
  close (ready[1]);
  g_autoptr (NcfmFileLock) lock = ncfm_file_lock_exclusive (set, &error);
  g_assert_no_error (error);
  g_clear_pointer (&lock, ncfm_file_lock_release);
  remove_dir (dir);
}

static void
test_lock_missing_folder (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (ncfm_file_lock_exclusive ("/nonexistent-ncfm-dir/set.safetensors", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent-ncfm-dir/set.safetensors"));
}

/* A stale temporary goes; a locked one (a live writer), the lock file,
 * names of another pattern and another set's temporaries stay. */
static void
test_stale_temporaries (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-file-XXXXXX", NULL);
  g_autofree gchar *set = make_file (dir, "set.safetensors");
  g_autofree gchar *stale = make_file (dir, ".set.safetensors.Ab3dE9");
  g_autofree gchar *live = make_file (dir, ".set.safetensors.Zz9yY8");
  const gchar *kept[] = { ".set.safetensors.lock", ".set.safetensors.abc",
    ".set.safetensors.abcdefg", ".set.safetensors.ab-de9", ".other.safetensors.Ab3dE9",
    "set.safetensors.Ab3dE9" };
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    g_free (make_file (dir, kept[i]));
  int fd = open (live, O_RDONLY);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);

  g_auto (GStrv) removed = ncfm_file_remove_stale_temporaries (set, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (removed), ==, 1);
  g_assert_cmpstr (removed[0], ==, stale);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (live, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (set, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++) {
    g_autofree gchar *p = g_build_filename (dir, kept[i], NULL);
    g_assert_true (g_file_test (p, G_FILE_TEST_EXISTS));
  }
  /* once its writer is gone, the live one is stale too */
  close (fd);
  g_auto (GStrv) later = ncfm_file_remove_stale_temporaries (set, &error);
  g_assert_cmpuint (g_strv_length (later), ==, 1);
  g_assert_cmpstr (later[0], ==, live);

  g_auto (GStrv) none = ncfm_file_remove_stale_temporaries ("/nonexistent-ncfm-dir/s", &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  remove_dir (dir);
}

/* The atomic writer leaves no temporary behind, and the file is complete. */
static void
test_write_leaves_nothing (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-file-XXXXXX", NULL);
  g_autofree gchar *set = g_build_filename (dir, "set.safetensors", NULL);
  const NcfmFileChunk chunks[2] = { { "abc", 3 }, { "defg", 4 } };
  const gchar *what = NULL;
  int saved_errno = 0;
  for (guint i = 0; i < 2; i++)
    g_assert_true (ncfm_file_write_atomic (set, chunks, 2, 0644, &what, &saved_errno));
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (set, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "abcdefg");
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (d), ==, "set.safetensors");
  g_assert_null (g_dir_read_name (d));
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/file/lock/in-process", test_lock_in_process);
  g_test_add_func ("/file/lock/other-process", test_lock_other_process);
  g_test_add_func ("/file/lock/missing-folder", test_lock_missing_folder);
  g_test_add_func ("/file/stale-temporaries", test_stale_temporaries);
  g_test_add_func ("/file/write-leaves-nothing", test_write_leaves_nothing);
  return g_test_run ();
}
