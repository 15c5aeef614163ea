/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-comm.c: the communicator of a distillation run over several
 * processes (Open MPI, launched by mpirun or Slurm's srun), or the
 * single-process one.  Collectives are non-blocking MPI calls polled against
 * a deadline, so a rank that died makes the others fail with an error that
 * names the collective instead of hanging forever. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-comm.h"
#include "ncfm-dataset-private.h"

#include <stdlib.h>
#include <string.h>

#ifdef NCFM_HAVE_MPI
#include <mpi.h>
#endif

/**
 * SECTION:ncfm-comm
 * @title: NcfmComm
 * @short_description: ranks of a run over several processes (MPI)
 *
 * An #NcfmComm is the set of processes that distil together.  ncfm_comm_new()
 * gives the world communicator when the process was launched as one of
 * several ranks (Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, Slurm's srun
 * SLURM_STEP_NUM_TASKS, PMI launchers PMI_SIZE) and the single-process
 * communicator (rank 0 of 1) otherwise.  MPI is initialised once per process,
 * at MPI_THREAD_SERIALIZED since elements call from their streaming threads,
 * and finalised at exit.
 *
 * Every collective waits at most #NcfmComm:timeout seconds: a rank that died
 * or stopped calling it makes the others fail with %NCFM_COMM_ERROR_TIMEOUT;
 * the communicator is unusable after that, every later collective of the
 * process is refused at once, and at exit the process ends the whole job
 * (MPI_Abort) instead of finalising MPI, which would wait for the lost rank
 * forever.  The reductions work on host
 * arrays in place.
 *
 * Thread safety: an #NcfmComm may be shared between threads; its collectives
 * run one at a time (an internal #GMutex), and the process's MPI calls are
 * serialised by one process-wide lock, the one piece of global state, which
 * MPI itself imposes.
 */

G_DEFINE_QUARK (ncfm-comm-error-quark, ncfm_comm_error)

struct _NcfmComm {
  GObject parent_instance;
  guint rank, size;
  GMutex collective;        /* one collective at a time; guards broken */
  gchar *broken;            /* why the communicator is unusable (a timed-out collective) */
  GMutex lock;              /* guards timeout */
  gdouble timeout;
#ifdef NCFM_HAVE_MPI
  MPI_Comm comm;            /* a duplicate of MPI_COMM_WORLD; MPI_COMM_NULL when single */
#endif
};

G_DEFINE_FINAL_TYPE (NcfmComm, ncfm_comm, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RANK,
  PROP_SIZE,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/* The launchers' variables, first match wins: Open MPI's mpirun, PMI-2
 * (MPICH-style and srun --mpi=pmi2), PMIx (srun --mpi=pmix), srun itself.
 * SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: a batch script's own process is in
 * the job but in no step. */
static const gchar *const rank_vars[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
  "SLURM_PROCID", NULL };
static const gchar *const size_vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
  "SLURM_STEP_NUM_TASKS", NULL };

static const gchar *
env_uint (const gchar *const *names, guint *out)
{
  for (guint i = 0; names[i]; i++) {
    guint64 v;
    const gchar *s = g_getenv (names[i]);
    if (s && g_ascii_string_to_unsigned (s, 10, 0, G_MAXINT, &v, NULL)) {
      *out = (guint) v;
      return names[i];
    }
  }
  return NULL;
}

/**
 * ncfm_comm_launched:
 * @rank: (out) (optional): this process's rank as the launcher says
 * @size: (out) (optional): the number of ranks as the launcher says
 *
 * Whether the process was launched as one of several ranks (mpirun, srun),
 * read from the launcher's environment variables.  Nothing is initialised.
 *
 * Returns: %TRUE when the launcher started more than one rank
 */
gboolean
ncfm_comm_launched (guint *rank, guint *size)
{
  guint r = 0, n = 1;
  if (!env_uint (size_vars, &n) || !env_uint (rank_vars, &r) || n < 2 || r >= n)
    r = 0, n = 1;
  if (rank)
    *rank = r;
  if (size)
    *size = n;
  return n > 1;
}

/**
 * ncfm_comm_built_with_mpi:
 *
 * Returns: %TRUE when libncfm was built with MPI (meson option mpi)
 */
gboolean
ncfm_comm_built_with_mpi (void)
{
#ifdef NCFM_HAVE_MPI
  return TRUE;
#else
  return FALSE;
#endif
}

static void
ncfm_comm_init (NcfmComm *self)
{
  g_mutex_init (&self->collective);
  g_mutex_init (&self->lock);
  self->size = 1;
  self->timeout = NCFM_COMM_DEFAULT_TIMEOUT;
#ifdef NCFM_HAVE_MPI
  self->comm = MPI_COMM_NULL;
#endif
}

#ifdef NCFM_HAVE_MPI
/* The process's MPI calls, one at a time (MPI_THREAD_SERIALIZED). */
static GMutex mpi_lock;
/* A collective timed out (under mpi_lock): a rank is gone, and MPI_Finalize
 * would wait for it forever. */
static gboolean mpi_rank_lost;

static void
mpi_finalize_at_exit (void)
{
  int finalized = 0;
  g_mutex_lock (&mpi_lock);
  MPI_Finalized (&finalized);
  if (!finalized && mpi_rank_lost)
    MPI_Abort (MPI_COMM_WORLD, 1);   /* ends the job, the ranks still waiting included */
  else if (!finalized)
    MPI_Finalize ();
  g_mutex_unlock (&mpi_lock);
}

/* MPI_Init_thread, once per process: NULL, or why it failed (kept for the
 * process's life: every later ncfm_comm_new() reports the same). */
static gpointer
mpi_init_once (G_GNUC_UNUSED gpointer unused)
{
  int initialized = 0, provided = 0;
  MPI_Initialized (&initialized);
  if (initialized)
    return g_strdup ("MPI was initialised by someone else: NcfmComm must own its set-up");
  if (MPI_Init_thread (NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    return g_strdup ("MPI_Init_thread failed");
  atexit (mpi_finalize_at_exit);
  MPI_Comm_set_errhandler (MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_SERIALIZED)
    return g_strdup_printf ("MPI provides thread level %d, below MPI_THREAD_SERIALIZED (%d) "
        "that streaming threads need", provided, MPI_THREAD_SERIALIZED);
  return NULL;
}

static gboolean
mpi_fail (GError **error, NcfmComm *self, int rc, const gchar *call, const gchar *what)
{
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string (rc, text, &len);
  g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_MPI, "rank %u of %u: %s (%s) failed: %s",
      self->rank, self->size, call, what, text);
  return FALSE;
}

static gboolean wait_request (NcfmComm *self, MPI_Request *req, const gchar *call,
    const gchar *what, GError **error);

static NcfmComm *
comm_new_world (guint env_rank, guint env_size, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  const gchar *why = g_once (&once, mpi_init_once, NULL);
  if (why) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_INIT, "Cannot initialise MPI as rank "
        "%u of %u: %s", env_rank, env_size, why);
    return NULL;
  }
  g_autoptr (NcfmComm) self = g_object_new (NCFM_TYPE_COMM, NULL);
  self->rank = env_rank;
  self->size = env_size;
  /* a duplicate of the world: the elements' collectives never match the
   * application's own; non-blocking, so a dead rank cannot hang it */
  MPI_Request req = MPI_REQUEST_NULL;
  int rank = 0, size = 0;
  g_mutex_lock (&mpi_lock);
  int rc = MPI_Comm_idup (MPI_COMM_WORLD, &self->comm, &req);
  g_mutex_unlock (&mpi_lock);
  if (rc != MPI_SUCCESS) {
    mpi_fail (error, self, rc, "MPI_Comm_idup", "the world communicator");
    return NULL;
  }
  if (!wait_request (self, &req, "MPI_Comm_idup", "the world communicator", error))
    return NULL;
  g_mutex_lock (&mpi_lock);
  rc = MPI_Comm_set_errhandler (self->comm, MPI_ERRORS_RETURN);
  if (rc == MPI_SUCCESS)
    rc = MPI_Comm_rank (self->comm, &rank);
  if (rc == MPI_SUCCESS)
    rc = MPI_Comm_size (self->comm, &size);
  g_mutex_unlock (&mpi_lock);
  if (rc != MPI_SUCCESS) {
    mpi_fail (error, self, rc, "MPI_Comm_set_errhandler", "the world communicator");
    return NULL;
  }
  if ((guint) rank != env_rank || (guint) size != env_size) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_INIT, "The launcher says rank %u of "
        "%u (%s, %s) but MPI says rank %d of %d: was the program started by a launcher of "
        "another MPI?", env_rank, env_size, env_uint (rank_vars, &env_rank),
        env_uint (size_vars, &env_size), rank, size);
    return NULL;
  }
  return g_steal_pointer (&self);
}
#endif

