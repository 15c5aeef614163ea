/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-data-parallel
 * @title: Data-parallel distillation
 * @short_description: the ranks of a run that share every class
 *
 * In data-parallel mode every rank reads its own slice of every class
 * (ncfm_loader_set_slice()), sums its per-class CF statistics with the
 * others' (ncfm_cf_stats_allreduce()) and takes the same step on its own
 * copy of the synthetic set.  The copies stay equal as long as the ranks
 * agree on everything else (seeds, frequencies, augmentation, models):
 * ncfm_data_parallel_check_set() compares them now and then, so that a
 * divergence stops the run instead of saving one rank's drift.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-data-parallel.h"

/* Seconds a collective waits, from the environment (tests, impatient users). */
static void
apply_timeout_env (NcfmComm *comm)
{
  const gchar *s = g_getenv ("NCFM_COMM_TIMEOUT");
  gchar *end = NULL;
  const gdouble t = s ? g_ascii_strtod (s, &end) : 0.0;
  if (s && end != s && !*end && t >= 1e-3 && t <= 1e7)
    ncfm_comm_set_timeout (comm, t);
  else if (s)
    g_warning ("NCFM_COMM_TIMEOUT=\"%s\" is not a number of seconds in [0.001, 1e7]: "
        "collectives wait %.0f s", s, ncfm_comm_get_timeout (comm));
}

/**
 * ncfm_data_parallel_comm_new:
 * @shard_index: this process's slice of the data (the source's shard index)
 * @shard_count: the number of slices, > 1
 * @error: return location for a #GError (%NCFM_COMM_ERROR)
 *
 * The communicator of a data-parallel run (ncfm_comm_new()), checked
 * against the source's sharding: this process must be rank @shard_index of
 * @shard_count ranks launched by mpirun or srun.  Otherwise (not launched
 * so, another count, or a libncfm built without MPI) it fails with an error
 * that says which.  $NCFM_COMM_TIMEOUT, when set, is the seconds its
 * collectives wait (#NcfmComm:timeout).
 *
 * A collective under a launcher: every rank calls it in the same order.
 *
 * Returns: (transfer full) (nullable): the communicator, or %NULL with @error set
 */
NcfmComm *
ncfm_data_parallel_comm_new (guint shard_index, guint shard_count, GError **error)
{
  g_return_val_if_fail (shard_index < shard_count, NULL);
  if (!ncfm_comm_built_with_mpi ()) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_NO_MPI, "Data parallel over %u "
        "slices (slice %u) needs MPI, but libncfm was built without it (meson -Dmpi=enabled, "
        "with libopenmpi-dev); class shards (class-shard=true) need no MPI", shard_count,
        shard_index);
    return NULL;
  }
  g_autoptr (NcfmComm) comm = ncfm_comm_new (error);
  if (!comm)
    return NULL;
  const guint rank = ncfm_comm_get_rank (comm), size = ncfm_comm_get_size (comm);
  if (rank != shard_index || size != shard_count) {
    g_set_error (error, NCFM_COMM_ERROR, NCFM_COMM_ERROR_INIT, "Data parallel over %u slices "
        "(slice %u) needs this process to be rank %u of %u ranks launched by mpirun or srun, "
        "but it is rank %u of %u%s", shard_count, shard_index, shard_index, shard_count, rank,
        size, size > 1 ? "" : " (not launched by mpirun or srun)");
    return NULL;
  }
  apply_timeout_env (comm);
  return g_steal_pointer (&comm);
}

/**
 * ncfm_synset_checksum:
 * @self: a #NcfmSynset
 *
 * ncfm_comm_checksum() of the stored images of every class, in class
 * order, read back from the set's device: equal sets give equal checksums
 * on every machine.
 *
 * Returns: the checksum
 */
guint64
ncfm_synset_checksum (NcfmSynset *self)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), 0);
  guint k = 0;
  ncfm_synset_get_shape (self, &k, NULL, NULL, NULL, NULL, NULL);
  g_autoptr (GByteArray) all = g_byte_array_new ();
  for (guint c = 0; c < k; c++) {
    g_autoptr (GBytes) bytes = ncfm_tensor_to_bytes (ncfm_synset_get_images (self, c));
    gsize n = 0;
    const guint8 *data = g_bytes_get_data (bytes, &n);
    g_byte_array_append (all, data, (guint) n);
  }
  return ncfm_comm_checksum (all->data, all->len);
}

/**
 * ncfm_data_parallel_check_set:
 * @comm: the data-parallel ranks
 * @synset: this rank's copy of the synthetic set
 * @step: the step the set is at, for the message
 * @error: return location for a #GError (%NCFM_COMM_ERROR_MISMATCH when
 *   the copies differ, naming @step and the ranks)
 *
 * Checks that every rank's copy of the set is the same
 * (ncfm_synset_checksum(), ncfm_comm_check_agree()).  A collective: every
 * rank calls it at the same steps.
 *
 * Returns: %TRUE when all copies agree
 */
gboolean
ncfm_data_parallel_check_set (NcfmComm *comm, NcfmSynset *synset, guint64 step, GError **error)
{
  g_return_val_if_fail (NCFM_IS_COMM (comm) && NCFM_IS_SYNSET (synset), FALSE);
  g_autofree gchar *what = g_strdup_printf ("the synthetic set at step %" G_GUINT64_FORMAT,
      step);
  return ncfm_comm_check_agree (comm, ncfm_synset_checksum (synset), what, error);
}
