/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_ACTIVATIONS_H
#define NCFM_ACTIVATIONS_H

#include <glib-object.h>
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_ACTIVATIONS (ncfm_activations_get_type ())
G_DECLARE_FINAL_TYPE (NcfmActivations, ncfm_activations, NCFM, ACTIVATIONS, GObject)

NcfmActivations *ncfm_activations_new (void);
NcfmTensor *ncfm_activations_get_features (NcfmActivations *self);
NcfmTensor *ncfm_activations_get_logits (NcfmActivations *self);
NcfmTensor *ncfm_activations_get_grad_images (NcfmActivations *self);

#ifndef __GI_SCANNER__
/* For models (C only).  A model owns the numbering of the slots of the
 * activations it fills; `owner` tags which model did the last forward so
 * backward can refuse activations of another model. */
NcfmTensor *ncfm_activations_ensure (NcfmActivations *self, guint slot, NcfmDevice *device,
    NcfmDType dtype, const gint64 *shape, guint n_dims, GError **error);
NcfmTensor *ncfm_activations_peek (NcfmActivations *self, guint slot);
void ncfm_activations_set_outputs (NcfmActivations *self, NcfmTensor *features,
    NcfmTensor *logits, NcfmTensor *grad_images);
/* Keeps a reference to the forward pass's input (backward of the first layer needs it). */
void ncfm_activations_set_input (NcfmActivations *self, NcfmTensor *input);
NcfmTensor *ncfm_activations_get_input (NcfmActivations *self);
void ncfm_activations_set_owner (NcfmActivations *self, gconstpointer owner, gint64 batch);
gboolean ncfm_activations_is_owned_by (NcfmActivations *self, gconstpointer owner,
    gint64 *batch);
#endif

G_END_DECLS
#endif
