/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_SYNSET_SHARD_H
#define NCFM_SYNSET_SHARD_H

#include <glib-object.h>
#include "ncfm-safetensors.h"

G_BEGIN_DECLS

/**
 * NcfmSynsetMergeFlags:
 * @NCFM_SYNSET_MERGE_NONE: defaults
 * @NCFM_SYNSET_MERGE_PSI_DROPPED: the shards' learned-sampler states
 *   (psi.*) differed, so the merged set holds none
 *
 * What ncfm_synset_merge() did beyond joining the classes.
 */
typedef enum {
  NCFM_SYNSET_MERGE_NONE = 0,
  NCFM_SYNSET_MERGE_PSI_DROPPED = 1 << 0,
} NcfmSynsetMergeFlags;

NcfmSafetensors *ncfm_synset_shard_split (NcfmSafetensors *set, const gchar *name, guint index,
    guint count, GError **error);
NcfmSafetensors *ncfm_synset_merge (NcfmSafetensors **shards, const gchar *const *names,
    guint n_shards, NcfmSynsetMergeFlags *flags, GError **error);

G_END_DECLS
#endif
