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
 * The model holds parameters (and their gradients when asked for); everything
 * a forward pass keeps for backward lives in the caller's #NcfmActivations.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-convnet-private.h"

#include <math.h>
#include <string.h>

#define NORM_EPS 1e-5f
#define BN_MOMENTUM 0.1f

G_DEFINE_FINAL_TYPE_WITH_CODE (NcfmConvNet, ncfm_convnet, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (NCFM_TYPE_MODEL, ncfm_convnet_model_iface_init))

/* Activation slots: per layer, then shared ones. */
enum { SLOT_CONV_OUT, SLOT_NORM_OUT, SLOT_MEAN, SLOT_RSTD, SLOT_POOLED, SLOTS_PER_LAYER };
enum { SLOT_LOGITS, SLOT_GRAD_A, SLOT_GRAD_B, SLOT_GRAD_C, SLOT_GRAD_IMAGES, N_SHARED_SLOTS };
#define LAYER_SLOT(l, s) ((guint) ((l) * SLOTS_PER_LAYER + (s)))
#define SHARED_SLOT(self, s) ((guint) ((self)->depth * SLOTS_PER_LAYER + (s)))

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
param_clear (Param *p)
{
  g_free (p->name);
  g_clear_object (&p->value);
  g_clear_object (&p->grad);
}

static void
ncfm_convnet_finalize (GObject *object)
{
  NcfmConvNet *self = NCFM_CONVNET (object);
  if (self->params)
    g_array_unref (self->params);
  g_free (self->layers);
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_convnet_parent_class)->finalize (object);
}

static void
ncfm_convnet_class_init (NcfmConvNetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_convnet_finalize;
}

static void
ncfm_convnet_init (NcfmConvNet *self)
{
  self->training = TRUE;
}

static NcfmBackend *
backend (NcfmConvNet *self)
{
  return ncfm_device_get_backend (self->device);
}

