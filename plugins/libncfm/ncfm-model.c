/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-model
 * @title: NcfmModel
 * @short_description: the base class of every architecture
 *
 * The configuration, the named tensors and everything that works on them
 * alone live here, once: lookup, initialisation, the training and frozen
 * flags, the argument checks of forward and backward (ncfm-model-io.c adds
 * weights I/O and blending, ncfm-model-registry.c the architectures by
 * name).  A subclass builds its layers (#NcfmModelClass.build) and runs
 * them (#NcfmModelClass.forward, #NcfmModelClass.backward).
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-model-private.h"

#include <math.h>

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (NcfmModel, ncfm_model, G_TYPE_OBJECT)

static const gchar *norm_names[] = { "none", "instancenorm", "batchnorm" };

/**
 * ncfm_norm_to_string:
 * @norm: a #NcfmNorm
 *
 * Returns: (transfer none): "none", "instancenorm" or "batchnorm" (the reference's names)
 */
const gchar *
ncfm_norm_to_string (NcfmNorm norm)
{
  return (guint) norm < G_N_ELEMENTS (norm_names) ? norm_names[norm] : "invalid";
}

/**
 * ncfm_norm_from_string:
 * @name: "none", "instance", "instancenorm", "batch" or "batchnorm"
 * @norm: (out): the parsed value
 *
 * Returns: %TRUE if @name is known
 */
gboolean
ncfm_norm_from_string (const gchar *name, NcfmNorm *norm)
{
  if (!name)
    return FALSE;
  if (g_str_equal (name, "none"))
    *norm = NCFM_NORM_NONE;
  else if (g_str_equal (name, "instance") || g_str_equal (name, "instancenorm"))
    *norm = NCFM_NORM_INSTANCE;
  else if (g_str_equal (name, "batch") || g_str_equal (name, "batchnorm"))
    *norm = NCFM_NORM_BATCH;
  else
    return FALSE;
  return TRUE;
}

static void
param_free (NcfmModelParam *p)
{
  g_free (p->name);
  g_clear_object (&p->value);
  g_clear_object (&p->grad);
  g_free (p);
}

static void
ncfm_model_finalize (GObject *object)
{
  NcfmModelPrivate *priv = ncfm_model_get_instance_private (NCFM_MODEL (object));
  g_clear_pointer (&priv->params, g_ptr_array_unref);
  g_clear_object (&priv->device);
  G_OBJECT_CLASS (ncfm_model_parent_class)->finalize (object);
}

static void
ncfm_model_class_init (NcfmModelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_model_finalize;
}

static void
ncfm_model_init (NcfmModel *self)
{
  NcfmModelPrivate *priv = ncfm_model_get_instance_private (self);
  priv->training = TRUE;
  priv->params = g_ptr_array_new_with_free_func ((GDestroyNotify) param_free);
}

NcfmModelPrivate *
ncfm_model_private (gpointer self)
{
  return ncfm_model_get_instance_private (self);
}

#define PRIV(self) ((NcfmModelPrivate *) ncfm_model_get_instance_private (self))

/* Adds the tensor @name@suffix (a parameter, or with @with_grad FALSE a
 * buffer) at the end of the store, zero-initialised; NULL on failure. */
NcfmModelParam *
ncfm_model_add_parameter (NcfmModel *self, const gchar *name, const gchar *suffix,
    const gint64 *shape, guint n_dims, gboolean with_grad, GError **error)
{
  NcfmModelPrivate *priv = PRIV (self);
  NcfmModelParam *p = g_new0 (NcfmModelParam, 1);
  p->name = g_strconcat (name, suffix, NULL);
  p->value = ncfm_tensor_new (priv->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (p->value && with_grad)
    p->grad = ncfm_tensor_new (priv->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (!p->value || (with_grad && !p->grad)) {
    param_free (p);
    return NULL;
  }
  g_ptr_array_add (priv->params, p);
  return p;
}

NcfmModelParam *
ncfm_model_find_parameter (NcfmModel *self, const gchar *name)
{
  GPtrArray *params = PRIV (self)->params;
  for (guint i = 0; i < params->len; i++) {
    NcfmModelParam *p = g_ptr_array_index (params, i);
    if (g_str_equal (p->name, name))
      return p;
  }
  return NULL;
}

/* A model of @type for this configuration, initialised from @seed. */
NcfmModel *
ncfm_model_new_of_type (GType type, NcfmDevice *device, guint in_channels, guint height,
    guint width, guint num_classes, guint depth, guint net_width, NcfmNorm norm, guint64 seed,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  g_return_val_if_fail (g_type_is_a (type, NCFM_TYPE_MODEL) && !G_TYPE_IS_ABSTRACT (type), NULL);
  g_autoptr (NcfmModel) self = g_object_new (type, NULL);
  NcfmModelClass *klass = NCFM_MODEL_GET_CLASS (self);
  if (!klass->build || !klass->forward || !klass->backward) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "model architecture %s implements no build, forward or backward", g_type_name (type));
    return NULL;
  }
  NcfmModelPrivate *priv = PRIV (self);
  priv->device = g_object_ref (device);
  priv->in_channels = in_channels;
  priv->height = height;
  priv->width = width;
  priv->num_classes = num_classes;
  priv->depth = depth;
  priv->net_width = net_width;
  priv->norm = norm;
  if (!klass->build (self, error))
    return NULL;
  ncfm_model_reset_parameters (self, seed);
  return g_steal_pointer (&self);
}

/**
 * ncfm_model_get_architecture:
 * @self: a #NcfmModel
 *
 * Returns: the architecture's registered name ("convnet", "resnet-ap"), as
 *   written to the `ncfm.arch` metadata of its weights
 */
const gchar *
ncfm_model_get_architecture (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  return ncfm_model_architecture_of_type (G_OBJECT_TYPE (self));
}

/* The architecture in messages ("ConvNet"): its class's title, else its name. */
const gchar *
ncfm_model_title (NcfmModel *self)
{
  const gchar *t = NCFM_MODEL_GET_CLASS (self)->title;
  return t ? t : ncfm_model_get_architecture (self);
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
  return PRIV (self)->device;
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
  NcfmModelPrivate *priv = PRIV (self);
  if (channels)
    *channels = priv->in_channels;
  if (height)
    *height = priv->height;
  if (width)
    *width = priv->width;
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
  return PRIV (self)->feature_dim;
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
  return PRIV (self)->num_classes;
}

/**
 * ncfm_model_get_depth:
 * @self: a #NcfmModel
 *
 * Returns: the depth it was built with (ConvNet blocks; ResNet-AP 10 or 18)
 */
guint
ncfm_model_get_depth (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), 0);
  return PRIV (self)->depth;
}

