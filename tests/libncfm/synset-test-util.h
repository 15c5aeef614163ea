/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* synset-test-util.h: synthetic sets for the tests of the set's checks
 * (libncfm, ncfmdistill, ncfm-synset): a small valid one, and the ways of
 * poisoning one, written from C so that no binary fixture is committed. */
#ifndef SYNSET_TEST_UTIL_H
#define SYNSET_TEST_UTIL_H

#include <ncfm.h>

G_BEGIN_DECLS

typedef enum {
  SYNSET_POISON_NAN_PIXEL,      /* images: NaN */
  SYNSET_POISON_PIXEL_300,      /* images: 300 */
  SYNSET_POISON_INF_ADAMW_M,    /* adamw.m: +Inf */
  SYNSET_POISON_NEG_ADAMW_V,    /* adamw.v: -1 */
  SYNSET_POISON_NEG_STEP,       /* adamw.step: -1 */
  SYNSET_POISON_WRAPPED_STEP,   /* ncfm.step: 2^64 - 1 (a wrapped -1) */
  SYNSET_POISON_NAN_PSI,        /* psi.*: NaN in the first F32 tensor */
  SYNSET_N_POISONS
} SynsetPoison;

/* What a poison damages (the tensor or key an error must name). */
const gchar *synset_poison_target (SynsetPoison poison);
/* A valid set: k classes of ipc images [c, h, w] in [0, 1], class names
 * "class0".., AdamW state and a psi.weight tensor, factor 1. */
NcfmSafetensors *synset_test_make (guint k, guint ipc, guint c, guint h, guint w);
/* Damages the middle element of the target (for images: of class k / 2). */
void synset_test_poison (NcfmSafetensors *set, SynsetPoison poison);
/* Loads path, poisons it and saves it back. */
void synset_test_poison_file (const gchar *path, SynsetPoison poison);
/* A checksum of the file's bytes (the file must exist). */
gchar *synset_test_file_hash (const gchar *path);
/* Removes a directory and everything in it. */
void synset_test_rm_tree (const gchar *path);

G_END_DECLS
#endif