/* Adds a parameter (or, with with_grad FALSE, a buffer); returns its index. */
static guint
add_param (NcfmConvNet *self, const gchar *name, const gint64 *shape, guint n_dims,
    gboolean with_grad, guint fan_in, gfloat init_value, GError **error)
{
  Param p = { 0 };
  p.name = g_strdup (name);
  p.fan_in = fan_in;
  p.init_value = init_value;
  p.value = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (p.value && with_grad)
    p.grad = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (!p.value || (with_grad && !p.grad)) {
    param_clear (&p);
    return G_MAXUINT;
  }
  g_array_append_val (self->params, p);
  return self->params->len - 1;
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
NcfmConvNet *
ncfm_convnet_new (NcfmDevice *device, guint in_channels, guint height, guint width,
    guint num_classes, guint depth, guint net_width, NcfmNorm norm, guint64 seed,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (in_channels < 1 || in_channels > 64 || depth < 1 || depth > 8 || net_width < 1
      || net_width > 4096 || num_classes < 1 || num_classes > 100000
      || (guint) norm >= G_N_ELEMENTS (norm_names)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid ConvNet configuration: in_channels %u (1..64), depth %u (1..8), width %u "
        "(1..4096), classes %u (1..100000), norm %d", in_channels, depth, net_width,
        num_classes, (int) norm);
    return NULL;
  }
  g_autoptr (NcfmConvNet) self = g_object_new (NCFM_TYPE_CONVNET, NULL);
  self->device = g_object_ref (device);
  self->in_channels = in_channels;
  self->height = height;
  self->width = width;
  self->num_classes = num_classes;
  self->depth = depth;
  self->net_width = net_width;
  self->norm = norm;
  self->params = g_array_new (FALSE, TRUE, sizeof (Param));
  g_array_set_clear_func (self->params, (GDestroyNotify) param_clear);
  self->layers = g_new0 (Layer, depth);

  /* indices first: the array may move while it grows */
  guint idx[8][6];
  gint h = (gint) height, w = (gint) width, c = (gint) in_channels;
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
          "%dx%d maps)", height, width, depth, l + 1, L->h_out, L->w_out);
      return NULL;
    }
    guint fan_in = (guint) c * 9;
    gint64 wshape[4] = { net_width, c, 3, 3 }, cshape[1] = { net_width };
    g_autofree gchar *cw = g_strdup_printf ("layers.conv.%u.weight", l);
    g_autofree gchar *cb = g_strdup_printf ("layers.conv.%u.bias", l);
    g_autofree gchar *nw = g_strdup_printf ("layers.norm.%u.weight", l);
    g_autofree gchar *nb = g_strdup_printf ("layers.norm.%u.bias", l);
    g_autofree gchar *rm = g_strdup_printf ("layers.norm.%u.running_mean", l);
    g_autofree gchar *rv = g_strdup_printf ("layers.norm.%u.running_var", l);
    for (guint k = 0; k < 6; k++)
      idx[l][k] = G_MAXUINT - 1;
    idx[l][0] = add_param (self, cw, wshape, 4, TRUE, fan_in, 0, error);
    idx[l][1] = add_param (self, cb, cshape, 1, TRUE, fan_in, 0, error);
    if (norm != NCFM_NORM_NONE) {
      idx[l][2] = add_param (self, nw, cshape, 1, TRUE, 0, 1.0f, error);
      idx[l][3] = add_param (self, nb, cshape, 1, TRUE, 0, 0.0f, error);
    }
    if (norm == NCFM_NORM_BATCH) {
      idx[l][4] = add_param (self, rm, cshape, 1, FALSE, 0, 0.0f, error);
      idx[l][5] = add_param (self, rv, cshape, 1, FALSE, 0, 1.0f, error);
    }
    for (guint k = 0; k < 6; k++)
      if (idx[l][k] == G_MAXUINT)
        return NULL;
    h = L->h_pool;
    w = L->w_pool;
    c = (gint) net_width;
  }
  self->feature_dim = (guint) (c * h * w);
  gint64 lw[2] = { num_classes, self->feature_dim }, lb[1] = { num_classes };
  guint iw = add_param (self, "classifier.weight", lw, 2, TRUE, self->feature_dim, 0, error);
  guint ib = add_param (self, "classifier.bias", lb, 1, TRUE, self->feature_dim, 0, error);
  if (iw == G_MAXUINT || ib == G_MAXUINT)
    return NULL;

  Param *P = (Param *) self->params->data;
  for (guint l = 0; l < depth; l++) {
    Layer *L = &self->layers[l];
    Param **slots[6] = { &L->conv_w, &L->conv_b, &L->norm_w, &L->norm_b, &L->running_mean,
      &L->running_var };
    for (guint k = 0; k < 6; k++)
      *slots[k] = idx[l][k] < self->params->len ? &P[idx[l][k]] : NULL;
  }
  self->cls_w = &P[iw];
  self->cls_b = &P[ib];
  ncfm_convnet_reset_parameters (self, seed);
  return g_steal_pointer (&self);
}

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
  guint32 seeds[3] = { (guint32) seed, (guint32) (seed >> 32), 0x6e63666d };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  for (guint i = 0; i < self->params->len; i++) {
    Param *p = &g_array_index (self->params, Param, i);
    gsize n = (gsize) ncfm_tensor_get_numel (p->value);
    g_autofree gfloat *host = g_new (gfloat, n ? n : 1);
    double bound = p->fan_in ? 1.0 / sqrt ((double) p->fan_in) : 0.0;
    for (gsize k = 0; k < n; k++)
      host[k] = p->fan_in ? (gfloat) g_rand_double_range (rand, -bound, bound) : p->init_value;
    ncfm_tensor_set_data (p->value, (const guint8 *) host, n * sizeof (gfloat), NULL);
    if (p->grad)
      ncfm_tensor_fill (p->grad, 0.0f, NULL);
  }
  self->num_batches_tracked = 0;
}

