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
 * An #NcfmModel: use the base class for forward, backward, parameters and I/O.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-resnet-private.h"

#include <math.h>

G_DEFINE_FINAL_TYPE (NcfmResNet, ncfm_resnet, NCFM_TYPE_MODEL)

#define MAX_WIDTH 1024
static gboolean ncfm_resnet_build (NcfmModel *model, GError **error);

static void
ncfm_resnet_class_init (NcfmResNetClass *klass)
{
  NcfmModelClass *model_class = NCFM_MODEL_CLASS (klass);
  model_class->title = "ResNet-AP";
  model_class->init_salt = 0x72736e74;
  model_class->build = ncfm_resnet_build;
  model_class->forward = ncfm_resnet_forward_layers;
  model_class->backward = ncfm_resnet_backward_layers;
}

static void
ncfm_resnet_init (NcfmResNet *self)
{
  (void) self;
}

/* The tensors of one conv (+ norm) unit, named as in the reference. */
static gboolean
add_unit (NcfmResNet *self, NcfmResNetUnit *u, const gchar *conv, const gchar *norm,
    GError **error)
{
  const gint c_in = u->conv.c_in, c_out = u->conv.c_out, k = u->conv.kernel_h;
  const gint64 wshape[4] = { c_out, c_in, k, k }, cshape[1] = { c_out };
  NcfmModel *model = NCFM_MODEL (self);
  const NcfmNorm norm_kind = NCFM_MODEL_BASE (self)->norm;
  if (!(u->weight = ncfm_model_add_parameter (model, conv, ".weight", wshape, 4, TRUE, error)))
    return FALSE;
  u->weight->init_std = (gfloat) sqrt (2.0 / (k * k * c_out));
  if (norm_kind == NCFM_NORM_NONE) {
    if (!(u->bias = ncfm_model_add_parameter (model, conv, ".bias", cshape, 1, TRUE, error)))
      return FALSE;
    u->bias->fan_in = (guint) (c_in * k * k);
    return TRUE;
  }
  if (!(u->norm_w = ncfm_model_add_parameter (model, norm, ".weight", cshape, 1, TRUE, error))
      || !(u->norm_b = ncfm_model_add_parameter (model, norm, ".bias", cshape, 1, TRUE, error)))
    return FALSE;
  u->norm_w->init_value = 1.0f;
  if (norm_kind == NCFM_NORM_BATCH) {
    if (!(u->running_mean = ncfm_model_add_parameter (model, norm, ".running_mean", cshape, 1,
                FALSE, error))
        || !(u->running_var = ncfm_model_add_parameter (model, norm, ".running_var", cshape, 1,
                FALSE, error)))
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
  return depth == 18 ? MAX_BLOCKS_PER_STAGE : 1;
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

/* #NcfmModelClass.build: the stem, the stages' blocks and the classifier,
 * their tensors in the reference's state_dict order. */
static gboolean
ncfm_resnet_build (NcfmModel *model, GError **error)
{
  NcfmResNet *self = NCFM_RESNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  if (!ncfm_resnet_check_geometry (m->in_channels, m->height, m->width, m->depth, m->net_width,
          NULL, error))
    return FALSE;
  if (m->num_classes < 1 || m->num_classes > 100000 || (guint) m->norm > NCFM_NORM_BATCH) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid ResNet-AP configuration: classes %u (1..100000), norm %d", m->num_classes,
        (int) m->norm);
    return FALSE;
  }
  const guint size = MAX (m->height, m->width);
  const gint kernel = size > 128 ? 7 : 3;
  const gint pad = kernel / 2 + (m->in_channels == 1 ? 2 : 0);
  const gint wd = (gint) m->net_width;
  guint slot = 0;

  self->stem_pools = size > 128 ? 2 : size > 64 ? 1 : 0;
  unit_geometry (&self->stem, (gint) m->in_channels, (gint) m->height, (gint) m->width,
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

  const guint per_stage = blocks_per_stage (m->depth);
  self->n_blocks = N_STAGES * per_stage;
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
  m->feature_dim = (guint) c;

  const gint64 lw[2] = { m->num_classes, c }, lb[1] = { m->num_classes };
  if (!(self->fc_w = ncfm_model_add_parameter (model, "fc", ".weight", lw, 2, TRUE, error))
      || !(self->fc_b = ncfm_model_add_parameter (model, "fc", ".bias", lb, 1, TRUE, error)))
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

/**
 * ncfm_resnet_new_from_safetensors:
 * @device: where the model runs
 * @file: weights written by ncfm_model_save() of a #NcfmResNet (metadata
 *   `ncfm.arch` = resnet-ap and its hyperparameters)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model with the file's weights
 */
NCFM_MODEL_DEFINE_CONSTRUCTORS (NcfmResNet, ncfm_resnet, NCFM_TYPE_RESNET)

/**
 * ncfm_resnet_get_depth:
 * @self: a #NcfmResNet
 *
 * Returns: 10 or 18
 */
NCFM_MODEL_DEFINE_GETTER (guint, NcfmResNet, ncfm_resnet, depth)

/**
 * ncfm_resnet_get_net_width:
 * @self: a #NcfmResNet
 *
 * Returns: the channels w of the first stage
 */
NCFM_MODEL_DEFINE_GETTER (guint, NcfmResNet, ncfm_resnet, net_width)

/**
 * ncfm_resnet_get_norm:
 * @self: a #NcfmResNet
 *
 * Returns: the normalisation layer
 */
NCFM_MODEL_DEFINE_GETTER (NcfmNorm, NcfmResNet, ncfm_resnet, norm)
