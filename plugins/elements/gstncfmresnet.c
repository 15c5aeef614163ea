/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmresnet
 * @title: ncfmresnet
 * @short_description: ResNet-AP feature extractor: image batches to feature batches
 *
 * Runs every image batch through a ResNet-AP (#NcfmResNet: the residual
 * network of the NCFM/IDC reference code, which downsamples with 2x2
 * average pools instead of strided convs; 4 stages of width w, 2w, 4w, 8w)
 * and pushes its features: the average of the last maps, D = 8 x width per
 * image (512 at the default width 64; the reference's CIFAR configuration
 * is width=32).
 *
 * Caps, the model meta, weights files, model pools (random member and
 * init/trained blend per rotation), random inits and devices work as for
 * every extractor (#GstNcfmExtractor): a pipeline written for ncfmconvnet
 * runs with ncfmresnet in its place.  Images too small for the three
 * downsampling stages fail negotiation with an error naming the caps field.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=256 ! ncfmresnet width=16 ! fakesink
 * ]| Features of one epoch of Fashion-MNIST through fresh random ResNet-AP-10s.
 */
#include "gstncfmresnet.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_resnet_debug);

#define DEFAULT_DEPTH 10
#define DEFAULT_WIDTH 64
#define DEFAULT_NORM NCFM_NORM_INSTANCE

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_WIDTH,
  PROP_NORM,
};

struct _GstNcfmResNet {
  GstNcfmExtractor parent;
  guint depth, width;   /* properties, under the object lock */
  NcfmNorm norm;
};

G_DEFINE_FINAL_TYPE (GstNcfmResNet, gst_ncfm_resnet, GST_TYPE_NCFM_EXTRACTOR)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmresnet, "ncfmresnet", GST_RANK_NONE,
    GST_TYPE_NCFM_RESNET,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_resnet_debug, "ncfmresnet", 0,
        "ncfm ResNet-AP feature extractor"));

#define GST_TYPE_NCFM_RESNET_DEPTH (gst_ncfm_resnet_depth_get_type ())
static GType
gst_ncfm_resnet_depth_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { 10, "ResNet-AP-10: one BasicBlock per stage", "10" },
    { 18, "ResNet-AP-18: two BasicBlocks per stage", "18" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmResNetDepth", values));
  return type;
}

static gboolean
gst_ncfm_resnet_feature_dim (GstNcfmExtractor *base, guint c, guint h, guint w, guint *d,
    GError **error)
{
  GstNcfmResNet *self = GST_NCFM_RESNET (base);
  g_autoptr (GError) why = NULL;
  GST_OBJECT_LOCK (self);
  const guint depth = self->depth, width = self->width;
  GST_OBJECT_UNLOCK (self);
  if (ncfm_resnet_check_geometry (c, h, w, depth, width, d, &why))
    return TRUE;
  g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
      "caps field dimensions: %s (properties depth, width)", why->message);
  return FALSE;
}

static void
gst_ncfm_resnet_model_settings (GstNcfmExtractor *base, guint *depth, guint *width,
    NcfmNorm *norm)
{
  GstNcfmResNet *self = GST_NCFM_RESNET (base);
  *depth = self->depth;
  *width = self->width;
  *norm = self->norm;
}

static void
gst_ncfm_resnet_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmResNet *self = GST_NCFM_RESNET (object);
  if (!gst_ncfm_extractor_lock_settings (GST_NCFM_EXTRACTOR (self), pspec))
    return;
  switch (prop_id) {
    case PROP_DEPTH: self->depth = (guint) g_value_get_enum (value); break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_NORM: self->norm = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_resnet_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmResNet *self = GST_NCFM_RESNET (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DEPTH: g_value_set_enum (value, (gint) self->depth); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_NORM: g_value_set_enum (value, self->norm); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_resnet_class_init (GstNcfmResNetClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstNcfmExtractorClass *extractor_class = GST_NCFM_EXTRACTOR_CLASS (klass);

  gobject_class->set_property = gst_ncfm_resnet_set_property;
  gobject_class->get_property = gst_ncfm_resnet_get_property;
  /**
   * GstNcfmResNet:depth:
   *
   * 10 (ResNet-AP-10, the reference's extractor) or 18.
   */
  g_object_class_install_property (gobject_class, PROP_DEPTH,
      g_param_spec_enum ("depth", "Depth", "ResNet-AP depth: BasicBlocks per stage",
          GST_TYPE_NCFM_RESNET_DEPTH, DEFAULT_DEPTH, PARAM_FLAGS));
  /**
   * GstNcfmResNet:width:
   *
   * Channels w of the first stage (the stages have w, 2w, 4w, 8w); D = 8 x width.
   */
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_uint ("width", "Width",
          "Channels of the first stage (then 2x, 4x, 8x); features = 8 x width", 1, 256,
          DEFAULT_WIDTH, PARAM_FLAGS));
  /**
   * GstNcfmResNet:norm:
   *
   * The normalisation after each conv (without one, convs get biases).
   */
  g_object_class_install_property (gobject_class, PROP_NORM,
      g_param_spec_enum ("norm", "Norm", "Normalisation after each conv",
          GST_TYPE_NCFM_EXTRACTOR_NORM, DEFAULT_NORM, PARAM_FLAGS));

  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "NCFM ResNet-AP feature extractor", "Filter/Converter/Tensor",
      "Turns image batches into ResNet-AP features (residual, average-pool downsampling): "
      "weights from a file, a model pool (random member and init/trained blend per "
      "rotation) or a fresh random init per rotation; attaches the exact model used for "
      "the distiller to replay",
      "gst-ncfm developers");

  extractor_class->model_name = "ResNet-AP";
  extractor_class->classifier_weight = "fc.weight";
  extractor_class->debug_category = gst_ncfm_resnet_debug;
  extractor_class->feature_dim = GST_DEBUG_FUNCPTR (gst_ncfm_resnet_feature_dim);
  extractor_class->architecture = "resnet-ap";
  extractor_class->model_settings = GST_DEBUG_FUNCPTR (gst_ncfm_resnet_model_settings);
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_RESNET_DEPTH, 0);
}

static void
gst_ncfm_resnet_init (GstNcfmResNet *self)
{
  self->depth = DEFAULT_DEPTH;
  self->width = DEFAULT_WIDTH;
  self->norm = DEFAULT_NORM;
}
