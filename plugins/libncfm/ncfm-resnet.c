/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-resnet
 * @title: NcfmResNet
 * @short_description: ResNet-AP, the residual extractor of the IDC/NCFM code
 *
 * The reference implementation's `ResNetAP` (models/resnet_ap.py of NCFM,
 * from IDC): a ResNet whose downsampling uses 2x2 average pooling instead of
 * strided convolutions.
 *
 * - layer0 (stem): conv 3x3 (padding 1) -> norm -> ReLU.  Images of 65 to
 *   128 pixels add a 2x2 average pool; larger ones use a 7x7 conv and a 4x4
 *   pool.  One-channel input gets 2 more pixels of padding (28x28 becomes
 *   32x32 maps, as in the ConvNet).
 * - layer1 .. layer4: BasicBlocks of widths w, 2w, 4w, 8w (one per stage at
 *   depth 10, two at depth 18): conv 3x3 -> norm -> ReLU -> [2x2 average pool
 *   in the first block of stages 2-4] -> conv 3x3 -> norm, plus the shortcut
 *   (identity, or conv 1x1 -> [2x2 average pool] -> norm where the shape
 *   changes), then ReLU.
 * - features: the average over the last maps, length 8w; fc = Linear(8w, classes).
 *
 * Norms: instance (GroupNorm with one group per channel, the reference's
 * "instance"), batch, or none (convs then have biases, as in the reference).
 * Parameter names are the reference's (`layer0.conv1.weight`,
 * `layer2.0.bn1.weight`, `layer2.0.downsample.0.weight`,
 * `layer2.0.downsample.2.bias`, `fc.weight`, ...), so its checkpoints load
 * unchanged.  The reference's CIFAR configuration is width 32.  Conv weights
 * start as N(0, 2 / (k * k * out_channels)) as the reference initialises
 * them, everything else with PyTorch's defaults.
 *
 * An #NcfmModel: use the interface for forward, backward, parameters and I/O.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-resnet-private.h"

#include <math.h>

static void ncfm_resnet_model_iface_init (NcfmModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (NcfmResNet, ncfm_resnet, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (NCFM_TYPE_MODEL, ncfm_resnet_model_iface_init))

#define MAX_WIDTH 1024
#define N_STAGES 4

static void
param_free (NcfmResNetParam *p)
{
  g_free (p->name);
  g_clear_object (&p->value);
  g_clear_object (&p->grad);
  g_free (p);
}

static void
ncfm_resnet_finalize (GObject *object)
{
  NcfmResNet *self = NCFM_RESNET (object);
  g_clear_pointer (&self->params, g_ptr_array_unref);
  g_free (self->blocks);
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_resnet_parent_class)->finalize (object);
}

static void
ncfm_resnet_class_init (NcfmResNetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_resnet_finalize;
}

static void
ncfm_resnet_init (NcfmResNet *self)
{
  self->training = TRUE;
}

/* Adds a parameter (or, with with_grad FALSE, a buffer); NULL on failure. */
static NcfmResNetParam *
add_param (NcfmResNet *self, const gchar *name, const gchar *suffix, const gint64 *shape,
    guint n_dims, gboolean with_grad, GError **error)
{
  NcfmResNetParam *p = g_new0 (NcfmResNetParam, 1);
  p->name = g_strconcat (name, suffix, NULL);
  p->value = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (p->value && with_grad)
    p->grad = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, n_dims, error);
  if (!p->value || (with_grad && !p->grad)) {
    param_free (p);
    return NULL;
  }
  g_ptr_array_add (self->params, p);
  return p;
}

