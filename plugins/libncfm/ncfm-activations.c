/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-activations
 * @title: NcfmActivations
 * @short_description: what a model's forward pass keeps for its backward pass
 *
 * One #NcfmActivations per caller holds the intermediate tensors of a forward
 * pass (reused across calls while the batch shape stays the same), the
 * outputs (features, logits) and, after backward, the gradient wrt the input
 * images.  Keeping them out of the model lets several users run the same
 * immutable model, each with its own activations.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-activations.h"

struct _NcfmActivations {
  GObject parent;
  GPtrArray *slots;           /* NcfmTensor or NULL */
  NcfmTensor *input, *features, *logits, *grad_images;
  gconstpointer owner;
  gint64 batch;
};

G_DEFINE_FINAL_TYPE (NcfmActivations, ncfm_activations, G_TYPE_OBJECT)

static void
ncfm_activations_finalize (GObject *object)
{
  NcfmActivations *self = NCFM_ACTIVATIONS (object);
  g_ptr_array_unref (self->slots);
  g_clear_object (&self->input);
  g_clear_object (&self->features);
  g_clear_object (&self->logits);
  g_clear_object (&self->grad_images);
  G_OBJECT_CLASS (ncfm_activations_parent_class)->finalize (object);
}

static void
ncfm_activations_class_init (NcfmActivationsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_activations_finalize;
}

static void
unref_slot (gpointer tensor)
{
  if (tensor)
    g_object_unref (tensor);
}

static void
ncfm_activations_init (NcfmActivations *self)
{
  self->slots = g_ptr_array_new_with_free_func (unref_slot);
}

/**
 * ncfm_activations_new:
 *
 * Returns: (transfer full): an empty set of activations
 */
NcfmActivations *
ncfm_activations_new (void)
{
  return g_object_new (NCFM_TYPE_ACTIVATIONS, NULL);
}

/**
 * ncfm_activations_get_features:
 * @self: a #NcfmActivations
 *
 * Returns: (transfer none) (nullable): the features [N, D] of the last forward pass
 */
NcfmTensor *
ncfm_activations_get_features (NcfmActivations *self)
{
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (self), NULL);
  return self->features;
}

/**
 * ncfm_activations_get_logits:
 * @self: a #NcfmActivations
 *
 * Returns: (transfer none) (nullable): the logits [N, classes] of the last forward pass
 */
NcfmTensor *
ncfm_activations_get_logits (NcfmActivations *self)
{
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (self), NULL);
  return self->logits;
}

/**
 * ncfm_activations_get_grad_images:
 * @self: a #NcfmActivations
 *
 * Returns: (transfer none) (nullable): the gradient wrt the input images from
 *   the last backward pass
 */
NcfmTensor *
ncfm_activations_get_grad_images (NcfmActivations *self)
{
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (self), NULL);
  return self->grad_images;
}

NcfmTensor *
ncfm_activations_ensure (NcfmActivations *self, guint slot, NcfmDevice *device, NcfmDType dtype,
    const gint64 *shape, guint n_dims, GError **error)
{
  if (slot >= self->slots->len)
    g_ptr_array_set_size (self->slots, slot + 1);
  NcfmTensor *t = g_ptr_array_index (self->slots, slot);
  if (t && ncfm_tensor_get_device (t) == device && ncfm_tensor_get_dtype (t) == dtype
      && ncfm_tensor_has_shape (t, shape, n_dims))
    return t;
  t = ncfm_tensor_new (device, dtype, shape, n_dims, error);
  if (!t)
    return NULL;
  unref_slot (self->slots->pdata[slot]);
  self->slots->pdata[slot] = t;
  return t;
}

NcfmTensor *
ncfm_activations_peek (NcfmActivations *self, guint slot)
{
  return slot < self->slots->len ? g_ptr_array_index (self->slots, slot) : NULL;
}

void
ncfm_activations_set_outputs (NcfmActivations *self, NcfmTensor *features, NcfmTensor *logits,
    NcfmTensor *grad_images)
{
  if (features)
    g_set_object (&self->features, features);
  if (logits)
    g_set_object (&self->logits, logits);
  if (grad_images)
    g_set_object (&self->grad_images, grad_images);
}

void
ncfm_activations_set_input (NcfmActivations *self, NcfmTensor *input)
{
  g_set_object (&self->input, input);
}

NcfmTensor *
ncfm_activations_get_input (NcfmActivations *self)
{
  return self->input;
}

void
ncfm_activations_set_owner (NcfmActivations *self, gconstpointer owner, gint64 batch)
{
  self->owner = owner;
  self->batch = batch;
}

gboolean
ncfm_activations_is_owned_by (NcfmActivations *self, gconstpointer owner, gint64 *batch)
{
  if (batch)
    *batch = self->batch;
  return self->owner == owner && owner != NULL;
}
