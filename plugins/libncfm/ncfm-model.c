/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-model.c: the NcfmModel interface (what every architecture implements)
 * and what is written once on top of it: save/load, rebuilding a model from
 * its file's `ncfm.arch`, parameter blending for model pools. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-model.h"
#include "ncfm-convnet.h"
#include "ncfm-resnet.h"

G_DEFINE_INTERFACE (NcfmModel, ncfm_model, G_TYPE_OBJECT)

static void
ncfm_model_default_init (NcfmModelInterface *iface)
{
  (void) iface;
}

#define IFACE(self) NCFM_MODEL_GET_IFACE (self)

/**
 * ncfm_model_get_architecture:
 * @self: a #NcfmModel
 *
 * Returns: the architecture's name ("convnet", "resnet-ap")
 */
const gchar *
ncfm_model_get_architecture (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->get_architecture (self);
}

/**
 * ncfm_model_get_device:
 * @self: a #NcfmModel
 *
 * Returns: (transfer none): where the parameters live
 */
NcfmDevice *
ncfm_model_get_device (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->get_device (self);
}

/**
 * ncfm_model_get_input_shape:
 * @self: a #NcfmModel
 * @channels: (out) (optional): image channels C
 * @height: (out) (optional): image height H
 * @width: (out) (optional): image width W
 */
void
ncfm_model_get_input_shape (NcfmModel *self, guint *channels, guint *height, guint *width)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  guint c = 0, h = 0, w = 0;
  IFACE (self)->get_input_shape (self, &c, &h, &w);
  if (channels)
    *channels = c;
  if (height)
    *height = h;
  if (width)
    *width = w;
}

/**
 * ncfm_model_get_feature_dim:
 * @self: a #NcfmModel
 *
 * Returns: the length D of a feature vector
 */
guint
ncfm_model_get_feature_dim (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), 0);
  return IFACE (self)->get_feature_dim (self);
}

/**
 * ncfm_model_get_num_classes:
 * @self: a #NcfmModel
 *
 * Returns: the number of logits
 */
guint
ncfm_model_get_num_classes (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), 0);
  return IFACE (self)->get_num_classes (self);
}

/**
 * ncfm_model_set_training:
 * @self: a #NcfmModel
 * @training: %TRUE for training mode (batch statistics in BatchNorm)
 */
void
ncfm_model_set_training (NcfmModel *self, gboolean training)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  IFACE (self)->set_training (self, training);
}

/**
 * ncfm_model_get_training:
 * @self: a #NcfmModel
 *
 * Returns: %TRUE in training mode
 */
gboolean
ncfm_model_get_training (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return IFACE (self)->get_training (self);
}

/**
 * ncfm_model_get_n_parameters:
 * @self: a #NcfmModel
 *
 * Returns: the number of named tensors (parameters and buffers)
 */
guint
ncfm_model_get_n_parameters (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), 0);
  return IFACE (self)->get_n_parameters (self);
}

/**
 * ncfm_model_get_parameter_name:
 * @self: a #NcfmModel
 * @index: from 0 to ncfm_model_get_n_parameters() - 1
 *
 * Returns: the PyTorch name of the tensor
 */
const gchar *
ncfm_model_get_parameter_name (NcfmModel *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->get_parameter_name (self, index);
}

/**
 * ncfm_model_get_parameter:
 * @self: a #NcfmModel
 * @name: a PyTorch parameter name
 *
 * Returns: (transfer none) (nullable): the tensor, %NULL if there is none
 */
NcfmTensor *
ncfm_model_get_parameter (NcfmModel *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->get_parameter (self, name);
}

/**
 * ncfm_model_get_gradient:
 * @self: a #NcfmModel
 * @name: a PyTorch parameter name
 *
 * Returns: (transfer none) (nullable): the gradient of the last backward,
 *   %NULL for buffers and unknown names
 */
NcfmTensor *
ncfm_model_get_gradient (NcfmModel *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->get_gradient (self, name);
}

/**
 * ncfm_model_reset_parameters:
 * @self: a #NcfmModel
 * @seed: the seed of the initialisation
 *
 * PyTorch's default initialisation, reproducible from @seed.
 */
