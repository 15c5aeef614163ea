/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_COMM_H
#define NCFM_COMM_H

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * NCFM_COMM_ERROR:
 *
 * Error domain of #NcfmComm.  Messages name the collective (or the launcher's
 * environment variable) at fault.
 */
#define NCFM_COMM_ERROR (ncfm_comm_error_quark ())
GQuark ncfm_comm_error_quark (void);

/**
 * NcfmCommError:
 * @NCFM_COMM_ERROR_NO_MPI: the process was launched as one of several ranks
 *   (or more than one was asked for) but libncfm was built without MPI
 * @NCFM_COMM_ERROR_INIT: MPI could not be initialised, or not at the thread
 *   level the elements need (MPI_THREAD_SERIALIZED)
 * @NCFM_COMM_ERROR_TIMEOUT: a collective did not complete on every rank
 *   within the timeout (a rank died or stopped calling it)
 * @NCFM_COMM_ERROR_MPI: an MPI call returned an error
 * @NCFM_COMM_ERROR_MISMATCH: the ranks disagree (ncfm_comm_check_agree())
 * @NCFM_COMM_ERROR_ARGUMENT: a buffer too large for one MPI call
 */
typedef enum {
  NCFM_COMM_ERROR_NO_MPI,
  NCFM_COMM_ERROR_INIT,
  NCFM_COMM_ERROR_TIMEOUT,
  NCFM_COMM_ERROR_MPI,
  NCFM_COMM_ERROR_MISMATCH,
  NCFM_COMM_ERROR_ARGUMENT,
} NcfmCommError;

/**
 * NCFM_COMM_DEFAULT_TIMEOUT:
 *
 * Seconds a collective waits for every rank by default (#NcfmComm:timeout):
 * long enough for a slow step or a dataset still loading on another rank,
 * short enough that a dead rank stops the job.
 */
#define NCFM_COMM_DEFAULT_TIMEOUT 600.0

#define NCFM_TYPE_COMM (ncfm_comm_get_type ())
G_DECLARE_FINAL_TYPE (NcfmComm, ncfm_comm, NCFM, COMM, GObject)

gboolean ncfm_comm_launched (guint *rank, guint *size);
gboolean ncfm_comm_built_with_mpi (void);

NcfmComm *ncfm_comm_new (GError **error);
NcfmComm *ncfm_comm_new_single (void);

guint ncfm_comm_get_rank (NcfmComm *self);
guint ncfm_comm_get_size (NcfmComm *self);
gboolean ncfm_comm_is_mpi (NcfmComm *self);
gdouble ncfm_comm_get_timeout (NcfmComm *self);
void ncfm_comm_set_timeout (NcfmComm *self, gdouble seconds);

gboolean ncfm_comm_allreduce_sum_float (NcfmComm *self, gfloat *data, gsize n, GError **error);
void ncfm_comm_share_rows (NcfmComm *self, gsize n_rows, gsize *first, gsize *count);
gboolean ncfm_comm_allgather_rows_float (NcfmComm *self, gfloat *data, gsize n_values,
    gsize n_rows, GError **error);
gboolean ncfm_comm_allreduce_sum_double (NcfmComm *self, gdouble *data, gsize n,
    GError **error);
gboolean ncfm_comm_check_agree (NcfmComm *self, guint64 checksum, const gchar *what,
    GError **error);
guint64 ncfm_comm_checksum (const guint8 *data, gsize n_bytes);

G_END_DECLS
#endif