/* The tensors of one conv (+ norm) unit, named as in the reference. */
static gboolean
add_unit (NcfmResNet *self, NcfmResNetUnit *u, const gchar *conv, const gchar *norm,
    GError **error)
{
  const gint c_in = u->conv.c_in, c_out = u->conv.c_out, k = u->conv.kernel_h;
  const gint64 wshape[4] = { c_out, c_in, k, k }, cshape[1] = { c_out };
  if (!(u->weight = add_param (self, conv, ".weight", wshape, 4, TRUE, error)))
    return FALSE;
  u->weight->init_std = (gfloat) sqrt (2.0 / (k * k * c_out));
  if (self->norm == NCFM_NORM_NONE) {
    if (!(u->bias = add_param (self, conv, ".bias", cshape, 1, TRUE, error)))
      return FALSE;
    u->bias->fan_in = (guint) (c_in * k * k);
    return TRUE;
  }
  if (!(u->norm_w = add_param (self, norm, ".weight", cshape, 1, TRUE, error))
      || !(u->norm_b = add_param (self, norm, ".bias", cshape, 1, TRUE, error)))
    return FALSE;
  u->norm_w->init_value = 1.0f;
  if (self->norm == NCFM_NORM_BATCH) {
    if (!(u->running_mean = add_param (self, norm, ".running_mean", cshape, 1, FALSE, error))
        || !(u->running_var = add_param (self, norm, ".running_var", cshape, 1, FALSE, error)))
      return FALSE;
    u->running_var->init_value = 1.0f;
  }
  return TRUE;
}

/* A unit's geometry on [c_in, h, w] input; its slots are taken from *slot. */
static void
unit_geometry (NcfmResNetUnit *u, gint c_in, gint h, gint w, gint c_out, gint kernel, gint pad,
    gboolean pool, guint *slot)
{
  u->conv = (NcfmConv2dShape) { .n = 0, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out,
    .kernel_h = kernel, .kernel_w = kernel, .stride = 1, .pad = pad };
  u->conv_h = ncfm_conv2d_h_out (&u->conv);
  u->conv_w = ncfm_conv2d_w_out (&u->conv);
  u->pool = pool;
  u->h = pool ? u->conv_h / 2 : u->conv_h;
  u->w = pool ? u->conv_w / 2 : u->conv_w;
  u->slot = *slot;
  *slot += SLOTS_PER_UNIT;
}

static guint
blocks_per_stage (guint depth)
{
  return depth == 18 ? 2 : 1;
}

/**
 * ncfm_resnet_check_geometry:
 * @in_channels: image channels
 * @height: image height
 * @width: image width
 * @depth: 10 or 18
 * @net_width: channels of the first stage w (64 in the reference)
 * @feature_dim: (out) (optional): the feature length, 8 * @net_width
 * @error: return location for a #GError
 *
 * Whether a ResNet-AP of @depth and @net_width takes images of this shape
 * (each of stages 2-4 halves the maps, which must keep at least one pixel).
 *
 * Returns: %TRUE if it does
 */
gboolean
ncfm_resnet_check_geometry (guint in_channels, guint height, guint width, guint depth,
    guint net_width, guint *feature_dim, GError **error)
{
  if (in_channels < 1 || in_channels > 64 || (depth != 10 && depth != 18) || net_width < 1
      || net_width > MAX_WIDTH || height < 1 || height > G_MAXINT / 4 || width < 1
      || width > G_MAXINT / 4) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid ResNet-AP configuration: in_channels %u (1..64), depth %u (10 or 18), width %u "
        "(1..%d), images %ux%u", in_channels, depth, net_width, MAX_WIDTH, height, width);
    return FALSE;
  }
  const guint size = MAX (height, width);
  const gint kernel = size > 128 ? 7 : 3, pools = size > 128 ? 2 : size > 64 ? 1 : 0;
  const gint pad = kernel / 2 + (in_channels == 1 ? 2 : 0);
  gint h = (gint) height + 2 * pad - kernel + 1, w = (gint) width + 2 * pad - kernel + 1;
  for (gint p = 0; p < pools; p++) {
    h /= 2;
    w /= 2;
  }
  for (guint s = 1; s < N_STAGES && h >= 1 && w >= 1; s++) {
    h /= 2;
    w /= 2;
  }
  if (h < 1 || w < 1) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "images of %ux%u are too small for a ResNet-AP: its stem and three downsampling "
        "stages would leave %dx%d maps", height, width, h, w);
    return FALSE;
  }
  if (feature_dim)
    *feature_dim = 8 * net_width;
  return TRUE;
}

