/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_AUGMENT_H
#define NCFM_AUGMENT_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-device.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmAugmentMode:
 * @NCFM_AUGMENT_SHARED: one parameter set for the whole batch, every op of
 *   the strategy applied in order (matching: the real and the synthetic batch
 *   get the identical transform)
 * @NCFM_AUGMENT_PER_SAMPLE: one parameter set per image (training and
 *   evaluation): colour and flip as listed, ONE of crop/scale/rotate (those in
 *   the strategy) chosen per batch, and cutout left out because CutMix
 *   (ncfm_augment_cutmix()) replaces it
 *
 * How an #NcfmAugment draws its parameters.
 */
typedef enum {
  NCFM_AUGMENT_SHARED,
  NCFM_AUGMENT_PER_SAMPLE,
} NcfmAugmentMode;

const gchar *ncfm_augment_mode_to_string (NcfmAugmentMode mode);
gboolean ncfm_augment_mode_from_string (const gchar *name, NcfmAugmentMode *mode);

#define NCFM_TYPE_AUGMENT_PARAMS (ncfm_augment_params_get_type ())
G_DECLARE_FINAL_TYPE (NcfmAugmentParams, ncfm_augment_params, NCFM, AUGMENT_PARAMS, GObject)

#define NCFM_TYPE_AUGMENT (ncfm_augment_get_type ())
G_DECLARE_FINAL_TYPE (NcfmAugment, ncfm_augment, NCFM, AUGMENT, GObject)

NcfmAugment *ncfm_augment_new (const gchar *strategy, NcfmAugmentMode mode, GError **error);
const gchar *ncfm_augment_get_strategy (NcfmAugment *self);
NcfmAugmentMode ncfm_augment_get_mode (NcfmAugment *self);
NcfmAugmentParams *ncfm_augment_draw (NcfmAugment *self, guint64 seed, gint64 batch,
    gint64 height, gint64 width, GError **error);

gboolean ncfm_augment_cutmix (NcfmTensor *x, NcfmTensor *y, guint64 seed, gfloat prob,
    gint32 **perm, gsize *n_perm, gfloat *lam, GError **error);

gboolean ncfm_augment_params_apply (NcfmAugmentParams *self, NcfmTensor *x, NcfmTensor *y,
    NcfmActivations *work, GError **error);
gboolean ncfm_augment_params_backward (NcfmAugmentParams *self, NcfmTensor *dy,
    NcfmTensor *dx, NcfmActivations *work, GError **error);

NcfmAugmentMode ncfm_augment_params_get_mode (NcfmAugmentParams *self);
const gchar *ncfm_augment_params_get_strategy (NcfmAugmentParams *self);
guint64 ncfm_augment_params_get_seed (NcfmAugmentParams *self);
gint64 ncfm_augment_params_get_batch (NcfmAugmentParams *self);
gint64 ncfm_augment_params_get_height (NcfmAugmentParams *self);
gint64 ncfm_augment_params_get_width (NcfmAugmentParams *self);
gchar *ncfm_augment_params_describe (NcfmAugmentParams *self);
GVariant *ncfm_augment_params_serialize (NcfmAugmentParams *self);
NcfmAugmentParams *ncfm_augment_params_new_from_variant (GVariant *variant, GError **error);

G_END_DECLS
#endif
