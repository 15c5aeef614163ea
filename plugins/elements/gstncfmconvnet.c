/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmconvnet
 * @title: ncfmconvnet
 * @short_description: ConvNet-D feature extractor: image batches to feature batches
 *
 * Runs every image batch through a ConvNet-D (the extractor of the DM and
 * NCFM papers: depth x [conv 3x3 -> norm -> ReLU -> 2x2 average pool], the
 * last block flattened) and pushes its features:
 *
 * - in: memory 0 images, float32 [B, C, H, W] (normalised with the dataset
 *   mean/std), memory 1 labels, int32 [B], as ncfmdatasetsrc and ncfmaugment
 *   emit them: `other/tensors, format=static, num_tensors=2,
 *   dimensions="W:H:C:B,B", types="float32,int32"`;
 * - out: memory 0 features, float32 [B, D], memory 1 the same labels:
 *   `dimensions="D:B,B", types="float32,int32"`, with D = width x (H / 2^depth)
 *   x (W / 2^depth) (2048 for 3x32x32 at depth 3, width 128; a one-channel
 *   input gets padding 3 on the first conv, so 28x28 counts as 32x32).
 *
 * Input caps a ConvNet of this depth cannot take (too few pixels, more than
 * 64 channels, other types) fail negotiation with an error naming the caps
 * field and property at fault.  The caps feature memory:NcfmCUDA is kept.
 *
 * Every output buffer carries an #NcfmModelMeta holding a reference to the
 * exact model that computed its features (and, from a pool, the trained
 * member it was blended from), plus every meta of the input buffer
 * (#NcfmBatchMeta, the augmentation meta, ...).  The element never changes
 * a model once a buffer referencing it has been pushed: each rotation makes
 * a new model object, so the distiller can replay the model later.
 *
 * Where the weights come from, once per rotation (every
 * #GstNcfmConvNet:rotate-every buffers):
 *
 * - #GstNcfmConvNet:weights: one safetensors file (PyTorch names), read at
 *   start; the same model serves the whole stream.
 * - #GstNcfmConvNet:pool: a model-pool directory of
 *   `premodel{k}_init.safetensors` / `premodel{k}_trained.safetensors`
 *   (k = 0, 1, ...): each rotation draws a member k uniformly and a lambda
 *   in U(0,1) and uses theta = lambda * init_k + (1 - lambda) * trained_k
 *   (the trained weights alone with blend=false).  k and lambda are on the
 *   meta (pool_member, pool_lambda).
 * - neither: a fresh random ConvNet (PyTorch's default init) per rotation,
 *   seeded from (#GstNcfmConvNet:seed, rotation index), as DM does.
 *
 * The draws depend only on the seed and the rotation index: the same seed
 * gives the same models on every run.
 *
 * Features are computed where the input tensors are (their memory's
 * device); the output is on the same device.  With norm=batchnorm the model
 * runs in training mode (batch statistics, as matching does); a forward
 * then updates the running statistics, which do not change its outputs.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=256 ! ncfmconvnet width=32 ! fakesink
 * ]| Features of one epoch of Fashion-MNIST through fresh random ConvNets.
 */
#include "gstncfmconvnet.h"

#include <ncfm.h>
#include <string.h>

#include "gstncfmcaps.h"
#include "gstncfmmeta.h"
#include "gstncfmmodelmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_convnet_debug);
#define GST_CAT_DEFAULT gst_ncfm_convnet_debug

#define DEFAULT_DEPTH 3
#define DEFAULT_WIDTH 128
#define DEFAULT_NORM NCFM_NORM_INSTANCE
#define DEFAULT_NUM_CLASSES 0
#define FALLBACK_NUM_CLASSES 10
#define DEFAULT_WEIGHTS NULL
#define DEFAULT_POOL NULL
#define DEFAULT_BLEND TRUE
#define DEFAULT_ROTATE_EVERY 1
#define DEFAULT_SEED 0
#define DEFAULT_DEVICE NULL
#define MAX_CHANNELS 64

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_WIDTH,
  PROP_NORM,
  PROP_NUM_CLASSES,
  PROP_WEIGHTS,
  PROP_POOL,
  PROP_BLEND,
  PROP_ROTATE_EVERY,
  PROP_SEED,
  PROP_DEVICE,
};

struct _GstNcfmConvNet {
  GstBaseTransform parent;

  /* properties, under the object lock; read once in start() */
  guint depth, width;
  NcfmNorm norm;
  guint num_classes;
  gchar *weights, *pool, *device;
  gboolean blend;
  guint rotate_every;
  guint64 seed;

  /* from start() to stop(), streaming thread only (started is read under the lock) */
  gboolean started;
  NcfmDevice *want_device;      /* NULL: follow the input (device unset or auto) */
  NcfmSafetensors *weights_file;
  guint n_members;              /* pool members found at start */
  /* from set_caps(): the input geometry */
  guint in_c, in_h, in_w, feature_dim;
  /* the current model and what made it */
  NcfmConvNet *model, *trained;
  NcfmActivations *activations;
  guint64 model_rotation, n_buffers;
  gint member;
  gdouble lambda;
};

#define GST_TYPE_NCFM_CONVNET_NORM (gst_ncfm_convnet_norm_get_type ())
static GType
gst_ncfm_convnet_norm_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_NORM_NONE, "No normalisation layer", "none" },
    { NCFM_NORM_INSTANCE, "Instance norm (GroupNorm, one group per channel, affine)",
      "instancenorm" },
    { NCFM_NORM_BATCH, "BatchNorm2d (training mode: batch statistics)", "batchnorm" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmConvNetNorm", values));
  return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

G_DEFINE_FINAL_TYPE (GstNcfmConvNet, gst_ncfm_convnet, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmconvnet, "ncfmconvnet", GST_RANK_NONE,
    GST_TYPE_NCFM_CONVNET,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_convnet_debug, "ncfmconvnet", 0,
        "ncfm ConvNet feature extractor"));

/* The geometry of an image + label stream and the feature dim D a ConvNet of
 * @depth and @width gives it (the layer arithmetic of ncfm_convnet_new). */
static gboolean
input_geometry (const GstNcfmTensorsInfo *in, guint depth, guint width, guint *c, guint *h,
    guint *w, guint *d, GError **error)
{
  const GstNcfmTensorInfo *img = &in->tensors[0], *lab = &in->tensors[1];
  if (in->n_tensors != 2 || img->dtype != NCFM_DTYPE_F32 || lab->dtype != NCFM_DTYPE_I32) {
    g_autofree gchar *types = gst_ncfm_tensors_info_types (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field types is \"%s\", expected \"float32,int32\" (images and labels)", types);
    return FALSE;
  }
  if (img->n_dims != 4 || lab->n_dims != 1 || lab->shape[0] != img->shape[0]) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions is \"%s\", expected \"W:H:C:B,B\" (images [B,C,H,W], labels [B])",
        dims);
    return FALSE;
  }
  if (img->shape[1] < 1 || img->shape[1] > MAX_CHANNELS || img->shape[2] > G_MAXINT / 2
      || img->shape[3] > G_MAXINT / 2) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: images have %" G_GINT64_FORMAT " channels of %" G_GINT64_FORMAT
        "x%" G_GINT64_FORMAT "; a ConvNet takes 1 to %d channels", img->shape[1], img->shape[2],
        img->shape[3], MAX_CHANNELS);
    return FALSE;
  }
  *c = (guint) img->shape[1];
  *h = (guint) img->shape[2];
  *w = (guint) img->shape[3];
  gint64 y = *h, x = *w;
  for (guint l = 0; l < depth; l++) {
    const gint64 pad = (*c == 1 && l == 0) ? 3 : 1;
    const gint64 yo = y + 2 * pad - 2, xo = x + 2 * pad - 2;
    if (yo / 2 < 1 || xo / 2 < 1) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "caps field dimensions: images of %ux%u are too small for a ConvNet of depth %u "
          "(property depth): block %u would pool %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
          " maps", *h, *w, depth, l + 1, yo, xo);
      return FALSE;
    }
    y = yo / 2;
    x = xo / 2;
  }
  if ((guint64) width * y * x > G_MAXINT) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: images of %ux%u give more than %d features (properties "
        "width, depth)", *h, *w, G_MAXINT);
    return FALSE;
  }
  *d = (guint) (width * y * x);
  return TRUE;
}