void
ncfm_model_reset_parameters (NcfmModel *self, guint64 seed)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  IFACE (self)->reset_parameters (self, seed);
}

/**
 * ncfm_model_new_like:
 * @self: a #NcfmModel
 * @device: (nullable): where the new model runs; %NULL for @self's device
 * @seed: the seed of its initialisation
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a freshly initialised model of the same
 *   architecture and shapes
 */
NcfmModel *
ncfm_model_new_like (NcfmModel *self, NcfmDevice *device, guint64 seed, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->new_like (self, device ? device : ncfm_model_get_device (self), seed,
      error);
}

/**
 * ncfm_model_forward:
 * @self: a #NcfmModel
 * @images: [N,C,H,W] float32, normalised with the dataset mean/std
 * @activations: per-caller state; receives the features [N,D] and logits [N,K]
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_forward (NcfmModel *self, NcfmTensor *images, NcfmActivations *activations,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return IFACE (self)->forward (self, images, activations, error);
}

/**
 * ncfm_model_set_frozen:
 * @self: a #NcfmModel
 * @frozen: %TRUE: forward no longer changes the model
 *
 * Freezes a model that is about to be shared between threads (an extractor
 * hands it to the distiller in an #NcfmModelMeta): in training mode
 * BatchNorm still normalises with the batch's statistics, but its running
 * statistics and batch counter stay as they are, so concurrent forwards
 * write nothing in the model.
 */
void
ncfm_model_set_frozen (NcfmModel *self, gboolean frozen)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  IFACE (self)->set_frozen (self, frozen);
}

/**
 * ncfm_model_get_samples_independent:
 * @self: a #NcfmModel
 *
 * Returns: %TRUE when each image's features and logits depend on that image
 *   alone (%FALSE for BatchNorm in training mode), so that a batch may be
 *   run in parts with the same result
 */
gboolean
ncfm_model_get_samples_independent (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return IFACE (self)->get_samples_independent (self);
}

/**
 * ncfm_model_forward_features:
 * @self: a #NcfmModel
 * @images: images [N,C,H,W] (normalised)
 * @chunk: the most images per forward (0: all at once); used only when the
 *   model's samples are independent
 * @activations: scratch state, reused across calls
 * @error: return location for a #GError
 *
 * The features of a large batch without keeping the activations of all of
 * it: the batch goes through the model in parts of at most @chunk images
 * (equal parts, so the activations keep their size from call to call), and
 * each part's features are copied into the result.  Peak activation memory
 * scales with @chunk instead of N.  With BatchNorm in training mode the
 * batch goes through whole, as its statistics couple the images.  Models
 * with a faster inference path use it (the ConvNet with instance norm or
 * none runs each block as one fused op); @activations then holds no
 * forward pass to run backward on.
 *
 * Returns: (transfer full): features [N,D], or %NULL on error
 */
NcfmTensor *
ncfm_model_forward_features (NcfmModel *self, NcfmTensor *images, gint64 chunk,
    NcfmActivations *activations, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  g_return_val_if_fail (NCFM_IS_TENSOR (images), NULL);
  const gint64 n = ncfm_tensor_get_n_dims (images) >= 1 ? ncfm_tensor_get_dim (images, 0) : 0;
  if (n < 1) {
    g_autofree gchar *d = ncfm_tensor_describe (images);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "no images to extract features from: %s",
        d);
    return NULL;
  }
  gint64 parts = 1;
  if (chunk > 0 && chunk < n && ncfm_model_get_samples_independent (self))
    parts = (n + chunk - 1) / chunk;
  const gint64 per_part = (n + parts - 1) / parts;
  const gint64 dshape[2] = { n, ncfm_model_get_feature_dim (self) };
  g_autoptr (NcfmTensor) features = ncfm_tensor_new (ncfm_tensor_get_device (images),
      NCFM_DTYPE_F32, dshape, 2, error);
  if (!features)
    return NULL;
  for (gint64 start = 0; start < n; start += per_part) {
    const gint64 count = MIN (per_part, n - start);
    g_autoptr (NcfmTensor) part = parts == 1 ? g_object_ref (images)
        : ncfm_tensor_new_rows (images, start, count, error);
    g_autoptr (NcfmTensor) out = parts == 1 ? g_object_ref (features)
        : ncfm_tensor_new_rows (features, start, count, error);
    if (!part || !out)
      return NULL;
    if (IFACE (self)->forward_features) {
      if (!IFACE (self)->forward_features (self, part, out, activations, error))
        return NULL;
    } else if (!ncfm_model_forward (self, part, activations, error)
        || !ncfm_tensor_copy_from (out, ncfm_activations_get_features (activations), error)) {
      return NULL;
    }
  }
  return g_steal_pointer (&features);
}