/* Builds the layers and tensors of @self (configuration already set). */
static gboolean
build (NcfmResNet *self, GError **error)
{
  const guint size = MAX (self->height, self->width);
  const gint kernel = size > 128 ? 7 : 3;
  const gint pad = kernel / 2 + (self->in_channels == 1 ? 2 : 0);
  const gint wd = (gint) self->net_width;
  guint slot = 0;

  self->stem_pools = size > 128 ? 2 : size > 64 ? 1 : 0;
  unit_geometry (&self->stem, (gint) self->in_channels, (gint) self->height, (gint) self->width,
      wd, kernel, pad, FALSE, &slot);
  if (!add_unit (self, &self->stem, "layer0.conv1", "layer0.bn1", error))
    return FALSE;
  gint c = wd, h = self->stem.h, w = self->stem.w;
  for (guint p = 0; p < self->stem_pools; p++) {
    h /= 2;
    w /= 2;
  }
  self->stem_h = h;
  self->stem_w = w;

  const guint per_stage = blocks_per_stage (self->depth);
  self->n_blocks = N_STAGES * per_stage;
  self->blocks = g_new0 (NcfmResNetBlock, self->n_blocks);
  for (guint s = 0; s < N_STAGES; s++) {
    for (guint b = 0; b < per_stage; b++) {
      NcfmResNetBlock *B = &self->blocks[s * per_stage + b];
      const gint planes = wd << s;
      g_autofree gchar *pre = g_strdup_printf ("layer%u.%u", s + 1, b);
      g_autofree gchar *c1 = g_strconcat (pre, ".conv1", NULL);
      g_autofree gchar *n1 = g_strconcat (pre, ".bn1", NULL);
      g_autofree gchar *c2 = g_strconcat (pre, ".conv2", NULL);
      g_autofree gchar *n2 = g_strconcat (pre, ".bn2", NULL);
      g_autofree gchar *d0 = g_strconcat (pre, ".downsample.0", NULL);
      g_autofree gchar *d2 = g_strconcat (pre, ".downsample.2", NULL);
      B->pool = s > 0 && b == 0;
      B->has_shortcut = B->pool || c != planes;
      unit_geometry (&B->c1, c, h, w, planes, 3, 1, FALSE, &slot);
      const gint ho = B->pool ? h / 2 : h, wo = B->pool ? w / 2 : w;
      unit_geometry (&B->c2, planes, ho, wo, planes, 3, 1, FALSE, &slot);
      if (B->has_shortcut)
        unit_geometry (&B->sc, c, h, w, planes, 1, 0, B->pool, &slot);
      if (!add_unit (self, &B->c1, c1, n1, error) || !add_unit (self, &B->c2, c2, n2, error)
          || (B->has_shortcut && !add_unit (self, &B->sc, d0, d2, error)))
        return FALSE;
      c = planes;
      h = ho;
      w = wo;
    }
  }
  for (guint b = 0; b < self->n_blocks; b++)
    self->blocks[b].slot = slot++;
  self->stem_pool_slot = slot;
  slot += 2;
  self->n_slots = slot;
  self->final_h = h;
  self->final_w = w;
  self->feature_dim = (guint) c;

  const gint64 lw[2] = { self->num_classes, c }, lb[1] = { self->num_classes };
  if (!(self->fc_w = add_param (self, "fc", ".weight", lw, 2, TRUE, error))
      || !(self->fc_b = add_param (self, "fc", ".bias", lb, 1, TRUE, error)))
    return FALSE;
  self->fc_w->fan_in = self->fc_b->fan_in = (guint) c;
  return TRUE;
}