/**
 * ncfm_comm_new:
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * The world communicator when the process was launched as one of several
 * ranks (see ncfm_comm_launched()), initialising MPI on first use; the
 * single-process communicator otherwise.  Launched as several ranks with a
 * libncfm built without MPI, it fails with %NCFM_COMM_ERROR_NO_MPI.
 *
 * Under a launcher this is a collective (a duplicate of MPI_COMM_WORLD):
 * every rank creates its communicators in the same order; it waits at most
 * %NCFM_COMM_DEFAULT_TIMEOUT seconds for the others.
 *
 * Returns: (transfer full) (nullable): a new communicator, or %NULL with @error set
 */
NcfmComm *
ncfm_comm_new (GError **error)
{
  guint rank, size;
  if (!ncfm_comm_launched (&rank, &size))
    return ncfm_comm_new_single ();
#ifdef NCFM_HAVE_MPI
  return comm_new_world (rank, size, error);
#else
  g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_NO_MPI, "Launched as rank %u of %u "
      "(%s, %s) but libncfm was built without MPI (meson -Dmpi=enabled, with libopenmpi-dev)",
      rank, size, env_uint (rank_vars, &rank), env_uint (size_vars, &size));
  return NULL;
#endif
}

/**
 * ncfm_comm_new_single:
 *
 * The single-process communicator: rank 0 of 1, whose collectives return
 * their input.
 *
 * Returns: (transfer full): a new communicator
 */