/**
 * ncfm_model_backward:
 * @self: a #NcfmModel
 * @activations: the state of this model's last forward
 * @grad_features: (nullable): dL/dfeatures [N,D]
 * @grad_logits: (nullable): dL/dlogits [N,K]
 * @parameter_gradients: also compute the parameter gradients (overwritten)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; dL/dimages is in @activations
 */
gboolean
ncfm_model_backward (NcfmModel *self, NcfmActivations *activations, NcfmTensor *grad_features,
    NcfmTensor *grad_logits, gboolean parameter_gradients, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return IFACE (self)->backward (self, activations, grad_features, grad_logits,
      parameter_gradients, error);
}

/**
 * ncfm_model_to_safetensors:
 * @self: a #NcfmModel
 *
 * Returns: (transfer full): the weights under PyTorch's names with the
 *   architecture in the metadata
 */
NcfmSafetensors *
ncfm_model_to_safetensors (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return IFACE (self)->to_safetensors (self);
}

/**
 * ncfm_model_load_safetensors:
 * @self: a #NcfmModel
 * @file: weights
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; on error the model is unchanged
 */
gboolean
ncfm_model_load_safetensors (NcfmModel *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return IFACE (self)->load_safetensors (self, file, error);
}

/**
 * ncfm_model_save:
 * @self: a #NcfmModel
 * @path: destination, written atomically
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_save (NcfmModel *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_model_to_safetensors (self);
  return ncfm_safetensors_save (file, path, error);
}

/**
 * ncfm_model_load:
 * @self: a #NcfmModel
 * @path: a safetensors file
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; on error the model is unchanged
 */
gboolean
ncfm_model_load (NcfmModel *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  if (!file)
    return FALSE;
  g_object_set_data_full (G_OBJECT (file), "ncfm-path", g_strdup (path), g_free);
  return ncfm_model_load_safetensors (self, file, error);
}

static NcfmModel *
convnet_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error)
{
  return NCFM_MODEL (ncfm_convnet_new_from_safetensors (device, file, error));
}

static NcfmModel *
resnet_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error)
{
  return NCFM_MODEL (ncfm_resnet_new_from_safetensors (device, file, error));
}

/* every architecture, by the `ncfm.arch` its weights carry */
static const struct {
  const gchar *arch;
  NcfmModelFromSafetensorsFunc from_safetensors;
} architectures[] = {
  { "convnet", convnet_from_safetensors },
  { "resnet-ap", resnet_from_safetensors },
};

/**
 * ncfm_model_new_from_safetensors:
 * @device: where the model runs
 * @file: weights written by ncfm_model_save() (architecture in the metadata)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model the file describes, with its weights
 */
NcfmModel *
ncfm_model_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error)
{
  const gchar *arch = ncfm_safetensors_get_metadata (file, "ncfm.arch");
  const gchar *fname = g_object_get_data (G_OBJECT (file), "ncfm-path");
  for (guint i = 0; arch && i < G_N_ELEMENTS (architectures); i++)
    if (g_str_equal (arch, architectures[i].arch))
      return architectures[i].from_safetensors (device, file, error);
  g_autoptr (GString) known = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (architectures); i++)
    g_string_append_printf (known, "%s%s", i ? ", " : "", architectures[i].arch);
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
      "%s: metadata 'ncfm.arch' is %s (known: %s); weights converted from PyTorch need the "
      "architecture given explicitly", fname ? fname : "weights", arch ? arch : "missing",
      known->str);
  return NULL;
}

