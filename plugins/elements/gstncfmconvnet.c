/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmconvnet
 * @title: ncfmconvnet
 * @short_description: ConvNet-D feature extractor: image batches to feature batches
 *
 * Runs every image batch through a ConvNet-D (the extractor of the DM and
 * NCFM papers: depth x [conv 3x3 -> norm -> ReLU -> 2x2 average pool], the
 * last block flattened) and pushes its features, D = width x (H / 2^depth)
 * x (W / 2^depth) per image (2048 for 3x32x32 at depth 3, width 128; a
 * one-channel input gets padding 3 on the first conv, so 28x28 counts as
 * 32x32).
 *
 * Caps, the model meta, weights files, model pools (random member and
 * init/trained blend per rotation), random inits and devices work as for
 * every extractor (#GstNcfmExtractor); ncfmresnet takes the same pipeline.
 * Input caps a ConvNet of this depth cannot take (too few pixels, more than
 * 64 channels, other types) fail negotiation with an error naming the caps
 * field and property at fault.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=256 ! ncfmconvnet width=32 ! fakesink
 * ]| Features of one epoch of Fashion-MNIST through fresh random ConvNets.
 */
#include "gstncfmconvnet.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_convnet_debug);

#define DEFAULT_DEPTH 3
#define DEFAULT_WIDTH 128
#define DEFAULT_NORM NCFM_NORM_INSTANCE

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_WIDTH,
  PROP_NORM,
};

struct _GstNcfmConvNet {
  GstNcfmExtractor parent;
  guint depth, width;   /* properties, under the object lock */
  NcfmNorm norm;
};

G_DEFINE_FINAL_TYPE (GstNcfmConvNet, gst_ncfm_convnet, GST_TYPE_NCFM_EXTRACTOR)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmconvnet, "ncfmconvnet", GST_RANK_NONE,
    GST_TYPE_NCFM_CONVNET,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_convnet_debug, "ncfmconvnet", 0,
        "ncfm ConvNet feature extractor"));

/* The feature dim of a ConvNet of the properties' depth and width on
 * [c, h, w] images (the layer arithmetic of ncfm_convnet_new). */
/* The side of the last block's maps for an input side *s, or FALSE when some
 * block would pool maps of side 0. */
static gboolean
pooled_side (guint c, guint depth, gint64 *s)
{
  for (guint l = 0; l < depth; l++) {
    const gint64 pad = (c == 1 && l == 0) ? 3 : 1;   /* 28x28 grey -> 32x32 maps */
    *s = (*s + 2 * pad - 2) / 2;
    if (*s < 1)
      return FALSE;
  }
  return TRUE;
}

static gboolean
gst_ncfm_convnet_feature_dim (GstNcfmExtractor *base, guint c, guint h, guint w, guint *d,
    GError **error)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (base);
  GST_OBJECT_LOCK (self);
  const guint depth = self->depth, width = self->width;
  GST_OBJECT_UNLOCK (self);
  gint64 y = h, x = w;
  if (!pooled_side (c, depth, &y) || !pooled_side (c, depth, &x)) {
    guint least = 1;          /* the smallest side that survives every pooling */
    for (gint64 s = 1; !pooled_side (c, depth, &s); s = ++least)
      ;
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: %s depth %u (property depth) needs %u-channel inputs of at least "
        "%ux%u, got %ux%u", GST_ELEMENT_NAME (gst_element_get_factory (GST_ELEMENT (self))), depth,
        c, least, least, h, w);
    return FALSE;
  }
  if ((guint64) width * y * x > G_MAXINT) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: images of %ux%u give more than %d features (properties "
        "width, depth)", h, w, G_MAXINT);
    return FALSE;
  }
  *d = (guint) (width * y * x);
  return TRUE;
}

static void
gst_ncfm_convnet_model_settings (GstNcfmExtractor *base, guint *depth, guint *width,
    NcfmNorm *norm)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (base);
  *depth = self->depth;
  *width = self->width;
  *norm = self->norm;
}

static void
gst_ncfm_convnet_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (object);
  if (!gst_ncfm_extractor_lock_settings (GST_NCFM_EXTRACTOR (self), pspec))
    return;
  switch (prop_id) {
    case PROP_DEPTH: self->depth = g_value_get_uint (value); break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_NORM: self->norm = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_convnet_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEPTH: g_value_set_uint (value, self->depth); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_NORM: g_value_set_enum (value, self->norm); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_convnet_class_init (GstNcfmConvNetClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstNcfmExtractorClass *extractor_class = GST_NCFM_EXTRACTOR_CLASS (klass);

  gobject_class->set_property = gst_ncfm_convnet_set_property;
  gobject_class->get_property = gst_ncfm_convnet_get_property;
  /**
   * GstNcfmConvNet:depth:
   *
   * Conv blocks; each halves the image side (3 for 32x32, 4 for 64x64, 5 for 128x128).
   */
  g_object_class_install_property (gobject_class, PROP_DEPTH,
      g_param_spec_uint ("depth", "Depth", "Conv blocks (each halves the image side)", 1, 8,
          DEFAULT_DEPTH, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:width:
   *
   * Channels of every conv (128 in the papers); D = width x (H/2^depth) x (W/2^depth).
   */
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_uint ("width", "Width", "Channels of every conv layer", 1, 4096,
          DEFAULT_WIDTH, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:norm:
   *
   * The normalisation after each conv.
   */
  g_object_class_install_property (gobject_class, PROP_NORM,
      g_param_spec_enum ("norm", "Norm", "Normalisation after each conv",
          GST_TYPE_NCFM_EXTRACTOR_NORM, DEFAULT_NORM, PARAM_FLAGS));

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "NCFM ConvNet feature extractor", "Filter/Converter/Tensor",
      "Turns image batches into ConvNet-D features: weights from a file, a model pool "
      "(random member and init/trained blend per rotation) or a fresh random init per "
      "rotation; attaches the exact model used for the distiller to replay",
      "gst-ncfm developers");

  extractor_class->model_name = "ConvNet";
  extractor_class->classifier_weight = "classifier.weight";
  extractor_class->debug_category = gst_ncfm_convnet_debug;
  extractor_class->feature_dim = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_feature_dim);
  extractor_class->architecture = "convnet";
  extractor_class->model_settings = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_model_settings);
}

static void
gst_ncfm_convnet_init (GstNcfmConvNet *self)
{
  self->depth = DEFAULT_DEPTH;
  self->width = DEFAULT_WIDTH;
  self->norm = DEFAULT_NORM;
}