Param *
ncfm_convnet_find_param (NcfmConvNet *self, const gchar *name)
{
  for (guint i = 0; i < self->params->len; i++) {
    Param *p = &g_array_index (self->params, Param, i);
    if (g_str_equal (p->name, name))
      return p;
  }
  return NULL;
}

/**
 * ncfm_convnet_get_device:
 * @self: a #NcfmConvNet
 *
 * Returns: (transfer none): the device the model runs on
 */
NcfmDevice *
ncfm_convnet_get_device (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  return self->device;
}

/**
 * ncfm_convnet_get_feature_dim:
 * @self: a #NcfmConvNet
 *
 * Returns: the length of a feature vector (2048 for ConvNet-3 width 128 on 32x32)
 */
guint
ncfm_convnet_get_feature_dim (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), 0);
  return self->feature_dim;
}

/**
 * ncfm_convnet_get_num_classes:
 * @self: a #NcfmConvNet
 *
 * Returns: the number of classifier outputs
 */
guint
ncfm_convnet_get_num_classes (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), 0);
  return self->num_classes;
}

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
  self->training = training;
}

/**
 * ncfm_convnet_get_training:
 * @self: a #NcfmConvNet
 *
 * Returns: %TRUE in training mode (the default)
 */
gboolean
ncfm_convnet_get_training (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  return self->training;
}

/**
 * ncfm_convnet_get_n_parameters:
 * @self: a #NcfmConvNet
 *
 * Returns: the number of named tensors (parameters and running statistics)
 */
guint
ncfm_convnet_get_n_parameters (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), 0);
  return self->params->len;
}

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
  return index < self->params->len ? g_array_index (self->params, Param, index).name : NULL;
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
  Param *p = ncfm_convnet_find_param (self, name);
  return p ? p->value : NULL;
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
  Param *p = ncfm_convnet_find_param (self, name);
  return p ? p->grad : NULL;
}

static float *
f32 (NcfmTensor *t)
{
  return t ? ncfm_tensor_f32 (t) : NULL;
}