/* Output caps for fixed input caps, or NULL with @error set. */
static GstCaps *
output_caps (GstNcfmConvNet *self, GstCaps *in_caps, GError **error)
{
  GstNcfmTensorsInfo in, out;
  guint c, h, w, d;
  GST_OBJECT_LOCK (self);
  const guint depth = self->depth, width = self->width;
  GST_OBJECT_UNLOCK (self);
  if (!gst_ncfm_tensors_info_from_caps (&in, in_caps, error)
      || !input_geometry (&in, depth, width, &c, &h, &w, &d, error))
    return NULL;
  const gint64 features[2] = { in.tensors[0].shape[0], d }, labels[1] = { in.tensors[1].shape[0] };
  gst_ncfm_tensors_info_init (&out, in.cuda);
  if (!gst_ncfm_tensors_info_add (&out, NCFM_DTYPE_F32, features, 2, error)
      || !gst_ncfm_tensors_info_add (&out, NCFM_DTYPE_I32, labels, 1, error))
    return NULL;
  GstCaps *caps = gst_ncfm_tensors_info_to_caps (&out);
  const GValue *rate = gst_structure_get_value (gst_caps_get_structure (in_caps, 0), "framerate");
  if (rate)
    gst_structure_set_value (gst_caps_get_structure (caps, 0), "framerate", rate);
  return caps;
}

