/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-augment-private.h: what ncfm-augment.c (strategies, draws, CutMix)
 * and ncfm-augment-params.c (the parameter value: replay, description,
 * serialization) share. */
#ifndef NCFM_AUGMENT_PRIVATE_H
#define NCFM_AUGMENT_PRIVATE_H

#include "ncfm-augment.h"

#define NCFM_AUGMENT_MAX_STEPS 8   /* color is three ops, the other five tokens one each */

/* The strategy's tokens. */
typedef enum {
  TOK_COLOR, TOK_CROP, TOK_CUTOUT, TOK_FLIP, TOK_SCALE, TOK_ROTATE, N_TOKENS
} NcfmAugmentToken;

/* The kernel-level ops, with the floats and ints each needs per image. */
typedef enum {
  OP_BRIGHTNESS, OP_SATURATION, OP_CONTRAST, OP_CROP, OP_CUTOUT, OP_FLIP, OP_SCALE, OP_ROTATE,
  N_OPS
} NcfmAugmentOp;

typedef struct {
  const gchar *name;
  guint n_f, n_i;
  gboolean in_place;   /* the kernel may write over its input */
} NcfmAugmentOpInfo;

G_GNUC_INTERNAL extern const NcfmAugmentOpInfo ncfm_augment_op_info[N_OPS];

typedef struct {
  NcfmAugmentOp op;
  gfloat *f;     /* [sets, n_f] */
  gint32 *i;     /* [sets, n_i] */
} NcfmAugmentStep;

struct _NcfmAugmentParams {
  GObject parent;
  gchar *strategy;
  NcfmAugmentMode mode;
  guint64 seed;
  gint64 sets, height, width;   /* sets: 1 (shared) or the batch size */
  NcfmAugmentStep steps[NCFM_AUGMENT_MAX_STEPS];
  guint n_steps;
  GMutex lock;                  /* guards cache: the value is shared across threads */
  GPtrArray *cache;             /* uploads per (device, batch), most recent last */
};

G_GNUC_INTERNAL gboolean ncfm_augment_parse_strategy (const gchar *strategy,
    NcfmAugmentToken *tokens, guint *n_tokens, GError **error);
G_GNUC_INTERNAL NcfmAugmentParams *ncfm_augment_params_new_empty (const gchar *strategy,
    NcfmAugmentMode mode, guint64 seed, gint64 sets, gint64 height, gint64 width);
/* Appends a step with zeroed parameters for every set. */
G_GNUC_INTERNAL NcfmAugmentStep *ncfm_augment_params_add_step (NcfmAugmentParams *p,
    NcfmAugmentOp op);

#endif