/**
 * ncfm_model_get_net_width:
 * @self: a #NcfmModel
 *
 * Returns: the width it was built with (ConvNet channels; ResNet-AP
 *   first-stage channels)
 */
guint
ncfm_model_get_net_width (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), 0);
  return PRIV (self)->net_width;
}

/**
 * ncfm_model_get_norm:
 * @self: a #NcfmModel
 *
 * Returns: the normalisation layer
 */
NcfmNorm
ncfm_model_get_norm (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NCFM_NORM_NONE);
  return PRIV (self)->norm;
}

/**
 * ncfm_model_set_training:
 * @self: a #NcfmModel
 * @training: %TRUE for training mode (batch statistics in BatchNorm)
 *
 * Like PyTorch's train()/eval(); only BatchNorm behaves differently.
 */
void
ncfm_model_set_training (NcfmModel *self, gboolean training)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  PRIV (self)->training = training;
}

/**
 * ncfm_model_get_training:
 * @self: a #NcfmModel
 *
 * Returns: %TRUE in training mode (the default)
 */
gboolean
ncfm_model_get_training (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  return PRIV (self)->training;
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
  PRIV (self)->frozen = frozen;
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
  return PRIV (self)->norm != NCFM_NORM_BATCH || !PRIV (self)->training;
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
  return PRIV (self)->params->len;
}