/**
 * ncfm_model_new_from_file:
 * @device: where the model runs
 * @path: a weights file written by ncfm_model_save()
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model the file describes, with its weights
 */
NcfmModel *
ncfm_model_new_from_file (NcfmDevice *device, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  if (!file)
    return NULL;
  g_object_set_data_full (G_OBJECT (file), "ncfm-path", g_strdup (path), g_free);
  return ncfm_model_new_from_safetensors (device, file, error);
}

static gboolean
same_parameters (NcfmModel *a, NcfmModel *b, GError **error)
{
  const guint n = ncfm_model_get_n_parameters (a);
  if (g_strcmp0 (ncfm_model_get_architecture (a), ncfm_model_get_architecture (b)) != 0
      || n != ncfm_model_get_n_parameters (b)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "models differ: %s with %u tensors vs %s with %u tensors",
        ncfm_model_get_architecture (a), n, ncfm_model_get_architecture (b),
        ncfm_model_get_n_parameters (b));
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    const gchar *name = ncfm_model_get_parameter_name (a, i);
    NcfmTensor *x = ncfm_model_get_parameter (a, name), *y = ncfm_model_get_parameter (b, name);
    guint nd;
    const gint64 *shape = ncfm_tensor_get_shape (x, &nd);
    if (!y || !ncfm_tensor_has_shape (y, shape, nd)
        || ncfm_tensor_get_dtype (x) != ncfm_tensor_get_dtype (y)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "models differ in tensor '%s'", name);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * ncfm_model_copy_parameters:
 * @self: a #NcfmModel
 * @source: a model of the same architecture and shapes
 * @error: return location for a #GError
 *
 * Copies every parameter and buffer of @source into @self.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_copy_parameters (NcfmModel *self, NcfmModel *source, GError **error)
{
  if (!same_parameters (self, source, error))
    return FALSE;
  for (guint i = 0; i < ncfm_model_get_n_parameters (self); i++) {
    const gchar *name = ncfm_model_get_parameter_name (self, i);
    if (!ncfm_tensor_copy_from (ncfm_model_get_parameter (self, name),
            ncfm_model_get_parameter (source, name), error))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_model_new_blend:
 * @init: a model (the pool member's initial weights)
 * @trained: the same architecture (its trained weights)
 * @lambda: the blend weight
 * @error: return location for a #GError
 *
 * The NCFM model-pool blend, tensor by tensor (buffers included):
 * lambda * init + (1 - lambda) * trained.
 *
 * Returns: (transfer full): a new model on @init's device
 */
NcfmModel *
ncfm_model_new_blend (NcfmModel *init, NcfmModel *trained, gdouble lambda, GError **error)
{
  if (!same_parameters (init, trained, error))
    return NULL;
  g_autoptr (NcfmModel) m = ncfm_model_new_like (init, NULL, 0, error);
  if (!m)
    return NULL;
  NcfmBackend *be = ncfm_device_get_backend (ncfm_model_get_device (m));
  for (guint i = 0; i < ncfm_model_get_n_parameters (m); i++) {
    const gchar *name = ncfm_model_get_parameter_name (m, i);
    NcfmTensor *out = ncfm_model_get_parameter (m, name);
    /* out = trained; float tensors then get lambda * init + (1 - lambda) * out on the
     * device (counters and the like stay the trained member's) */
    if (!ncfm_tensor_copy_from (out, ncfm_model_get_parameter (trained, name), error))
      return NULL;
    if (ncfm_tensor_get_dtype (out) == NCFM_DTYPE_F32)
      be->ops->axpby (be, (size_t) ncfm_tensor_get_numel (out), (float) lambda,
          ncfm_tensor_f32 (ncfm_model_get_parameter (init, name)), (float) (1.0 - lambda),
          ncfm_tensor_f32 (out));
  }
  return g_steal_pointer (&m);
}