static GstCaps *
gst_ncfm_convnet_transform_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *filter)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  GstCaps *result = gst_caps_new_empty ();
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    GstCaps *one = gst_caps_copy_nth (caps, i);
    const GstStructure *s = gst_caps_get_structure (one, 0);
    GstCaps *other = NULL;
    if (direction == GST_PAD_SINK && gst_caps_is_fixed (one)) {
      g_autoptr (GError) error = NULL;
      other = output_caps (self, one, &error);
      if (!other)
        GST_DEBUG_OBJECT (self, "cannot take %" GST_PTR_FORMAT ": %s", one, error->message);
    } else {
      /* images of any size give features; features come from float32 + int32 */
      other = gst_caps_new_simple (GST_NCFM_TENSORS_MEDIA_TYPE, "format", G_TYPE_STRING,
          "static", "num_tensors", G_TYPE_INT, 2, "types", G_TYPE_STRING, "float32,int32", NULL);
      const GValue *rate = gst_structure_get_value (s, "framerate");
      if (rate)
        gst_structure_set_value (gst_caps_get_structure (other, 0), "framerate", rate);
      gst_caps_set_features (other, 0, gst_caps_features_copy (gst_caps_get_features (one, 0)));
    }
    if (other)
      result = gst_caps_merge (result, other);
    gst_caps_unref (one);
  }
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = both;
  }
  GST_LOG_OBJECT (self, "%s %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, result);
  return result;
}

/* Caps the element cannot take fail here, with a message naming the field
 * and the property, before the base class turns them into not-negotiated. */
static gboolean
gst_ncfm_convnet_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    g_autoptr (GError) error = NULL;
    gst_event_parse_caps (event, &caps);
    GstCaps *out = output_caps (self, caps, &error);
    if (!out) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Cannot extract features: %s", error->message),
          ("input caps %" GST_PTR_FORMAT, caps));
      gst_event_unref (event);
      return FALSE;
    }
    gst_caps_unref (out);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_ncfm_convnet_parent_class)->sink_event (trans, event);
}

/* Any tensor caps of the template are accepted on the sink pad, so that caps a
 * ConvNet cannot take reach sink_event() and fail there with a message. */
static gboolean
gst_ncfm_convnet_accept_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps)
{
  if (direction != GST_PAD_SINK)
    return GST_BASE_TRANSFORM_CLASS (gst_ncfm_convnet_parent_class)->accept_caps (trans,
        direction, caps);
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SINK_PAD (trans));
  const gboolean ok = gst_caps_is_subset (caps, templ);
  gst_caps_unref (templ);
  return ok;
}