/**
 * ncfm_resnet_new:
 * @device: where the parameters live and the model runs
 * @in_channels: image channels (1 to 64)
 * @height: image height
 * @width: image width
 * @num_classes: classifier outputs
 * @depth: 10 (one BasicBlock per stage) or 18 (two)
 * @net_width: channels of the first stage w (64 in the reference, 32 in its
 *   CIFAR configuration); the stages have w, 2w, 4w and 8w
 * @norm: normalisation layer
 * @seed: seed of the random initialisation
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model, or %NULL if the configuration or
 *   the geometry is impossible
 */
NcfmResNet *
ncfm_resnet_new (NcfmDevice *device, guint in_channels, guint height, guint width,
    guint num_classes, guint depth, guint net_width, NcfmNorm norm, guint64 seed,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (!ncfm_resnet_check_geometry (in_channels, height, width, depth, net_width, NULL, error))
    return NULL;
  if (num_classes < 1 || num_classes > 100000 || (guint) norm > NCFM_NORM_BATCH) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid ResNet-AP configuration: classes %u (1..100000), norm %d", num_classes,
        (int) norm);
    return NULL;
  }
  g_autoptr (NcfmResNet) self = g_object_new (NCFM_TYPE_RESNET, NULL);
  self->device = g_object_ref (device);
  self->in_channels = in_channels;
  self->height = height;
  self->width = width;
  self->num_classes = num_classes;
  self->depth = depth;
  self->net_width = net_width;
  self->norm = norm;
  self->params = g_ptr_array_new_with_free_func ((GDestroyNotify) param_free);
  if (!build (self, error))
    return NULL;
  ncfm_resnet_reset_parameters (self, seed);
  return g_steal_pointer (&self);
}

/* Re-draws every parameter as ncfm_resnet_new() does, resets running
 * statistics and zeroes the gradients. */