NcfmComm *
ncfm_comm_new_single (void)
{
  return g_object_new (NCFM_TYPE_COMM, NULL);
}

/**
 * ncfm_comm_get_rank:
 * @self: a communicator
 *
 * Returns: this process's rank, in [0, size)
 */
guint
ncfm_comm_get_rank (NcfmComm *self)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), 0);
  return self->rank;
}

/**
 * ncfm_comm_get_size:
 * @self: a communicator
 *
 * Returns: the number of ranks
 */
guint
ncfm_comm_get_size (NcfmComm *self)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), 1);
  return self->size;
}

/**
 * ncfm_comm_is_mpi:
 * @self: a communicator
 *
 * Returns: %TRUE for an MPI communicator, %FALSE for the single-process one
 */
gboolean
ncfm_comm_is_mpi (NcfmComm *self)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), FALSE);
#ifdef NCFM_HAVE_MPI
  return self->comm != MPI_COMM_NULL;
#else
  return FALSE;
#endif
}

/**
 * ncfm_comm_get_timeout:
 * @self: a communicator
 *
 * Returns: the seconds a collective waits for every rank (#NcfmComm:timeout)
 */
gdouble
ncfm_comm_get_timeout (NcfmComm *self)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), 0.0);
  g_mutex_lock (&self->lock);
  const gdouble t = self->timeout;
  g_mutex_unlock (&self->lock);
  return t;
}

