/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-convnet
 * @title: NcfmConvNet
 * @short_description: ConvNet-D, the feature extractor of the DC/DSA/DM/NCFM papers
 *
 * depth x [conv 3x3 (padding 1; padding 3 on the first conv when the input
 * has one channel) -> norm -> ReLU -> 2x2 average pool], features = the last
 * block flattened, classifier = Linear(features, classes).  Parameter names
 * and layouts are PyTorch's (`layers.conv.0.weight`, ..., `classifier.bias`),
 * so checkpoints of the reference implementation load unchanged (a
 * `module.` prefix from multi-GPU training is stripped).  Inputs are images
 * already normalised with the dataset mean/std.
 *
 * An #NcfmModel: the base holds the parameters (and their gradients when
 * asked for), weights I/O and the argument checks; everything a forward pass
 * keeps for backward lives in the caller's #NcfmActivations.  The
 * ncfm_convnet_ functions are the #NcfmModel ones under the ConvNet's name.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-convnet-private.h"

G_DEFINE_FINAL_TYPE (NcfmConvNet, ncfm_convnet, NCFM_TYPE_MODEL)

#define MAX_DEPTH 8

/* #NcfmModelClass.build: the blocks' geometry and, in PyTorch's order, their
 * tensors, then the classifier's. */
static gboolean
ncfm_convnet_build (NcfmModel *model, GError **error)
{
  NcfmConvNet *self = NCFM_CONVNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  const guint in_channels = m->in_channels, depth = m->depth, net_width = m->net_width;
  if (in_channels < 1 || in_channels > 64 || depth < 1 || depth > MAX_DEPTH || net_width < 1
      || net_width > 4096 || m->num_classes < 1 || m->num_classes > 100000
      || (guint) m->norm > NCFM_NORM_BATCH) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid ConvNet configuration: in_channels %u (1..64), depth %u (1..%d), width %u "
        "(1..4096), classes %u (1..100000), norm %d", in_channels, depth, MAX_DEPTH, net_width,
        m->num_classes, (int) m->norm);
    return FALSE;
  }
  self->layers = g_new0 (Layer, depth);
  gint h = (gint) m->height, w = (gint) m->width, c = (gint) in_channels;
  for (guint l = 0; l < depth; l++) {
    Layer *L = &self->layers[l];
    gint pad = (in_channels == 1 && l == 0) ? 3 : 1;
    L->conv = (NcfmConv2dShape) { .n = 0, .c_in = c, .h_in = h, .w_in = w,
      .c_out = (gint) net_width, .kernel_h = 3, .kernel_w = 3, .stride = 1, .pad = pad };
    L->h_out = ncfm_conv2d_h_out (&L->conv);
    L->w_out = ncfm_conv2d_w_out (&L->conv);
    L->h_pool = L->h_out / 2;
    L->w_pool = L->w_out / 2;
    if (L->h_pool < 1 || L->w_pool < 1) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "images of %ux%u are too small for a ConvNet of depth %u (block %u would pool "
          "%dx%d maps)", m->height, m->width, depth, l + 1, L->h_out, L->w_out);
      return FALSE;
    }
    const gint64 wshape[4] = { net_width, c, 3, 3 }, cshape[1] = { net_width };
    g_autofree gchar *conv = g_strdup_printf ("layers.conv.%u", l);
    g_autofree gchar *norm = g_strdup_printf ("layers.norm.%u", l);
    if (!(L->conv_w = ncfm_model_add_parameter (model, conv, ".weight", wshape, 4, TRUE, error))
        || !(L->conv_b = ncfm_model_add_parameter (model, conv, ".bias", cshape, 1, TRUE, error)))
      return FALSE;
    L->conv_w->fan_in = L->conv_b->fan_in = (guint) c * 9;
    if (m->norm != NCFM_NORM_NONE
        && (!(L->norm_w = ncfm_model_add_parameter (model, norm, ".weight", cshape, 1, TRUE, error))
            || !(L->norm_b = ncfm_model_add_parameter (model, norm, ".bias", cshape, 1, TRUE,
                    error))))
      return FALSE;
    if (m->norm == NCFM_NORM_BATCH
        && (!(L->running_mean = ncfm_model_add_parameter (model, norm, ".running_mean", cshape,
                    1, FALSE, error))
            || !(L->running_var = ncfm_model_add_parameter (model, norm, ".running_var", cshape,
                    1, FALSE, error))))
      return FALSE;
    if (L->norm_w)
      L->norm_w->init_value = 1.0f;
    if (L->running_var)
      L->running_var->init_value = 1.0f;
    h = L->h_pool;
    w = L->w_pool;
    c = (gint) net_width;
  }
  m->feature_dim = (guint) (c * h * w);
  const gint64 lw[2] = { m->num_classes, m->feature_dim }, lb[1] = { m->num_classes };
  if (!(self->cls_w = ncfm_model_add_parameter (model, "classifier", ".weight", lw, 2, TRUE,
              error))
      || !(self->cls_b = ncfm_model_add_parameter (model, "classifier", ".bias", lb, 1, TRUE,
              error)))
    return FALSE;
  self->cls_w->fan_in = self->cls_b->fan_in = m->feature_dim;
  return TRUE;
}