static gboolean
gst_ncfm_convnet_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  g_autoptr (GError) error = NULL;
  GstNcfmTensorsInfo in;
  guint c, h, w, d;
  if (!gst_ncfm_tensors_info_from_caps (&in, incaps, &error)
      || !input_geometry (&in, self->depth, self->width, &c, &h, &w, &d, &error)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Cannot extract features: %s", error->message),
        (NULL));
    return FALSE;
  }
  if (self->model && (c != self->in_c || h != self->in_h || w != self->in_w))
    g_clear_object (&self->model);  /* another geometry: the next buffer builds a new one */
  self->in_c = c;
  self->in_h = h;
  self->in_w = w;
  self->feature_dim = d;
  GST_INFO_OBJECT (self, "images %ux%ux%u -> %u features; out %" GST_PTR_FORMAT, c, h, w, d,
      outcaps);
  return TRUE;
}

/* Rows of the classifier in a weights file, 0 if it has none. */
static guint
classes_in_file (NcfmSafetensors *file)
{
  const gchar *names[] = { "classifier.weight", "module.classifier.weight" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    guint nd = 0;
    g_autofree gint64 *shape = ncfm_safetensors_contains (file, names[i])
        ? ncfm_safetensors_get_shape (file, names[i], &nd, NULL) : NULL;
    if (shape && nd == 2 && shape[0] > 0 && shape[0] <= G_MAXINT)
      return (guint) shape[0];
  }
  return 0;
}

/* num-classes, else the weights' classifier, else the batch meta, else 10. */
static guint
resolve_num_classes (GstNcfmConvNet *self, NcfmSafetensors *file, GstBuffer *inbuf)
{
  guint n = self->num_classes;
  if (!n && file)
    n = classes_in_file (file);
  NcfmBatchMeta *batch = gst_buffer_get_ncfm_batch_meta (inbuf);
  if (!n && batch)
    n = batch->num_classes;
  return n ? n : FALLBACK_NUM_CLASSES;
}

static NcfmSafetensors *
load_file (const gchar *path, GError **error)
{
  NcfmSafetensors *file = ncfm_safetensors_load (path, error);
  if (file)  /* libncfm names the file in its errors with this */
    g_object_set_data_full (G_OBJECT (file), "ncfm-path", g_strdup (path), g_free);
  return file;
}

static NcfmConvNet *
model_from_file (GstNcfmConvNet *self, NcfmDevice *dev, NcfmSafetensors *file, guint classes,
    GError **error)
{
  g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, self->in_c, self->in_h, self->in_w, classes,
      self->depth, self->width, self->norm, 0, error);
  if (!m || !ncfm_convnet_load_safetensors (m, file, error))
    return NULL;
  return g_steal_pointer (&m);
}

/* theta = lam * init + (1 - lam) * trained, parameter by parameter, into a new model. */
static NcfmConvNet *
blend_models (GstNcfmConvNet *self, NcfmDevice *dev, NcfmConvNet *init, NcfmConvNet *trained,
    guint classes, gdouble lam, GError **error)
{
  g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, self->in_c, self->in_h, self->in_w, classes,
      self->depth, self->width, self->norm, 0, error);
  if (!m)
    return NULL;
  for (guint i = 0; i < ncfm_convnet_get_n_parameters (m); i++) {
    const gchar *name = ncfm_convnet_get_parameter_name (m, i);
    NcfmTensor *out = ncfm_convnet_get_parameter (m, name);
    g_autoptr (GBytes) a = ncfm_tensor_to_bytes (ncfm_convnet_get_parameter (init, name));
    g_autoptr (GBytes) b = ncfm_tensor_to_bytes (ncfm_convnet_get_parameter (trained, name));
    gsize n_bytes;
    const gfloat *x = g_bytes_get_data (a, &n_bytes), *y = g_bytes_get_data (b, NULL);
    const gsize n = n_bytes / sizeof (gfloat);
    g_autofree gfloat *z = g_new (gfloat, MAX (n, 1));
    for (gsize k = 0; k < n; k++)
      z[k] = (gfloat) (lam * x[k] + (1.0 - lam) * y[k]);
    if (!ncfm_tensor_set_data (out, (const guint8 *) z, n_bytes, error))
      return NULL;
  }
  return g_steal_pointer (&m);
}