void
ncfm_resnet_reset_parameters (NcfmResNet *self, guint64 seed)
{
  guint32 seeds[3] = { (guint32) seed, (guint32) (seed >> 32), 0x72736e74 };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  for (guint i = 0; i < self->params->len; i++) {
    NcfmResNetParam *p = g_ptr_array_index (self->params, i);
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
  self->num_batches_tracked = 0;
}

NcfmResNetParam *
ncfm_resnet_find_param (NcfmResNet *self, const gchar *name)
{
  for (guint i = 0; i < self->params->len; i++) {
    NcfmResNetParam *p = g_ptr_array_index (self->params, i);
    if (g_str_equal (p->name, name))
      return p;
  }
  return NULL;
}

/**
 * ncfm_resnet_get_depth:
 * @self: a #NcfmResNet
 *
 * Returns: 10 or 18
 */
guint
ncfm_resnet_get_depth (NcfmResNet *self)
{
  g_return_val_if_fail (NCFM_IS_RESNET (self), 0);
  return self->depth;
}

/**
 * ncfm_resnet_get_net_width:
 * @self: a #NcfmResNet
 *
 * Returns: the channels w of the first stage
 */
guint
ncfm_resnet_get_net_width (NcfmResNet *self)
{
  g_return_val_if_fail (NCFM_IS_RESNET (self), 0);
  return self->net_width;
}

/**
 * ncfm_resnet_get_norm:
 * @self: a #NcfmResNet
 *
 * Returns: the normalisation layer
 */
NcfmNorm
ncfm_resnet_get_norm (NcfmResNet *self)
{
  g_return_val_if_fail (NCFM_IS_RESNET (self), NCFM_NORM_NONE);
  return self->norm;
}

/* ---- NcfmModel ---- */

static const gchar *
get_architecture (NcfmModel *m)
{
  (void) m;
  return "resnet-ap";
}

static NcfmDevice *
get_device (NcfmModel *m)
{
  return NCFM_RESNET (m)->device;
}

static void
get_input_shape (NcfmModel *m, guint *c, guint *h, guint *w)
{
  NcfmResNet *self = NCFM_RESNET (m);
  *c = self->in_channels;
  *h = self->height;
  *w = self->width;
}

static guint
get_feature_dim (NcfmModel *m)
{
  return NCFM_RESNET (m)->feature_dim;
}

static guint
get_num_classes (NcfmModel *m)
{
  return NCFM_RESNET (m)->num_classes;
}

static void
set_training (NcfmModel *m, gboolean training)
{
  NCFM_RESNET (m)->training = training;
}

static gboolean
get_training (NcfmModel *m)
{
  return NCFM_RESNET (m)->training;
}

static void
set_frozen (NcfmModel *m, gboolean frozen)
{
  NCFM_RESNET (m)->frozen = frozen;
}

static gboolean
get_samples_independent (NcfmModel *m)
{
  return NCFM_RESNET (m)->norm != NCFM_NORM_BATCH || !NCFM_RESNET (m)->training;
}

static guint
get_n_parameters (NcfmModel *m)
{
  return NCFM_RESNET (m)->params->len;
}

static const gchar *
get_parameter_name (NcfmModel *m, guint index)
{
  NcfmResNet *self = NCFM_RESNET (m);
  return index < self->params->len
      ? ((NcfmResNetParam *) g_ptr_array_index (self->params, index))->name : NULL;
}

static NcfmTensor *
get_parameter (NcfmModel *m, const gchar *name)
{
  NcfmResNetParam *p = ncfm_resnet_find_param (NCFM_RESNET (m), name);
  return p ? p->value : NULL;
}

static NcfmTensor *
get_gradient (NcfmModel *m, const gchar *name)
{
  NcfmResNetParam *p = ncfm_resnet_find_param (NCFM_RESNET (m), name);
  return p ? p->grad : NULL;
}

static void
reset_parameters (NcfmModel *m, guint64 seed)
{
  ncfm_resnet_reset_parameters (NCFM_RESNET (m), seed);
}

static NcfmModel *
new_like (NcfmModel *m, NcfmDevice *device, guint64 seed, GError **error)
{
  NcfmResNet *self = NCFM_RESNET (m);
  NcfmResNet *copy = ncfm_resnet_new (device, self->in_channels, self->height, self->width,
      self->num_classes, self->depth, self->net_width, self->norm, seed, error);
  if (copy)
    copy->training = self->training;
  return copy ? NCFM_MODEL (copy) : NULL;
}

static gboolean
forward (NcfmModel *m, NcfmTensor *images, NcfmActivations *activations, GError **error)
{
  return ncfm_resnet_forward (NCFM_RESNET (m), images, activations, error);
}

static gboolean
backward (NcfmModel *m, NcfmActivations *activations, NcfmTensor *grad_features,
    NcfmTensor *grad_logits, gboolean parameter_gradients, GError **error)
{
  return ncfm_resnet_backward (NCFM_RESNET (m), activations, grad_features, grad_logits,
      parameter_gradients, error);
}

static NcfmSafetensors *
to_safetensors (NcfmModel *m)
{
  return ncfm_resnet_to_safetensors (NCFM_RESNET (m));
}

static gboolean
load_safetensors (NcfmModel *m, NcfmSafetensors *file, GError **error)
{
  return ncfm_resnet_load_safetensors (NCFM_RESNET (m), file, error);
}

static void
ncfm_resnet_model_iface_init (NcfmModelInterface *iface)
{
  iface->get_architecture = get_architecture;
  iface->get_device = get_device;
  iface->get_input_shape = get_input_shape;
  iface->get_feature_dim = get_feature_dim;
  iface->get_num_classes = get_num_classes;
  iface->set_training = set_training;
  iface->get_training = get_training;
  iface->set_frozen = set_frozen;
  iface->get_samples_independent = get_samples_independent;
  iface->get_n_parameters = get_n_parameters;
  iface->get_parameter_name = get_parameter_name;
  iface->get_parameter = get_parameter;
  iface->get_gradient = get_gradient;
  iface->reset_parameters = reset_parameters;
  iface->new_like = new_like;
  iface->forward = forward;
  iface->backward = backward;
  iface->to_safetensors = to_safetensors;
  iface->load_safetensors = load_safetensors;
}
