/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-shard.c: how a run over N ranks divides the data.  Class shards: rank
 * r of N takes the classes r, r + N, ... (each rank distils its own classes,
 * ncfm-synset-shard.c joins the sets).  Data parallel: rank r of N takes the
 * images r, r + N, ... of every class (every rank distils every class, the
 * characteristic-function statistics are summed over the ranks).  Both are
 * deterministic, disjoint and cover everything. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-shard.h"
#include "ncfm-comm.h"
#include "ncfm-device.h"

/**
 * ncfm_shard_resolve:
 * @index: (inout): the shard (rank), in [0, @count)
 * @count: (inout): the number of shards; 0 = from the launcher: this
 *   process's rank and the number of ranks (ncfm_comm_launched()), 0 of 1
 *   when not launched by mpirun or srun
 * @error: return location for a #GError (%NCFM_ERROR_ARGUMENT)
 *
 * Resolves "auto" and checks the pair.
 *
 * Returns: %TRUE, or %FALSE with @error set when @index >= @count
 */
gboolean
ncfm_shard_resolve (guint *index, guint *count, GError **error)
{
  g_return_val_if_fail (index != NULL && count != NULL, FALSE);
  if (*count == 0)
    ncfm_comm_launched (index, count);
  if (*index >= *count) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "shard %u of %u: the shard index must "
        "be below the shard count", *index, *count);
    return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_shard_classes:
 * @classes: (array length=n_classes): the classes of the whole run, in order
 * @n_classes: their number
 * @index: the shard, in [0, @count)
 * @count: the number of shards, >= 1
 * @n_out: (out): the number of classes of the shard
 * @error: return location for a #GError (%NCFM_ERROR_ARGUMENT)
 *
 * The class shard @index of @count: @classes[@index], @classes[@index +
 * @count], ...
 *
 * Returns: (array length=n_out) (transfer full) (nullable): the classes, or
 *   %NULL with @error set when the shard holds no class
 */
guint *
ncfm_shard_classes (const guint *classes, guint n_classes, guint index, guint count,
    guint *n_out, GError **error)
{
  g_return_val_if_fail (classes != NULL || n_classes == 0, NULL);
  g_return_val_if_fail (count >= 1 && n_out != NULL, NULL);
  *n_out = 0;
  if (index >= n_classes) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "class shard %u of %u holds no class "
        "(%u classes): use at most %u shards", index, count, n_classes, n_classes);
    return NULL;
  }
  return ncfm_shard_slice (classes, n_classes, index, count, n_out);
}

/**
 * ncfm_shard_slice:
 * @indices: (array length=n_indices): the items (image indices of a class)
 * @n_indices: their number
 * @index: the shard, in [0, @count)
 * @count: the number of shards, >= 1
 * @n_out: (out): the number of items of the shard
 *
 * The slice @index of @count: @indices[@index], @indices[@index + @count],
 * ..., in order (empty when @n_indices <= @index).
 *
 * Returns: (array length=n_out) (transfer full): the items of the slice
 */
guint *
ncfm_shard_slice (const guint *indices, guint n_indices, guint index, guint count, guint *n_out)
{
  g_return_val_if_fail (indices != NULL || n_indices == 0, NULL);
  g_return_val_if_fail (count >= 1 && index < count && n_out != NULL, NULL);
  guint *out = g_new (guint, n_indices / count + 1);
  guint n = 0;
  for (guint64 i = index; i < n_indices; i += count)
    out[n++] = indices[i];
  *n_out = n;
  return out;
}