/* splitmix64: decorrelates the seeds of neighbouring rotations */
static guint64
mix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/* One pool rotation: member k ~ U{0..K-1}, lambda ~ U(0,1), drawn from (seed, rotation). */
static gboolean
pool_rotation (GstNcfmConvNet *self, NcfmDevice *dev, GstBuffer *inbuf, guint64 rotation,
    GError **error)
{
  const guint64 s = mix64 (self->seed ^ mix64 (rotation));
  guint32 seeds[2] = { (guint32) s, (guint32) (s >> 32) };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  const guint k = (guint) g_rand_int_range (rand, 0, (gint32) self->n_members);
  const gdouble lam = self->blend ? g_rand_double (rand) : 0.0;
  g_autofree gchar *tname = g_strdup_printf ("premodel%u_trained.safetensors", k);
  g_autofree gchar *tpath = g_build_filename (self->pool, tname, NULL);
  g_autoptr (NcfmSafetensors) tfile = load_file (tpath, error);
  if (!tfile)
    return FALSE;
  const guint classes = resolve_num_classes (self, tfile, inbuf);
  g_autoptr (NcfmConvNet) trained = model_from_file (self, dev, tfile, classes, error);
  if (!trained)
    return FALSE;
  g_autoptr (NcfmConvNet) model = NULL;
  if (self->blend) {
    g_autofree gchar *iname = g_strdup_printf ("premodel%u_init.safetensors", k);
    g_autofree gchar *ipath = g_build_filename (self->pool, iname, NULL);
    g_autoptr (NcfmSafetensors) ifile = load_file (ipath, error);
    g_autoptr (NcfmConvNet) init = ifile ? model_from_file (self, dev, ifile, classes, error) : NULL;
    if (!init)
      return FALSE;
    model = blend_models (self, dev, init, trained, classes, lam, error);
    if (!model)
      return FALSE;
  } else {
    model = g_object_ref (trained);
  }
  g_set_object (&self->model, model);
  g_set_object (&self->trained, trained);
  self->member = (gint) k;
  self->lambda = lam;
  return TRUE;
}

/* Makes the model of @rotation on @dev (a new object: pushed models never change). */
static gboolean
build_model (GstNcfmConvNet *self, NcfmDevice *dev, GstBuffer *inbuf, guint64 rotation)
{
  g_autoptr (GError) error = NULL;
  g_clear_object (&self->model);
  g_clear_object (&self->trained);
  self->member = -1;
  self->lambda = -1.0;
  if (self->weights_file) {
    const guint classes = resolve_num_classes (self, self->weights_file, inbuf);
    self->model = model_from_file (self, dev, self->weights_file, classes, &error);
    if (!self->model) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the weights \"%s\" (property weights): %s", self->weights,
              error->message), (NULL));
      return FALSE;
    }
  } else if (self->n_members > 0) {
    if (!pool_rotation (self, dev, inbuf, rotation, &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the model pool \"%s\" (property pool): %s", self->pool, error->message),
          (NULL));
      return FALSE;
    }
  } else {
    const guint classes = resolve_num_classes (self, NULL, inbuf);
    self->model = ncfm_convnet_new (dev, self->in_c, self->in_h, self->in_w, classes, self->depth,
        self->width, self->norm, mix64 (self->seed ^ mix64 (rotation)), &error);
    if (!self->model) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot build a ConvNet: %s", error->message),
          ("properties depth, width, norm, num-classes"));
      return FALSE;
    }
  }
  self->model_rotation = rotation;
  GST_DEBUG_OBJECT (self, "rotation %" G_GUINT64_FORMAT ": model %p, member %d, lambda %f",
      rotation, (gpointer) self->model, self->member, self->lambda);
  return TRUE;
}

