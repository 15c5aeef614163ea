/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-resnet-private.h: what ncfm-resnet.c (construction) and
 * ncfm-resnet-forward.c (forward, backward) share. */
#ifndef NCFM_RESNET_PRIVATE_H
#define NCFM_RESNET_PRIVATE_H

#include "ncfm-resnet.h"
#include "ncfm-model-private.h"

#define N_STAGES 4
#define MAX_BLOCKS_PER_STAGE 2   /* depth 18 */
#define NCFM_RESNET_NORM_EPS 1e-5f
#define NCFM_RESNET_BN_MOMENTUM 0.1f

/* Activation slots of a unit, from its `slot` on; blocks and the stem's
 * pools own one slot each after the units; the shared ones follow n_slots. */
enum { UNIT_CONV, UNIT_POOLED, UNIT_NORM, UNIT_MEAN, UNIT_RSTD, SLOTS_PER_UNIT };
enum {
  SHARED_POOL_WEIGHTS,   /* [H*W] filled with 1/(H*W): the global average as a GEMV */
  SHARED_FEATURES,       /* [N, D] */
  SHARED_LOGITS,         /* [N, K] */
  SHARED_GRAD0,          /* six gradient buffers of the largest map, rotated by backward */
  SHARED_GRAD_IMAGES = SHARED_GRAD0 + 6,
  N_SHARED_SLOTS,
};

/* A conv followed by its norm (none: the conv alone, with a bias), with an
 * optional 2x2 average pool between them (the shortcut of a downsampling
 * block: conv1x1 -> pool -> norm). */
typedef struct {
  NcfmConv2dShape conv;  /* n filled in per call */
  gint conv_h, conv_w;   /* conv output */
  gboolean pool;
  gint h, w;             /* norm input and output (after the pool) */
  guint slot;            /* first of its activation slots */
  NcfmModelParam *weight, *bias, *norm_w, *norm_b, *running_mean, *running_var;
} NcfmResNetUnit;

/* BasicBlock: c1 -> ReLU -> [pool] -> c2, plus shortcut (identity or sc), ReLU. */
typedef struct {
  NcfmResNetUnit c1, c2, sc;
  gboolean has_shortcut, pool;
  guint slot;            /* its own slot (the c1 output after the pool) */
} NcfmResNetBlock;

struct _NcfmResNet {
  NcfmModel parent;
  NcfmResNetUnit stem;   /* layer0: conv -> norm -> ReLU -> stem_pools x 2x2 pool */
  guint stem_pools;      /* 0 small images, 1 mid (65..128), 2 large (4x4 pool) */
  gint stem_h, stem_w;   /* after the stem's pools */
  guint stem_pool_slot;  /* outputs of the stem's pools (stem_pools slots) */
  NcfmResNetBlock blocks[N_STAGES * MAX_BLOCKS_PER_STAGE];
  guint n_blocks;        /* used of them */
  gint final_h, final_w; /* maps that are averaged into the features */
  guint n_slots;         /* activation slots used by units and blocks */
  NcfmModelParam *fc_w, *fc_b;
};

gboolean ncfm_resnet_forward_layers (NcfmModel *model, NcfmTensor *images, gint64 n,
    NcfmActivations *activations, GError **error);
gboolean ncfm_resnet_backward_layers (NcfmModel *model, NcfmActivations *activations,
    gint64 n, NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error);

#endif