static void
ncfm_convnet_finalize (GObject *object)
{
  g_free (NCFM_CONVNET (object)->layers);
  G_OBJECT_CLASS (ncfm_convnet_parent_class)->finalize (object);
}

static void
ncfm_convnet_class_init (NcfmConvNetClass *klass)
{
  NcfmModelClass *model_class = NCFM_MODEL_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = ncfm_convnet_finalize;
  model_class->title = "ConvNet";
  model_class->init_salt = 0x6e63666d;
  model_class->build = ncfm_convnet_build;
  model_class->forward = ncfm_convnet_forward_layers;
  model_class->backward = ncfm_convnet_backward_layers;
  model_class->forward_features = ncfm_convnet_forward_features;
}

static void
ncfm_convnet_init (NcfmConvNet *self)
{
  (void) self;
}

/**
 * ncfm_convnet_new:
 * @device: where the parameters live and the model runs
 * @in_channels: image channels (1 or 3)
 * @height: image height
 * @width: image width
 * @num_classes: classifier outputs
 * @depth: number of conv blocks (3 for 32x32 images)
 * @net_width: channels of every conv (128 in the papers)
 * @norm: normalisation layer
 * @seed: seed of the random initialisation
 * @error: return location for a #GError
 *
 * Creates a ConvNet-D with PyTorch's default initialisation (uniform in
 * +-1/sqrt(fan_in) for conv and linear weights and biases, ones and zeros for
 * the norms) drawn from a generator seeded with @seed.
 *
 * Returns: (transfer full): the model, or %NULL if the geometry is impossible
 */

/**
 * ncfm_convnet_new_from_safetensors:
 * @device: where the model runs
 * @file: weights written by ncfm_convnet_save() (architecture in the metadata)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model with the file's weights
 */
NCFM_MODEL_DEFINE_CONSTRUCTORS (NcfmConvNet, ncfm_convnet, NCFM_TYPE_CONVNET)

/* The #NcfmModel API under the ConvNet's names (the library's first model
 * had them before the base class existed; callers still use them). */

/**
 * ncfm_convnet_reset_parameters:
 * @self: a #NcfmConvNet
 * @seed: seed of the random initialisation
 *
 * Re-draws every parameter as ncfm_convnet_new() does (a fresh random
 * network, DM style), resets running statistics and zeroes the gradients.
 */
void
ncfm_convnet_reset_parameters (NcfmConvNet *self, guint64 seed)
{
  g_return_if_fail (NCFM_IS_CONVNET (self));
  ncfm_model_reset_parameters (NCFM_MODEL (self), seed);
}

/**
 * ncfm_convnet_load_safetensors:
 * @self: a #NcfmConvNet
 * @file: weights with the reference's names (an optional `module.` prefix is stripped)
 * @error: return location for a #GError
 *
 * See ncfm_model_load_safetensors().
 *
 * Returns: %TRUE on success; on error the model keeps its previous weights
 */
gboolean
ncfm_convnet_load_safetensors (NcfmConvNet *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return ncfm_model_load_safetensors (NCFM_MODEL (self), file, error);
}

/**
 * ncfm_convnet_load:
 * @self: a #NcfmConvNet
 * @path: a safetensors file
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_load (NcfmConvNet *self, const gchar *path, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return ncfm_model_load (NCFM_MODEL (self), path, error);
}

/**
 * ncfm_convnet_to_safetensors:
 * @self: a #NcfmConvNet
 *
 * Returns: (transfer full): the parameters under PyTorch's names, with the
 *   architecture in the metadata (so ncfm_convnet_new_from_safetensors()
 *   can rebuild it)
 */
NcfmSafetensors *
ncfm_convnet_to_safetensors (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  return ncfm_model_to_safetensors (NCFM_MODEL (self));
}

/**
 * ncfm_convnet_save:
 * @self: a #NcfmConvNet
 * @path: destination (written atomically)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_save (NcfmConvNet *self, const gchar *path, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return ncfm_model_save (NCFM_MODEL (self), path, error);
}

/**
 * ncfm_convnet_get_device:
 * @self: a #NcfmConvNet
 *
 * Returns: (transfer none): the device the model runs on
 */
