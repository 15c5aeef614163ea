/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-comm.c: NcfmComm.  Run alone: the single-process communicator, the
 * launcher detection and the checksum (GTest, TAP).  Run under
 * `mpirun -np N test-comm SCENARIO` (meson registers these only when MPI is
 * found): "values" checks the sums of both reductions and that a checksum
 * mismatch is found and names the ranks; "dead" has the last rank return
 * early, and every other rank must fail with the timeout error, not hang.
 * An MPI scenario prints "rank R: ok" and exits 0 on success. */
#include <string.h>

#include "libncfm-test.h"

static void
test_single (void)
{
  g_autoptr (NcfmComm) comm = ncfm_comm_new_single ();
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (ncfm_comm_get_rank (comm), ==, 0);
  g_assert_cmpuint (ncfm_comm_get_size (comm), ==, 1);
  g_assert_false (ncfm_comm_is_mpi (comm));
  gfloat f[3] = { 1.5f, -2.0f, 3.25f };
  gdouble d[2] = { 1e300, -0.5 };
  g_assert_true (ncfm_comm_allreduce_sum_float (comm, f, 3, &error));
  g_assert_true (ncfm_comm_allreduce_sum_double (comm, d, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (f[2], ==, 3.25f);
  g_assert_cmpfloat (d[0], ==, 1e300);
  g_assert_true (ncfm_comm_check_agree (comm, 42, "the test value", &error));
  g_assert_cmpfloat (ncfm_comm_get_timeout (comm), ==, NCFM_COMM_DEFAULT_TIMEOUT);
  ncfm_comm_set_timeout (comm, 2.5);
  g_assert_cmpfloat (ncfm_comm_get_timeout (comm), ==, 2.5);
}

/* Not launched by mpirun (the test's own environment): ncfm_comm_new() is
 * the single-process communicator. */
static void
test_new_not_launched (void)
{
  if (ncfm_comm_launched (NULL, NULL)) {
    g_test_skip ("the test itself runs under a launcher");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmComm) comm = ncfm_comm_new (&error);
  g_assert_no_error (error);
  g_assert_cmpuint (ncfm_comm_get_size (comm), ==, 1);
}

static void
expect_launched (const gchar *size_var, const gchar *size, const gchar *rank_var,
    const gchar *rank, gboolean want, guint want_rank, guint want_size)
{
  g_setenv (size_var, size, TRUE);
  g_setenv (rank_var, rank, TRUE);
  guint r = 99, n = 99;
  g_assert_cmpint (ncfm_comm_launched (&r, &n), ==, want);
  g_assert_cmpuint (r, ==, want_rank);
  g_assert_cmpuint (n, ==, want_size);
  g_unsetenv (size_var);
  g_unsetenv (rank_var);
}

/* The launchers' variables (set and removed again; this test runs alone in
 * its process before any communicator of a launched run exists). */
static void
test_launched_env (void)
{
  expect_launched ("OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_RANK", "2", TRUE, 2, 4);
  expect_launched ("SLURM_STEP_NUM_TASKS", "3", "SLURM_PROCID", "1", TRUE, 1, 3);
  expect_launched ("PMI_SIZE", "2", "PMI_RANK", "1", TRUE, 1, 2);
  expect_launched ("OMPI_COMM_WORLD_SIZE", "1", "OMPI_COMM_WORLD_RANK", "0", FALSE, 0, 1);
  /* nonsense is "not launched", never a rank out of range */
  expect_launched ("OMPI_COMM_WORLD_SIZE", "2", "OMPI_COMM_WORLD_RANK", "5", FALSE, 0, 1);
  expect_launched ("OMPI_COMM_WORLD_SIZE", "two", "OMPI_COMM_WORLD_RANK", "0", FALSE, 0, 1);
  expect_launched ("OMPI_COMM_WORLD_SIZE", "-3", "OMPI_COMM_WORLD_RANK", "0", FALSE, 0, 1);
}

/* Built without MPI, a launch as several ranks is a clear error. */
static void
test_no_mpi (void)
{
  if (ncfm_comm_built_with_mpi ()) {
    g_test_skip ("libncfm is built with MPI");
    return;
  }
  g_setenv ("OMPI_COMM_WORLD_SIZE", "2", TRUE);
  g_setenv ("OMPI_COMM_WORLD_RANK", "1", TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmComm) comm = ncfm_comm_new (&error);
  g_unsetenv ("OMPI_COMM_WORLD_SIZE");
  g_unsetenv ("OMPI_COMM_WORLD_RANK");
  g_assert_null (comm);
  g_assert_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_NO_MPI);
  g_assert_nonnull (strstr (error->message, "built without MPI"));
  g_assert_nonnull (strstr (error->message, "OMPI_COMM_WORLD_SIZE"));
}

static void
test_checksum (void)
{
  guint8 a[21];
  for (guint i = 0; i < sizeof a; i++)
    a[i] = (guint8) (i * 7);
  const guint64 h = ncfm_comm_checksum (a, sizeof a);
  g_assert_cmpuint (h, ==, ncfm_comm_checksum (a, sizeof a));
  /* a flipped bit in a word and in the tail, a shorter length: all differ */
  a[3] ^= 1;
  g_assert_cmpuint (h, !=, ncfm_comm_checksum (a, sizeof a));
  a[3] ^= 1;
  a[20] ^= 0x80;
  g_assert_cmpuint (h, !=, ncfm_comm_checksum (a, sizeof a));
  a[20] ^= 0x80;
  g_assert_cmpuint (h, !=, ncfm_comm_checksum (a, sizeof a - 1));
  g_assert_cmpuint (ncfm_comm_checksum (NULL, 0), !=, ncfm_comm_checksum (a, 1));
}

/* ---- under mpirun ---- */

static NcfmComm *
world (void)
{
  g_autoptr (GError) error = NULL;
  NcfmComm *comm = ncfm_comm_new (&error);
  g_assert_no_error (error);
  g_assert_true (ncfm_comm_is_mpi (comm));
  g_assert_cmpuint (ncfm_comm_get_size (comm), >=, 2);
  return comm;
}

/* rank r holds (r + 1) * (i + 1): the sums are (i + 1) * N (N + 1) / 2, exact
 * in float for these sizes.  Rank 1 then disagrees on a checksum. */
static void
scenario_values (NcfmComm *comm)
{
  const guint r = ncfm_comm_get_rank (comm), n = ncfm_comm_get_size (comm);
  g_autoptr (GError) error = NULL;
  enum { LEN = 1000 };
  g_autofree gfloat *f = g_new (gfloat, LEN);
  g_autofree gdouble *d = g_new (gdouble, LEN);
  for (guint i = 0; i < LEN; i++) {
    f[i] = (gfloat) ((r + 1) * (i + 1));
    d[i] = 0.25 * (r + 1) * (i + 1);
  }
  g_assert_true (ncfm_comm_allreduce_sum_float (comm, f, LEN, &error));
  g_assert_true (ncfm_comm_allreduce_sum_double (comm, d, LEN, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < LEN; i++) {
    g_assert_cmpfloat (f[i], ==, (gfloat) ((i + 1) * n * (n + 1) / 2));
    g_assert_cmpfloat (d[i], ==, 0.25 * (i + 1) * n * (n + 1) / 2);
  }
  g_assert_true (ncfm_comm_check_agree (comm, 0x1234, "the agreed value", &error));
  g_assert_no_error (error);
  const guint64 mine = r == 1 ? 0xbad : 0x1234;
  g_assert_false (ncfm_comm_check_agree (comm, mine, "the set at step 7", &error));
  g_assert_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_MISMATCH);
  g_printerr ("rank %u: %s\n", r, error->message);
  g_assert_nonnull (strstr (error->message, "the set at step 7"));
  g_assert_nonnull (strstr (error->message, "rank 1 has 0x0000000000000bad"));
  g_assert_nonnull (strstr (error->message, n > 2 ? "ranks 0, 2" : "rank 0 has 0x"));
  /* after a mismatch the communicator still works */
  g_clear_error (&error);
  gfloat one = 1.0f;
  g_assert_true (ncfm_comm_allreduce_sum_float (comm, &one, 1, &error));
  g_assert_cmpfloat (one, ==, (gfloat) n);
}

/* The last rank leaves without taking part; the others time out in 2 s. */
static void
scenario_dead (NcfmComm *comm)
{
  const guint r = ncfm_comm_get_rank (comm), n = ncfm_comm_get_size (comm);
  if (r == n - 1)
    return;
  ncfm_comm_set_timeout (comm, 2.0);
  g_autoptr (GError) error = NULL;
  gfloat x[4] = { 1, 2, 3, 4 };
  const gint64 t0 = g_get_monotonic_time ();
  g_assert_false (ncfm_comm_allreduce_sum_float (comm, x, 4, &error));
  const gdouble waited = (gdouble) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  g_assert_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_TIMEOUT);
  g_printerr ("rank %u: %s\n", r, error->message);
  g_assert_nonnull (strstr (error->message, "MPI_Iallreduce (allreduce_sum of 4 floats)"));
  g_assert_nonnull (strstr (error->message, "timed out after 2."));
  g_assert_cmpfloat (waited, >=, 2.0);
  g_assert_cmpfloat (waited, <, 10.0);
  /* the communicator refuses further collectives at once */
  g_clear_error (&error);
  g_assert_false (ncfm_comm_check_agree (comm, 1, "anything", &error));
  g_assert_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "an earlier collective failed"));
}

int
main (int argc, char **argv)
{
  if (ncfm_comm_launched (NULL, NULL)) {
    if (argc != 2 || (strcmp (argv[1], "values") && strcmp (argv[1], "dead"))) {
      g_printerr ("usage: mpirun -np N %s values|dead\n", argv[0]);
      return 2;
    }
    g_autoptr (NcfmComm) comm = world ();
    if (!strcmp (argv[1], "values"))
      scenario_values (comm);
    else
      scenario_dead (comm);
    g_printerr ("rank %u: ok\n", ncfm_comm_get_rank (comm));
    return 0;
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/comm/single", test_single);
  g_test_add_func ("/comm/new-not-launched", test_new_not_launched);
  g_test_add_func ("/comm/launched-env", test_launched_env);
  g_test_add_func ("/comm/no-mpi", test_no_mpi);
  g_test_add_func ("/comm/checksum", test_checksum);
  return g_test_run ();
}