static gboolean
check_images (NcfmConvNet *self, NcfmTensor *images, GError **error)
{
  gint64 n = ncfm_tensor_get_n_dims (images) == 4 ? ncfm_tensor_get_dim (images, 0) : 0;
  gint64 want[4] = { n, self->in_channels, self->height, self->width };
  if (ncfm_tensor_get_dtype (images) != NCFM_DTYPE_F32 || n < 1 || n > G_MAXINT / 2
      || !ncfm_tensor_has_shape (images, want, 4) || ncfm_tensor_get_device (images) != self->device) {
    g_autofree gchar *d = ncfm_tensor_describe (images);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "ConvNet input must be F32 [N, %u, %u, %u] on %s, got %s on %s", self->in_channels,
        self->height, self->width, ncfm_device_get_name (self->device), d,
        ncfm_device_get_name (ncfm_tensor_get_device (images)));
    return FALSE;
  }
  return TRUE;
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
  g_return_val_if_fail (NCFM_IS_CONVNET (self) && NCFM_IS_TENSOR (images), FALSE);
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (activations), FALSE);
  if (!check_images (self, images, error))
    return FALSE;
  gint64 n = ncfm_tensor_get_dim (images, 0);
  if (self->norm == NCFM_NORM_BATCH && self->training && n < 2) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "BatchNorm in training mode needs at least 2 images per batch, got %" G_GINT64_FORMAT, n);
    return FALSE;
  }
  NcfmBackend *be = backend (self);
  NcfmDevice *dev = self->device;
  const float *x = f32 (images);
  NcfmTensor *pooled = NULL;

  for (guint l = 0; l < self->depth; l++) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    gint64 cshape[4] = { n, s.c_out, L->h_out, L->w_out };
    gint64 pshape[4] = { n, s.c_out, L->h_pool, L->w_pool };
    gint64 sshape[1] = { self->norm == NCFM_NORM_BATCH ? s.c_out : n * s.c_out };
    NcfmTensor *conv_out = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_CONV_OUT),
        dev, NCFM_DTYPE_F32, cshape, 4, error);
    NcfmTensor *norm_out = self->norm == NCFM_NORM_NONE ? conv_out
        : ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_NORM_OUT), dev,
            NCFM_DTYPE_F32, cshape, 4, error);
    NcfmTensor *mean = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_MEAN), dev,
        NCFM_DTYPE_F32, sshape, 1, error);
    NcfmTensor *rstd = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_RSTD), dev,
        NCFM_DTYPE_F32, sshape, 1, error);
    pooled = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_POOLED), dev,
        NCFM_DTYPE_F32, pshape, 4, error);
    if (!conv_out || !norm_out || !mean || !rstd || !pooled)
      return FALSE;
    gint hw = L->h_out * L->w_out;

    be->ops->conv2d_forward (be, &s, x, f32 (L->conv_w->value), f32 (L->conv_b->value),
        f32 (conv_out));
    switch (self->norm) {
      case NCFM_NORM_INSTANCE:
        be->ops->groupnorm_forward (be, s.n, s.c_out, hw, s.c_out, NORM_EPS, f32 (conv_out),
            f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (norm_out), f32 (mean),
            f32 (rstd));
        break;
      case NCFM_NORM_BATCH:
        if (self->training)
          be->ops->batchnorm_forward_train (be, s.n, s.c_out, hw, NORM_EPS, BN_MOMENTUM,
              f32 (conv_out), f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (norm_out),
              f32 (mean), f32 (rstd), self->frozen ? NULL : f32 (L->running_mean->value),
              self->frozen ? NULL : f32 (L->running_var->value));
        else
          be->ops->batchnorm_forward_eval (be, s.n, s.c_out, hw, NORM_EPS, f32 (conv_out),
              f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (L->running_mean->value),
              f32 (L->running_var->value), f32 (norm_out));
        break;
      case NCFM_NORM_NONE:
        break;
    }
    be->ops->leaky_relu_forward (be, (size_t) n * s.c_out * hw, 0.0f, f32 (norm_out),
        f32 (norm_out));
    be->ops->avgpool2x2_forward (be, s.n, s.c_out, L->h_out, L->w_out, f32 (norm_out),
        f32 (pooled));
    x = f32 (pooled);
  }
  if (self->norm == NCFM_NORM_BATCH && self->training && !self->frozen)
    self->num_batches_tracked++;

  gint64 fshape[2] = { n, self->feature_dim }, lshape[2] = { n, self->num_classes };
  NcfmTensor *logits = ncfm_activations_ensure (activations, SHARED_SLOT (self, SLOT_LOGITS),
      dev, NCFM_DTYPE_F32, lshape, 2, error);
  if (!logits)
    return FALSE;
  /* features are a [N, D] view of the last pooled maps (NCHW flattening) */
  NcfmTensor *features = ncfm_activations_get_features (activations);
  g_autoptr (NcfmTensor) view = NULL;
  if (!features || ncfm_tensor_get_data (features) != ncfm_tensor_get_data (pooled)
      || !ncfm_tensor_has_shape (features, fshape, 2)) {
    features = view = ncfm_tensor_new_view (pooled, fshape, 2, error);
    if (!view)
      return FALSE;
  }
  be->ops->linear_forward (be, (gint) n, (gint) self->feature_dim, (gint) self->num_classes,
      f32 (features), f32 (self->cls_w->value), f32 (self->cls_b->value), f32 (logits));
  ncfm_activations_set_outputs (activations, features, logits, NULL);
  ncfm_activations_set_input (activations, images);
  ncfm_activations_set_owner (activations, self, n);
  return TRUE;
}

/* ncfm_model_forward_features() of the ConvNet: with instance norm or none
 * each block (conv, norm, ReLU, pool) is one backend op that keeps no
 * activations, the last one writing straight into @features (NCHW
 * flattening); BatchNorm takes the plain forward. */