/**
 * ncfm_comm_set_timeout:
 * @self: a communicator
 * @seconds: how long a collective waits for every rank, > 0
 *
 * Sets #NcfmComm:timeout (also for a collective waiting now in another
 * thread, from its next poll).
 */
void
ncfm_comm_set_timeout (NcfmComm *self, gdouble seconds)
{
  g_return_if_fail (NCFM_IS_COMM (self));
  g_return_if_fail (seconds > 0.0);
  g_object_set (self, "timeout", seconds, NULL);
}

#ifdef NCFM_HAVE_MPI
/* Polls a started collective until it completes or the timeout passes.  The
 * MPI lock is taken per call, not for the wait, so that other threads' MPI
 * calls go on meanwhile. */
static gboolean
wait_request (NcfmComm *self, MPI_Request *req, const gchar *call, const gchar *what,
    GError **error)
{
  const gint64 start = g_get_monotonic_time ();
  gulong nap = 0;
  for (;;) {
    int done = 0;
    g_mutex_lock (&mpi_lock);
    const int rc = MPI_Test (req, &done, MPI_STATUS_IGNORE);
    g_mutex_unlock (&mpi_lock);
    if (rc != MPI_SUCCESS)
      return mpi_fail (error, self, rc, call, what);
    if (done)
      return TRUE;
    const gdouble waited = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
    const gdouble timeout = ncfm_comm_get_timeout (self);
    if (waited >= timeout) {
      /* a collective cannot be cancelled: the communicator stays unusable */
      g_autofree gchar *msg = g_strdup_printf ("rank %u of %u: %s (%s) timed out after %.1f s "
          "waiting for the other ranks (timeout %.1f s): a rank died or stopped calling it",
          self->rank, self->size, call, what, waited, timeout);
      self->broken = g_strdup (msg);
      g_mutex_lock (&mpi_lock);
      mpi_rank_lost = TRUE;
      g_mutex_unlock (&mpi_lock);
      g_set_error_literal (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_TIMEOUT, msg);
      return FALSE;
    }
    /* spin briefly (a step's reduction is usually quick), then nap <= 1 ms */
    nap = MIN (nap * 2 + 1, 1000);
    g_usleep (nap);
  }
}

/* Starts a collective with the MPI lock held and waits for it; the caller
 * holds self->collective. */
typedef int (*StartFunc) (NcfmComm *self, gpointer data, MPI_Request *req);

static gboolean
collective (NcfmComm *self, StartFunc start, gpointer data, const gchar *call,
    const gchar *what, GError **error)
{
  if (self->broken) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_TIMEOUT, "rank %u of %u: %s (%s) "
        "refused: an earlier collective failed (%s)", self->rank, self->size, call, what,
        self->broken);
    return FALSE;
  }
  MPI_Request req = MPI_REQUEST_NULL;
  g_mutex_lock (&mpi_lock);
  /* a collective of another communicator timed out: the rank it waited for
   * is gone for this one too, no use waiting for it again */
  const gboolean lost = mpi_rank_lost;
  const int rc = lost ? MPI_SUCCESS : start (self, data, &req);
  g_mutex_unlock (&mpi_lock);
  if (lost) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_TIMEOUT, "rank %u of %u: %s (%s) "
        "refused: a collective of this process timed out, a rank is gone", self->rank,
        self->size, call, what);
    return FALSE;
  }
  if (rc != MPI_SUCCESS)
    return mpi_fail (error, self, rc, call, what);
  return wait_request (self, &req, call, what, error);
}

typedef struct {
  gpointer buf;
  int count;
  MPI_Datatype type;
  gpointer out;            /* allgather: size values */
} Args;

static int
start_allreduce (NcfmComm *self, gpointer data, MPI_Request *req)
{
  Args *a = data;
  return MPI_Iallreduce (MPI_IN_PLACE, a->buf, a->count, a->type, MPI_SUM, self->comm, req);
}

