/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-synset-private.h: what the parts of NcfmSynset share: the object
 * (ncfm-synset-object.c) and its file (ncfm-synset-io.c). */
#ifndef NCFM_SYNSET_PRIVATE_H
#define NCFM_SYNSET_PRIVATE_H

#include "ncfm-synset.h"

G_BEGIN_DECLS

struct _NcfmSynset {
  GObject parent;
  NcfmDevice *device;
  guint k, ipc, c, h, w, factor;
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  guint shard_index, shard_count; /* the classes held: c mod count = index (count 1: all) */
  NcfmTensor **img, **m, **v;   /* per class, [ipc, C, H, W]; NULL for a class not held */
  gint64 *cstep;                /* AdamW steps per class */
  guint64 step;
  gchar *dataset, *dataset_path;
  gchar **class_names;
  GHashTable *meta;             /* further metadata (hyperparameters), key -> value */
};

/* Metadata key of a class shard's file: "INDEX/COUNT". */
#define NCFM_SYNSET_SHARD_KEY "ncfm.class_shard"

gboolean ncfm_synset_upload_classes (NcfmSynset *self, NcfmTensor **parts, const gfloat *host,
    GError **error);

G_END_DECLS
#endif