gboolean
ncfm_convnet_forward_features (NcfmConvNet *self, NcfmTensor *images, NcfmTensor *features,
    NcfmActivations *activations, GError **error)
{
  if (!check_images (self, images, error))
    return FALSE;
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  const gint64 fshape[2] = { n, self->feature_dim };
  if (ncfm_tensor_get_dtype (features) != NCFM_DTYPE_F32 || !ncfm_tensor_has_shape (features, fshape, 2)
      || ncfm_tensor_get_device (features) != self->device) {
    g_autofree gchar *d = ncfm_tensor_describe (features);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "ConvNet features must be F32 [%" G_GINT64_FORMAT ", %u] on %s, got %s", n,
        self->feature_dim, ncfm_device_get_name (self->device), d);
    return FALSE;
  }
  if (self->norm == NCFM_NORM_BATCH)
    return ncfm_convnet_forward (self, images, activations, error)
        && ncfm_tensor_copy_from (features, ncfm_activations_get_features (activations), error);
  NcfmBackend *be = backend (self);
  const gboolean inst = self->norm == NCFM_NORM_INSTANCE;
  const float *x = f32 (images);
  for (guint l = 0; l < self->depth; l++) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    float *out = f32 (features);
    if (l + 1 < self->depth) {   /* the blocks' outputs go after the shared slots */
      gint64 pshape[4] = { n, s.c_out, L->h_pool, L->w_pool };
      NcfmTensor *pooled = ncfm_activations_ensure (activations,
          SHARED_SLOT (self, N_SHARED_SLOTS + l), self->device, NCFM_DTYPE_F32, pshape, 4, error);
      if (!pooled)
        return FALSE;
      out = f32 (pooled);
    }
    be->ops->conv_block_forward (be, &s, x, f32 (L->conv_w->value), f32 (L->conv_b->value),
        NORM_EPS, inst ? f32 (L->norm_w->value) : NULL, inst ? f32 (L->norm_b->value) : NULL, out);
    x = out;
  }
  return TRUE;
}