NCFM_MODEL_DEFINE_GETTER (NcfmDevice *, NcfmConvNet, ncfm_convnet, device)

/**
 * ncfm_convnet_get_feature_dim:
 * @self: a #NcfmConvNet
 *
 * Returns: the length of a feature vector (2048 for ConvNet-3 width 128 on 32x32)
 */
NCFM_MODEL_DEFINE_GETTER (guint, NcfmConvNet, ncfm_convnet, feature_dim)

/**
 * ncfm_convnet_get_num_classes:
 * @self: a #NcfmConvNet
 *
 * Returns: the number of classifier outputs
 */
NCFM_MODEL_DEFINE_GETTER (guint, NcfmConvNet, ncfm_convnet, num_classes)

/**
 * ncfm_convnet_set_training:
 * @self: a #NcfmConvNet
 * @training: %TRUE for training mode (BatchNorm uses and updates batch statistics)
 *
 * Like PyTorch's train()/eval(); only BatchNorm behaves differently.
 */
void
ncfm_convnet_set_training (NcfmConvNet *self, gboolean training)
{
  g_return_if_fail (NCFM_IS_CONVNET (self));
  ncfm_model_set_training (NCFM_MODEL (self), training);
}

/**
 * ncfm_convnet_get_training:
 * @self: a #NcfmConvNet
 *
 * Returns: %TRUE in training mode (the default)
 */
NCFM_MODEL_DEFINE_GETTER (gboolean, NcfmConvNet, ncfm_convnet, training)

/**
 * ncfm_convnet_get_n_parameters:
 * @self: a #NcfmConvNet
 *
 * Returns: the number of named tensors (parameters and running statistics)
 */
NCFM_MODEL_DEFINE_GETTER (guint, NcfmConvNet, ncfm_convnet, n_parameters)

/**
 * ncfm_convnet_get_parameter_name:
 * @self: a #NcfmConvNet
 * @index: 0 .. n_parameters - 1
 *
 * Returns: (transfer none) (nullable): the PyTorch name of the tensor
 */
const gchar *
ncfm_convnet_get_parameter_name (NcfmConvNet *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  return ncfm_model_get_parameter_name (NCFM_MODEL (self), index);
}

/**
 * ncfm_convnet_get_parameter:
 * @self: a #NcfmConvNet
 * @name: a PyTorch parameter name such as "layers.conv.0.weight"
 *
 * Returns: (transfer none) (nullable): the parameter tensor (writable: an
 *   optimizer updates it in place)
 */
NcfmTensor *
ncfm_convnet_get_parameter (NcfmConvNet *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  return ncfm_model_get_parameter (NCFM_MODEL (self), name);
}

/**
 * ncfm_convnet_get_gradient:
 * @self: a #NcfmConvNet
 * @name: a parameter name
 *
 * Returns: (transfer none) (nullable): the gradient written by the last
 *   ncfm_convnet_backward() with parameter gradients on (%NULL for buffers)
 */
NcfmTensor *
ncfm_convnet_get_gradient (NcfmConvNet *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  return ncfm_model_get_gradient (NCFM_MODEL (self), name);
}

/**
 * ncfm_convnet_forward:
 * @self: a #NcfmConvNet
 * @images: F32 [N, C, H, W], normalised with the dataset mean/std
 * @activations: receives the features [N, D], the logits [N, classes] and
 *   what backward needs; its buffers are reused while N stays the same
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; %FALSE if @images does not fit the model
 */
gboolean
ncfm_convnet_forward (NcfmConvNet *self, NcfmTensor *images, NcfmActivations *activations,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return ncfm_model_forward (NCFM_MODEL (self), images, activations, error);
}

/**
 * ncfm_convnet_backward:
 * @self: a #NcfmConvNet
 * @activations: filled by ncfm_convnet_forward() of this model
 * @grad_features: (nullable): dL/dfeatures [N, D]
 * @grad_logits: (nullable): dL/dlogits [N, classes]
 * @parameter_gradients: also write dL/dparameter into the model's gradient
 *   tensors (ncfm_convnet_get_gradient()); off, the model is only read
 * @error: return location for a #GError
 *
 * Back-propagates the given output gradients (either or both) to the input
 * images (ncfm_activations_get_grad_images()) and optionally the parameters.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_backward (NcfmConvNet *self, NcfmActivations *activations,
    NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return ncfm_model_backward (NCFM_MODEL (self), activations, grad_features, grad_logits,
      parameter_gradients, error);
}