static GstFlowReturn
gst_ncfm_convnet_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf,
    GstBuffer **outbuf)
{
  /* memories are added by transform(); flags, timestamps and metas come from the input */
  *outbuf = gst_buffer_new ();
  if (!GST_BASE_TRANSFORM_GET_CLASS (trans)->copy_metadata (trans, inbuf, *outbuf)) {
    gst_clear_buffer (outbuf);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static gboolean
gst_ncfm_convnet_transform_meta (GstBaseTransform *trans, GstBuffer *outbuf, GstMeta *meta,
    GstBuffer *inbuf)
{
  /* the features are this element's: an upstream extractor's model meta would lie */
  if (meta->info->api == NCFM_MODEL_META_API_TYPE)
    return FALSE;
  return GST_BASE_TRANSFORM_CLASS (gst_ncfm_convnet_parent_class)->transform_meta (trans, outbuf,
      meta, inbuf);
}

static GstFlowReturn
gst_ncfm_convnet_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  g_autoptr (GError) error = NULL;
  NcfmTensor *images = gst_ncfm_buffer_get_tensor (GST_ELEMENT (self), inbuf, 0, NCFM_DTYPE_F32, 4,
      "F32 [B,C,H,W] image");
  NcfmTensor *labels = images ? gst_ncfm_buffer_get_tensor (GST_ELEMENT (self), inbuf, 1,
      NCFM_DTYPE_I32, 1, "I32 [B] label") : NULL;
  if (!labels)
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (images);
  if (self->want_device && !gst_ncfm_same_device (self->want_device, dev)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The input tensors are on %s but property device asks for %s", ncfm_device_get_name (dev),
            ncfm_device_get_name (self->want_device)),
        ("set device=auto to follow the input, or move the upstream element to that device"));
    return GST_FLOW_ERROR;
  }

  const guint64 rotation = self->rotate_every ? self->n_buffers / self->rotate_every : 0;
  const gboolean fixed = self->weights_file != NULL;
  if (!self->model || ncfm_convnet_get_device (self->model) != dev
      || (!fixed && rotation != self->model_rotation)) {
    if (!build_model (self, dev, inbuf, rotation))
      return GST_FLOW_ERROR;
  }
  if (!ncfm_convnet_forward (self->model, images, self->activations, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Feature extraction failed: %s", error->message),
        (NULL));
    return GST_FLOW_ERROR;
  }
  /* the activations are reused by the next forward: the output gets its own tensor */
  NcfmTensor *f = ncfm_activations_get_features (self->activations);
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (f, &nd);
  g_autoptr (NcfmTensor) features = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, nd, &error);
  if (!features || !ncfm_tensor_copy_from (features, f, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot allocate the features: %s",
            error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: the features must be complete when pushed */
  ncfm_device_synchronize (dev);

  gst_buffer_append_memory (outbuf, gst_ncfm_tensor_memory_new (features));
  gst_buffer_append_memory (outbuf, gst_memory_ref (gst_buffer_peek_memory (inbuf, 1)));
  NcfmModelMeta *meta = gst_buffer_add_ncfm_model_meta (outbuf, G_OBJECT (self->model),
      self->trained ? G_OBJECT (self->trained) : NULL, self->feature_dim, self->in_c, self->in_h,
      self->in_w);
  meta->rotation = self->model_rotation;
  meta->pool_member = self->member;
  meta->pool_lambda = self->lambda;
  GST_LOG_OBJECT (self, "buffer %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT " x %u features",
      self->n_buffers, shape[0], self->feature_dim);
  self->n_buffers++;
  return GST_FLOW_OK;
}

/* The pool members premodel0 .. premodel{K-1} present in @dir (init needed only to blend). */
static guint
count_members (const gchar *dir, gboolean blend)
{
  guint k = 0;
  for (;; k++) {
    g_autofree gchar *t = g_strdup_printf ("%s/premodel%u_trained.safetensors", dir, k);
    g_autofree gchar *i = g_strdup_printf ("%s/premodel%u_init.safetensors", dir, k);
    if (!g_file_test (t, G_FILE_TEST_IS_REGULAR) || (blend && !g_file_test (i, G_FILE_TEST_IS_REGULAR)))
      return k;
  }
}

static gboolean
gst_ncfm_convnet_start (GstBaseTransform *trans)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  g_autofree gchar *device = g_strdup (self->device ? self->device : g_getenv ("NCFM_DEVICE"));
  g_autofree gchar *weights = g_strdup (self->weights);
  g_autofree gchar *pool = g_strdup (self->pool);
  const gboolean blend = self->blend;
  const gboolean have_weights = weights && *weights;
  const gboolean have_pool = pool && *pool;
  GST_OBJECT_UNLOCK (self);

  if (have_weights && have_pool) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Set either weights or pool, not both."),
        ("weights \"%s\", pool \"%s\"", weights, pool));
    return FALSE;
  }
  g_autoptr (NcfmDevice) want = NULL;
  if (device && *device && g_ascii_strcasecmp (device, "auto") != 0) {
    want = ncfm_device_new (device, &error);
    if (!want) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use device \"%s\" (property device): %s", device, error->message), (NULL));
      return FALSE;
    }
  }
  g_autoptr (NcfmSafetensors) file = NULL;
  if (have_weights && !(file = load_file (weights, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Cannot read the weights file \"%s\" (property weights): %s", weights,
            error->message), (NULL));
    return FALSE;
  }
  guint members = 0;
  if (have_pool && !(members = count_members (pool, blend))) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("The model pool \"%s\" (property pool) holds no premodel0_trained.safetensors%s",
            pool, blend ? " and premodel0_init.safetensors" : ""), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "weights: %s; device %s", have_weights ? weights
      : have_pool ? "pool" : "random per rotation", want ? ncfm_device_get_name (want) : "of the input");
  if (have_pool)
    GST_INFO_OBJECT (self, "pool %s: %u members, blend %d", pool, members, blend);

  GST_OBJECT_LOCK (self);
  self->want_device = g_steal_pointer (&want);
  self->weights_file = g_steal_pointer (&file);
  self->n_members = members;
  self->activations = ncfm_activations_new ();
  self->n_buffers = 0;
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_ncfm_convnet_stop (GstBaseTransform *trans)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (trans);
  GST_OBJECT_LOCK (self);
  g_clear_object (&self->model);
  g_clear_object (&self->trained);
  g_clear_object (&self->activations);
  g_clear_object (&self->weights_file);
  g_clear_object (&self->want_device);
  self->n_members = 0;
  self->started = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gchar **