static gboolean
check_grad_arg (NcfmConvNet *self, NcfmTensor *g, gint64 n, gint64 d, const gchar *what,
    GError **error)
{
  gint64 shape[2] = { n, d };
  if (!g)
    return TRUE;
  if (ncfm_tensor_get_dtype (g) == NCFM_DTYPE_F32 && ncfm_tensor_has_shape (g, shape, 2)
      && ncfm_tensor_get_device (g) == self->device)
    return TRUE;
  g_autofree gchar *desc = ncfm_tensor_describe (g);
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "%s must be F32 [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] on %s, got %s", what, n, d,
      ncfm_device_get_name (self->device), desc);
  return FALSE;
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
  g_return_val_if_fail (NCFM_IS_CONVNET (self) && NCFM_IS_ACTIVATIONS (activations), FALSE);
  gint64 n;
  if (!ncfm_activations_is_owned_by (activations, self, &n)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward needs the activations of a forward pass of this model");
    return FALSE;
  }
  if (!grad_features && !grad_logits) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward needs a gradient wrt the features, the logits, or both");
    return FALSE;
  }
  if (!check_grad_arg (self, grad_features, n, self->feature_dim, "grad_features", error)
      || !check_grad_arg (self, grad_logits, n, self->num_classes, "grad_logits", error))
    return FALSE;
  if (self->norm == NCFM_NORM_BATCH && !self->training) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward through BatchNorm in eval mode is not supported; use training mode");
    return FALSE;
  }
  NcfmBackend *be = backend (self);
  NcfmDevice *dev = self->device;
  gboolean pg = parameter_gradients;

  /* three ping-pong gradient buffers of the largest activation */
  gint64 biggest = 0;
  for (guint l = 0; l < self->depth; l++) {
    Layer *L = &self->layers[l];
    biggest = MAX (biggest, n * L->conv.c_out * L->h_out * L->w_out);
    biggest = MAX (biggest, n * L->conv.c_in * L->conv.h_in * L->conv.w_in);
  }
  gint64 gshape[1] = { biggest };
  gint64 ishape[4] = { n, self->in_channels, self->height, self->width };
  NcfmTensor *ga = ncfm_activations_ensure (activations, SHARED_SLOT (self, SLOT_GRAD_A), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gb = ncfm_activations_ensure (activations, SHARED_SLOT (self, SLOT_GRAD_B), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gc = ncfm_activations_ensure (activations, SHARED_SLOT (self, SLOT_GRAD_C), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gimg = ncfm_activations_ensure (activations, SHARED_SLOT (self, SLOT_GRAD_IMAGES),
      dev, NCFM_DTYPE_F32, ishape, 4, error);
  if (!ga || !gb || !gc || !gimg)
    return FALSE;

  NcfmTensor *features = ncfm_activations_get_features (activations);
  size_t fcount = (size_t) n * self->feature_dim;
  float *g = f32 (ga);                   /* dL/d(pooled output of the current layer) */
  if (grad_logits) {
    be->ops->linear_backward (be, (gint) n, (gint) self->feature_dim, (gint) self->num_classes,
        f32 (features), f32 (self->cls_w->value), f32 (grad_logits), g,
        pg ? f32 (self->cls_w->grad) : NULL, pg ? f32 (self->cls_b->grad) : NULL);
    if (grad_features)
      be->ops->axpby (be, fcount, 1.0f, f32 (grad_features), 1.0f, g);
  } else {
    be->ops->copy (be, g, f32 (grad_features), fcount * sizeof (float));
    if (pg) {
      ncfm_tensor_fill (self->cls_w->grad, 0.0f, NULL);
      ncfm_tensor_fill (self->cls_b->grad, 0.0f, NULL);
    }
  }

  float *spare = f32 (gb), *spare2 = f32 (gc);
  for (gint l = (gint) self->depth - 1; l >= 0; l--) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    gint hw = L->h_out * L->w_out;
    size_t count = (size_t) n * s.c_out * hw;
    NcfmTensor *conv_out = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_CONV_OUT));
    NcfmTensor *norm_out = self->norm == NCFM_NORM_NONE ? conv_out
        : ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_NORM_OUT));
    NcfmTensor *mean = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_MEAN));
    NcfmTensor *rstd = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_RSTD));
    const float *layer_in = l == 0 ? NULL
        : f32 (ncfm_activations_peek (activations, LAYER_SLOT (l - 1, SLOT_POOLED)));

    /* pool, then ReLU (its output keeps the sign), both into `spare` */
    be->ops->avgpool2x2_backward (be, s.n, s.c_out, L->h_out, L->w_out, g, spare);
    be->ops->leaky_relu_backward (be, count, 0.0f, f32 (norm_out), spare, spare);
    float *dconv = spare;
    if (self->norm != NCFM_NORM_NONE) {
      float *dg = pg ? f32 (L->norm_w->grad) : NULL;
      float *db = pg ? f32 (L->norm_b->grad) : NULL;
      if (self->norm == NCFM_NORM_INSTANCE)
        be->ops->groupnorm_backward (be, s.n, s.c_out, hw, s.c_out, f32 (conv_out),
            f32 (L->norm_w->value), f32 (mean), f32 (rstd), spare, spare2, dg, db);
      else
        be->ops->batchnorm_backward (be, s.n, s.c_out, hw, f32 (conv_out),
            f32 (L->norm_w->value), f32 (mean), f32 (rstd), spare, spare2, dg, db);
      dconv = spare2;
    }
    const float *x_in = l == 0 ? f32 (ncfm_activations_get_input (activations)) : layer_in;
    float *dx = l == 0 ? f32 (gimg) : g;
    be->ops->conv2d_backward (be, &s, x_in, f32 (L->conv_w->value), dconv, dx,
        pg ? f32 (L->conv_w->grad) : NULL, pg ? f32 (L->conv_b->grad) : NULL);
  }
  ncfm_activations_set_outputs (activations, NULL, NULL, gimg);
  return TRUE;
}
