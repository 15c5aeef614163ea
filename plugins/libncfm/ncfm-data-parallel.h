/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_DATA_PARALLEL_H
#define NCFM_DATA_PARALLEL_H

#include <glib-object.h>
#include "ncfm-comm.h"
#include "ncfm-synset.h"

G_BEGIN_DECLS

NcfmComm *ncfm_data_parallel_comm_new (guint shard_index, guint shard_count, GError **error);
guint64 ncfm_synset_checksum (NcfmSynset *self);
gboolean ncfm_data_parallel_check_set (NcfmComm *comm, NcfmSynset *synset, guint64 step,
    GError **error);

G_END_DECLS
#endif