/**
 * ncfm_model_get_parameter_name:
 * @self: a #NcfmModel
 * @index: from 0 to ncfm_model_get_n_parameters() - 1
 *
 * Returns: (transfer none) (nullable): the PyTorch name of the tensor
 */
const gchar *
ncfm_model_get_parameter_name (NcfmModel *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  GPtrArray *params = PRIV (self)->params;
  return index < params->len ? ((NcfmModelParam *) g_ptr_array_index (params, index))->name
      : NULL;
}

/**
 * ncfm_model_get_parameter:
 * @self: a #NcfmModel
 * @name: a PyTorch parameter name
 *
 * Returns: (transfer none) (nullable): the tensor (writable: an optimizer
 *   updates it in place), %NULL if there is none
 */
NcfmTensor *
ncfm_model_get_parameter (NcfmModel *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  NcfmModelParam *p = ncfm_model_find_parameter (self, name);
  return p ? p->value : NULL;
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
  NcfmModelParam *p = ncfm_model_find_parameter (self, name);
  return p ? p->grad : NULL;
}

/**
 * ncfm_model_reset_parameters:
 * @self: a #NcfmModel
 * @seed: the seed of the initialisation
 *
 * Re-draws every tensor as a new model does, reproducibly from @seed (and
 * the architecture's #NcfmModelClass.init_salt), in the store's order:
 * uniform in +-1/sqrt(fan_in) (PyTorch's default), normal with the
 * tensor's standard deviation, or its constant; resets the batch counter
 * and zeroes the gradients.
 */
void
ncfm_model_reset_parameters (NcfmModel *self, guint64 seed)
{
  g_return_if_fail (NCFM_IS_MODEL (self));
  NcfmModelPrivate *priv = PRIV (self);
  guint32 seeds[3] = { (guint32) seed, (guint32) (seed >> 32),
    NCFM_MODEL_GET_CLASS (self)->init_salt };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  for (guint i = 0; i < priv->params->len; i++) {
    NcfmModelParam *p = g_ptr_array_index (priv->params, i);
    const gsize n = (gsize) ncfm_tensor_get_numel (p->value);
    g_autofree gfloat *host = g_new (gfloat, MAX (n, 1));
    const double bound = p->fan_in ? 1.0 / sqrt ((double) p->fan_in) : 0.0;
    for (gsize k = 0; k < n; k++) {
      if (p->fan_in) {
        host[k] = (gfloat) g_rand_double_range (rand, -bound, bound);
      } else if (p->init_std > 0) {   /* Box-Muller; 1 - u keeps log away from 0 */
        const double u = 1.0 - g_rand_double (rand), v = g_rand_double (rand);
        host[k] = (gfloat) (p->init_std * sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
      } else {
        host[k] = p->init_value;
      }
    }
    ncfm_tensor_set_data (p->value, (const guint8 *) host, n * sizeof (gfloat), NULL);
    if (p->grad)
      ncfm_tensor_fill (p->grad, 0.0f, NULL);
  }
  priv->num_batches_tracked = 0;
}

/**
 * ncfm_model_new_like:
 * @self: a #NcfmModel
 * @device: (nullable): where the new model runs; %NULL for @self's device
 * @seed: the seed of its initialisation
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a freshly initialised model of the same
 *   architecture and shapes, in the same training mode
 */
NcfmModel *
ncfm_model_new_like (NcfmModel *self, NcfmDevice *device, guint64 seed, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  NcfmModelPrivate *p = PRIV (self);
  NcfmModel *copy = ncfm_model_new_of_type (G_OBJECT_TYPE (self), device ? device : p->device,
      p->in_channels, p->height, p->width, p->num_classes, p->depth, p->net_width, p->norm, seed,
      error);
  if (copy)
    PRIV (copy)->training = p->training;
  return copy;
}