static int
start_allgather (NcfmComm *self, gpointer data, MPI_Request *req)
{
  Args *a = data;
  return MPI_Iallgather (a->buf, a->count, a->type, a->out, a->count, a->type, self->comm, req);
}

typedef struct {
  gfloat *buf;
  int *counts, *displs;
} RowsArgs;

static int
start_allgather_rows (NcfmComm *self, gpointer data, MPI_Request *req)
{
  RowsArgs *a = data;
  return MPI_Iallgatherv (MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, a->buf, a->counts, a->displs,
      MPI_FLOAT, self->comm, req);
}
#endif

/**
 * ncfm_comm_share_rows:
 * @self: a communicator
 * @n_rows: rows of the matrix, the same on every rank
 * @first: (out): the first row of this rank's share
 * @count: (out): the rows of this rank's share
 *
 * Rank r's share of @n_rows rows: a contiguous block, the blocks of ranks
 * 0, 1, ... in order, their sizes differing by at most one.  What
 * ncfm_comm_allgather_rows_float() assumes each rank filled.
 */
void
ncfm_comm_share_rows (NcfmComm *self, gsize n_rows, gsize *first, gsize *count)
{
  g_return_if_fail (NCFM_IS_COMM (self));
  const gsize r = self->rank, n = self->size;
  *first = n_rows * r / n;
  *count = n_rows * (r + 1) / n - *first;
}

/**
 * ncfm_comm_allgather_rows_float:
 * @self: a communicator
 * @data: (array length=n_values) (inout): a row-major matrix of @n_rows rows
 *   of which this rank filled its share (ncfm_comm_share_rows()); on return
 *   every rank holds every row
 * @n_values: values of @data: @n_rows x the row length
 * @n_rows: rows of @data, the same on every rank
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * Gathers the ranks' shares of a matrix in place (one MPI_Iallgatherv),
 * waiting at most #NcfmComm:timeout seconds: work that every rank would
 * otherwise repeat (drawing the same Gaussian frequencies) is split.
 *
 * Returns: %TRUE on success; on failure the rows of other ranks are undefined
 */
gboolean
ncfm_comm_allgather_rows_float (NcfmComm *self, gfloat *data, gsize n_values, gsize n_rows,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), FALSE);
  g_return_val_if_fail (data != NULL || n_values == 0, FALSE);
  if (n_rows == 0 || n_values % n_rows != 0 || n_values > G_MAXINT) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_ARGUMENT, "allgather of %"
        G_GSIZE_FORMAT " floats in %" G_GSIZE_FORMAT " rows: not whole rows, or more than %d "
        "values", n_values, n_rows, G_MAXINT);
    return FALSE;
  }
#ifdef NCFM_HAVE_MPI
  if (self->comm == MPI_COMM_NULL)
    return TRUE;
  const gsize row = n_values / n_rows;
  g_autofree int *counts = g_new (int, self->size), *displs = g_new (int, self->size);
  for (guint r = 0; r < self->size; r++) {
    const gsize first = n_rows * r / self->size, last = n_rows * (r + 1) / self->size;
    displs[r] = (int) (first * row);
    counts[r] = (int) ((last - first) * row);
  }
  g_autofree gchar *what = g_strdup_printf ("allgather of %" G_GSIZE_FORMAT " rows of %"
      G_GSIZE_FORMAT " floats", n_rows, row);
  RowsArgs a = { data, counts, displs };
  g_mutex_lock (&self->collective);
  const gboolean ok = collective (self, start_allgather_rows, &a, "MPI_Iallgatherv", what,
      error);
  g_mutex_unlock (&self->collective);
  return ok;
#else
  return TRUE;
#endif
}

/* The sum over the ranks of n values of one MPI type, in place. */
static gboolean
allreduce_sum (NcfmComm *self, gpointer data, gsize n, gboolean is_double, GError **error)
{
  const gchar *type = is_double ? "double" : "float";
  if (n > G_MAXINT) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_ARGUMENT, "allreduce_sum of %"
        G_GSIZE_FORMAT " %ss: more than %d values in one buffer", n, type, G_MAXINT);
    return FALSE;
  }