string_property (GstNcfmConvNet *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_WEIGHTS: return &self->weights;
    case PROP_POOL: return &self->pool;
    case PROP_DEVICE: return &self->device;
    default: return NULL;
  }
}

static void
gst_ncfm_convnet_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (object);
  GST_OBJECT_LOCK (self);
  if (self->started) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
    return;
  }
  gchar **str = string_property (self, prop_id);
  if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_DEPTH: self->depth = g_value_get_uint (value); break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_NORM: self->norm = g_value_get_enum (value); break;
    case PROP_NUM_CLASSES: self->num_classes = g_value_get_uint (value); break;
    case PROP_BLEND: self->blend = g_value_get_boolean (value); break;
    case PROP_ROTATE_EVERY: self->rotate_every = g_value_get_uint (value); break;
    case PROP_SEED: self->seed = g_value_get_uint64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_convnet_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (object);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (self, prop_id);
  if (str) {
    g_value_set_string (value, *str);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_DEPTH: g_value_set_uint (value, self->depth); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_NORM: g_value_set_enum (value, self->norm); break;
    case PROP_NUM_CLASSES: g_value_set_uint (value, self->num_classes); break;
    case PROP_BLEND: g_value_set_boolean (value, self->blend); break;
    case PROP_ROTATE_EVERY: g_value_set_uint (value, self->rotate_every); break;
    case PROP_SEED: g_value_set_uint64 (value, self->seed); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_convnet_finalize (GObject *object)
{
  GstNcfmConvNet *self = GST_NCFM_CONVNET (object);
  g_free (self->weights);
  g_free (self->pool);
  g_free (self->device);
  g_clear_object (&self->model);
  g_clear_object (&self->trained);
  g_clear_object (&self->activations);
  g_clear_object (&self->weights_file);
  g_clear_object (&self->want_device);
  G_OBJECT_CLASS (gst_ncfm_convnet_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
install_properties (GObjectClass *gobject_class)
{
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
          GST_TYPE_NCFM_CONVNET_NORM, DEFAULT_NORM, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:num-classes:
   *
   * Outputs of the classifier (not used for the features, kept for the
   * calibration step).  0: the rows of the weights' classifier, else the
   * classes of the batch's #NcfmBatchMeta, else 10.
   */
  g_object_class_install_property (gobject_class, PROP_NUM_CLASSES,
      g_param_spec_uint ("num-classes", "Number of classes",
          "Classifier outputs (0 = from the weights, else the batch meta, else 10)", 0, 100000,
          DEFAULT_NUM_CLASSES, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:weights:
   *
   * A safetensors file of ConvNet weights under the reference's PyTorch
   * names, read at start; its shapes must fit depth, width, norm and the
   * input.  The one model then serves the whole stream.
   */
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_string ("weights", "Weights",
          "Safetensors file of ConvNet weights (unset: pool or random init)", DEFAULT_WEIGHTS,
          PARAM_FLAGS));
  /**
   * GstNcfmConvNet:pool:
   *
   * A model-pool directory of premodel{k}_init.safetensors and
   * premodel{k}_trained.safetensors (k from 0); each rotation draws a member
   * and a blend weight lambda (see #GstNcfmConvNet:blend).
   */
  g_object_class_install_property (gobject_class, PROP_POOL,
      g_param_spec_string ("pool", "Model pool",
          "Model-pool directory (premodel{k}_init/_trained.safetensors); a random member per "
          "rotation", DEFAULT_POOL, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:blend:
   *
   * With a pool: use lambda * init + (1 - lambda) * trained, lambda ~ U(0,1)
   * per rotation (the method's default); off: the trained weights alone.
   */
  g_object_class_install_property (gobject_class, PROP_BLEND,
      g_param_spec_boolean ("blend", "Blend",
          "Pool: blend init and trained weights with lambda ~ U(0,1) (off: trained only)",
          DEFAULT_BLEND, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:rotate-every:
   *
   * Buffers per model (pool member or random init); 0 keeps the first
   * model for the whole stream.  No effect with #GstNcfmConvNet:weights.
   */
  g_object_class_install_property (gobject_class, PROP_ROTATE_EVERY,
      g_param_spec_uint ("rotate-every", "Rotate every",
          "Buffers between model rotations (0 = never rotate)", 0, G_MAXUINT,
          DEFAULT_ROTATE_EVERY, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:seed:
   *
   * Seed of the random inits and pool draws; with the rotation index it
   * fixes every model, so runs repeat exactly.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the random inits and pool draws", 0,
          G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmConvNet:device:
   *
   * Features are computed where the input tensors are.  "auto" follows the
   * input; "cpu" or "cuda:N" make an input on any other device an error.
   * Unset: $NCFM_DEVICE, or auto.
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "auto (follow the input), cpu or cuda:N (input elsewhere is an error; unset: "
          "$NCFM_DEVICE or auto)", DEFAULT_DEVICE, PARAM_FLAGS));
}

static void
gst_ncfm_convnet_class_init (GstNcfmConvNetClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_convnet_set_property;
  gobject_class->get_property = gst_ncfm_convnet_get_property;
  gobject_class->finalize = gst_ncfm_convnet_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM ConvNet feature extractor",
      "Filter/Converter/Tensor",
      "Turns image batches into ConvNet-D features: weights from a file, a model pool "
      "(random member and init/trained blend per rotation) or a fresh random init per "
      "rotation; attaches the exact model used for the distiller to replay",
      "gst-ncfm developers");

  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_stop);
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_transform_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_sink_event);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_accept_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_set_caps);
  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_prepare_output_buffer);
  trans_class->transform_meta = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_transform_meta);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_ncfm_convnet_transform);

  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_CONVNET_NORM, 0);
}

static void
gst_ncfm_convnet_init (GstNcfmConvNet *self)
{
  self->depth = DEFAULT_DEPTH;
  self->width = DEFAULT_WIDTH;
  self->norm = DEFAULT_NORM;
  self->num_classes = DEFAULT_NUM_CLASSES;
  self->weights = g_strdup (DEFAULT_WEIGHTS);
  self->pool = g_strdup (DEFAULT_POOL);
  self->device = g_strdup (DEFAULT_DEVICE);
  self->blend = DEFAULT_BLEND;
  self->rotate_every = DEFAULT_ROTATE_EVERY;
  self->seed = DEFAULT_SEED;
  self->member = -1;
  self->lambda = -1.0;
}