#ifdef NCFM_HAVE_MPI
  if (self->comm == MPI_COMM_NULL)
    return TRUE;
  g_autofree gchar *what = g_strdup_printf ("allreduce_sum of %" G_GSIZE_FORMAT " %ss", n, type);
  Args a = { data, (int) n, is_double ? MPI_DOUBLE : MPI_FLOAT, NULL };
  g_mutex_lock (&self->collective);
  const gboolean ok = collective (self, start_allreduce, &a, "MPI_Iallreduce", what, error);
  g_mutex_unlock (&self->collective);
  return ok;
#else
  (void) self;
  (void) data;
  return TRUE;
#endif
}

/**
 * ncfm_comm_allreduce_sum_float:
 * @self: a communicator
 * @data: (array length=n) (inout): values, replaced by their sum over the ranks
 * @n: number of values, the same on every rank
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * Sums @data element-wise over the ranks, in place (one MPI_Iallreduce),
 * waiting at most #NcfmComm:timeout seconds.
 *
 * Returns: %TRUE on success; on failure @data is undefined
 */
gboolean
ncfm_comm_allreduce_sum_float (NcfmComm *self, gfloat *data, gsize n, GError **error)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), FALSE);
  g_return_val_if_fail (data != NULL || n == 0, FALSE);
  return allreduce_sum (self, data, n, FALSE, error);
}

/**
 * ncfm_comm_allreduce_sum_double:
 * @self: a communicator
 * @data: (array length=n) (inout): values, replaced by their sum over the ranks
 * @n: number of values, the same on every rank
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * As ncfm_comm_allreduce_sum_float() for doubles.
 *
 * Returns: %TRUE on success; on failure @data is undefined
 */
gboolean
ncfm_comm_allreduce_sum_double (NcfmComm *self, gdouble *data, gsize n, GError **error)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), FALSE);
  g_return_val_if_fail (data != NULL || n == 0, FALSE);
  return allreduce_sum (self, data, n, TRUE, error);
}

#ifdef NCFM_HAVE_MPI
/* "rank 0 has 0x...; ranks 1, 3 have 0x...": the values grouped, in rank order. */
static gchar *
describe_values (const guint64 *all, guint size)
{
  GString *s = g_string_new (NULL);
  g_autofree gboolean *told = g_new0 (gboolean, size);
  for (guint r = 0; r < size; r++) {
    if (told[r])
      continue;
    GString *ranks = g_string_new (NULL);
    guint count = 0;
    for (guint q = r; q < size; q++)
      if (all[q] == all[r]) {
        g_string_append_printf (ranks, "%s%u", count++ ? ", " : "", q);
        told[q] = TRUE;
      }
    g_string_append_printf (s, "%s%s %s %s 0x%016" G_GINT64_MODIFIER "x", s->len ? "; " : "",
        count > 1 ? "ranks" : "rank", ranks->str, count > 1 ? "have" : "has", all[r]);
    g_string_free (ranks, TRUE);
  }
  return g_string_free (s, FALSE);
}
#endif

/**
 * ncfm_comm_check_agree:
 * @self: a communicator
 * @checksum: this rank's checksum of the state that must be equal everywhere
 *   (ncfm_comm_checksum())
 * @what: what was summed, for the message (e.g. "the synthetic set at step 100")
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * Gathers every rank's @checksum (one MPI_Iallgather) and checks they are
 * equal.  On every rank, a mismatch is %NCFM_COMM_ERROR_MISMATCH naming
 * @what and which ranks hold which value.
 *
 * Returns: %TRUE when all ranks agree
 */
gboolean
ncfm_comm_check_agree (NcfmComm *self, guint64 checksum, const gchar *what, GError **error)
{
  g_return_val_if_fail (NCFM_IS_COMM (self), FALSE);
  g_return_val_if_fail (what != NULL, FALSE);
#ifdef NCFM_HAVE_MPI
  if (self->comm == MPI_COMM_NULL)
    return TRUE;
  g_autofree guint64 *all = g_new0 (guint64, self->size);
  g_autofree gchar *call_what = g_strdup_printf ("checksum of %s", what);
  Args a = { &checksum, 1, MPI_UINT64_T, all };
  g_mutex_lock (&self->collective);
  const gboolean ok = collective (self, start_allgather, &a, "MPI_Iallgather", call_what, error);
  g_mutex_unlock (&self->collective);
  if (!ok)
    return FALSE;
  for (guint r = 1; r < self->size; r++)
    if (all[r] != all[0]) {
      g_autofree gchar *values = describe_values (all, self->size);
      g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_MISMATCH, "The ranks disagree on "
          "%s: %s", what, values);
      return FALSE;
    }
  return TRUE;
#else
  (void) checksum;
  (void) error;
  return TRUE;
#endif
}

/**
 * ncfm_comm_checksum:
 * @data: (array length=n_bytes): bytes
 * @n_bytes: their number
 *
 * A 64-bit checksum of @data (the dataset cache's hash, over 8-byte
 * little-endian words and the length), the same on every machine; for
 * ncfm_comm_check_agree().
 *
 * Returns: the checksum
 */
guint64
ncfm_comm_checksum (const guint8 *data, gsize n_bytes)
{
  g_return_val_if_fail (data != NULL || n_bytes == 0, 0);
  return ncfm_dataset_hash64 (data, n_bytes, 0);
}

static void
ncfm_comm_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  NcfmComm *self = NCFM_COMM (object);
  switch (id) {
    case PROP_RANK: g_value_set_uint (value, self->rank); break;
    case PROP_SIZE: g_value_set_uint (value, self->size); break;
    case PROP_TIMEOUT: g_value_set_double (value, ncfm_comm_get_timeout (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
ncfm_comm_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  NcfmComm *self = NCFM_COMM (object);
  switch (id) {
    case PROP_TIMEOUT:
      g_mutex_lock (&self->lock);
      self->timeout = g_value_get_double (value);
      g_mutex_unlock (&self->lock);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
ncfm_comm_finalize (GObject *object)
{
  NcfmComm *self = NCFM_COMM (object);
#ifdef NCFM_HAVE_MPI
  /* after a timeout the pending collective keeps the duplicate: leave it */
  if (self->comm != MPI_COMM_NULL && !self->broken) {
    g_mutex_lock (&mpi_lock);
    MPI_Comm_free (&self->comm);
    g_mutex_unlock (&mpi_lock);
  }
#endif
  g_free (self->broken);
  g_mutex_clear (&self->collective);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_comm_parent_class)->finalize (object);
}

static void
ncfm_comm_class_init (NcfmCommClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = ncfm_comm_get_property;
  object_class->set_property = ncfm_comm_set_property;
  object_class->finalize = ncfm_comm_finalize;
  /**
   * NcfmComm:rank:
   *
   * This process's rank, in [0, size).
   */
  props[PROP_RANK] = g_param_spec_uint ("rank", "Rank", "This process's rank", 0, G_MAXINT, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * NcfmComm:size:
   *
   * The number of ranks (1 for the single-process communicator).
   */
  props[PROP_SIZE] = g_param_spec_uint ("size", "Size", "The number of ranks", 1, G_MAXINT, 1,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * NcfmComm:timeout:
   *
   * Seconds a collective waits for every rank before it fails with
   * %NCFM_COMM_ERROR_TIMEOUT.
   */
  props[PROP_TIMEOUT] = g_param_spec_double ("timeout", "Timeout", "Seconds a collective waits "
      "for every rank before failing", 1e-3, 1e7, NCFM_COMM_DEFAULT_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}
