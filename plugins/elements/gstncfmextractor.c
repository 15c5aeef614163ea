/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmextractor
 * @title: GstNcfmExtractor
 * @short_description: base class of the feature extractors
 *
 * Everything ncfmconvnet and ncfmresnet share; a subclass adds only its
 * architecture (#GstNcfmExtractorClass.architecture, .model_settings, .feature_dim) and the
 * properties that shape it.
 *
 * - in: memory 0 images, float32 [B, C, H, W] (normalised with the dataset
 *   mean/std), memory 1 labels, int32 [B], as ncfmdatasetsrc and ncfmaugment
 *   emit them: `other/tensors, format=static, num_tensors=2,
 *   dimensions="W:H:C:B,B", types="float32,int32"`;
 * - out: memory 0 features, float32 [B, D], memory 1 the same labels:
 *   `dimensions="D:B,B", types="float32,int32"`.
 *
 * Input caps the model cannot take fail negotiation with an error naming the
 * caps field and the property at fault.  The caps feature memory:NcfmCUDA
 * is kept.
 *
 * Every output buffer carries an #NcfmModelMeta holding a reference to the
 * exact model that computed its features (and, from a pool, the trained
 * member it was blended from), plus every meta of the input buffer.  A model
 * is never changed once a buffer referencing it has been pushed: each
 * rotation makes a new model object, so the distiller can replay it later.
 *
 * Where the weights come from, once per rotation (every rotate-every
 * buffers, counted by the buffers' offsets when they have them, so batch k
 * gets the model of rotation k / rotate-every whichever batches came
 * before): the weights file, a pool member blended with its initial
 * weights, or a fresh random init seeded from (seed, rotation index); the
 * same seed gives the same models on every run.  Features are computed
 * where the input tensors are.  Models start in training mode (BatchNorm
 * uses batch statistics, as matching does).
 *
 * Input memory of other elements (an appsrc, NNStreamer's tensor_converter:
 * plain system memory) is copied once into tensors on the device of
 * #GstNcfmExtractor:device ($NCFM_DEVICE or auto when that is unset or
 * auto), checked against the caps: its size gives the batch's N, at most
 * the caps' B.  The output then holds ncfm memory, labels included.
 */
#include "gstncfmextractor-private.h"

#include "gstncfmcaps.h"
#include "gstncfmmodelmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY (gst_ncfm_extractor_debug);
#define DEFAULT_NUM_CLASSES 0
/* images per forward of a large batch: ConvNet-3 w128 at 32x32 holds ~1.5 MB of
 * activations per image, so a whole 1024-image batch would take ~1.5 GB */
#define DEFAULT_CHUNK 128
#define DEFAULT_WEIGHTS NULL
#define DEFAULT_POOL NULL
#define DEFAULT_BLEND TRUE
#define DEFAULT_ROTATE_EVERY 1
#define DEFAULT_SEED 0
#define DEFAULT_DEVICE NULL
#define MAX_CHANNELS 64

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_WEIGHTS,
  PROP_POOL,
  PROP_BLEND,
  PROP_ROTATE_EVERY,
  PROP_CHUNK,
  PROP_SEED,
  PROP_DEVICE,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstNcfmExtractor, gst_ncfm_extractor,
    GST_TYPE_BASE_TRANSFORM, G_ADD_PRIVATE (GstNcfmExtractor)
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_extractor_debug, "ncfmextractor", 0,
        "ncfm feature extractors"))

GstNcfmExtractorPrivate *
gst_ncfm_extractor_get_priv (GstNcfmExtractor *self)
{
  return gst_ncfm_extractor_get_instance_private (self);
}

/**
 * GstNcfmExtractorNorm:
 * @NCFM_NORM_NONE: no normalisation layer
 * @NCFM_NORM_INSTANCE: instance norm
 * @NCFM_NORM_BATCH: BatchNorm2d
 *
 * The `norm` property of the extractors.
 */
GType
gst_ncfm_extractor_norm_get_type (void)
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
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmExtractorNorm", values));
  return type;
}

/**
 * gst_ncfm_extractor_lock_settings:
 * @self: a #GstNcfmExtractor
 * @pspec: the property being set
 *
 * For a subclass's set_property: takes the object lock and returns %TRUE
 * while the element is not running; once it runs, warns (properties shape
 * the models, so they are fixed from READY to PAUSED on) and returns %FALSE
 * without the lock.
 *
 * Returns: %TRUE with the object lock held
 */
gboolean
gst_ncfm_extractor_lock_settings (GstNcfmExtractor *self, GParamSpec *pspec)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  GST_OBJECT_LOCK (self);
  if (!priv->started)
    return TRUE;
  GST_OBJECT_UNLOCK (self);
  g_warning ("%s: property %s can only be changed in the NULL or READY state",
      GST_OBJECT_NAME (self), pspec->name);
  return FALSE;
}

/* The geometry of an image + label stream and the feature dim D the model gives it. */
static gboolean
input_geometry (GstNcfmExtractor *self, const GstNcfmTensorsInfo *in, guint *c, guint *h,
    guint *w, guint *d, GError **error)
{
  const GstNcfmTensorInfo *img = &in->tensors[0], *lab = &in->tensors[1];
  if (in->n_tensors != 2 || img->dtype != NCFM_DTYPE_F32 || lab->dtype != NCFM_DTYPE_I32) {
    g_autofree gchar *types = gst_ncfm_tensors_info_types (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field types is \"%s\", expected \"float32,int32\" (images and labels)", types);
    return FALSE;
  }
  if (img->n_dims == 2 && lab->n_dims == 1) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "%s takes images [B,C,H,W], got features [B,%" G_GINT64_FORMAT "] (is there a second "
        "extractor?)", GST_ELEMENT_NAME (gst_element_get_factory (GST_ELEMENT (self))),
        img->shape[1]);
    return FALSE;
  }
  if (img->n_dims != 4 || lab->n_dims != 1 || lab->shape[0] != img->shape[0]) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions is \"%s\", expected \"W:H:C:B,B\" (images [B,C,H,W], labels [B])",
        dims);
    return FALSE;
  }
  if (img->shape[1] < 1 || img->shape[1] > MAX_CHANNELS || img->shape[2] > G_MAXINT / 4
      || img->shape[3] > G_MAXINT / 4) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: images have %" G_GINT64_FORMAT " channels of %" G_GINT64_FORMAT
        "x%" G_GINT64_FORMAT "; a %s takes 1 to %d channels", img->shape[1], img->shape[2],
        img->shape[3], GST_NCFM_EXTRACTOR_GET_CLASS (self)->model_name, MAX_CHANNELS);
    return FALSE;
  }
  *c = (guint) img->shape[1];
  *h = (guint) img->shape[2];
  *w = (guint) img->shape[3];
  return GST_NCFM_EXTRACTOR_GET_CLASS (self)->feature_dim (self, *c, *h, *w, d, error);
}

/* Output caps for fixed input caps, or NULL with @error set. */
static GstCaps *
output_caps (GstNcfmExtractor *self, GstCaps *in_caps, GError **error)
{
  GstNcfmTensorsInfo in, out;
  guint c, h, w, d;
  if (!gst_ncfm_tensors_info_from_caps (&in, in_caps, error)
      || !input_geometry (self, &in, &c, &h, &w, &d, error))
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
gst_ncfm_extractor_transform_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *filter)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
  GstCaps *result = gst_caps_new_empty ();
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    GstCaps *one = gst_caps_copy_nth (caps, i);
    const GstStructure *s = gst_caps_get_structure (one, 0);
    GstCaps *other = NULL;
    if (direction == GST_PAD_SINK && gst_caps_is_fixed (one)) {
      g_autoptr (GError) error = NULL;
      other = output_caps (self, one, &error);
      /* caps the model cannot take still map to some features: the caps event
       * then reaches sink_event(), which says why, instead of the upstream
       * element's bare not-negotiated */
      if (!other)
        GST_DEBUG_OBJECT (self, "cannot take %" GST_PTR_FORMAT ": %s", one, error->message);
    }
    if (!other) {
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
gst_ncfm_extractor_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
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
  return GST_BASE_TRANSFORM_CLASS (gst_ncfm_extractor_parent_class)->sink_event (trans, event);
}

/* Any tensor caps of the template are accepted on the sink pad, so that caps the
 * model cannot take reach sink_event() and fail there with a message. */
static gboolean
gst_ncfm_extractor_accept_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps)
{
  if (direction != GST_PAD_SINK)
    return GST_BASE_TRANSFORM_CLASS (gst_ncfm_extractor_parent_class)->accept_caps (trans,
        direction, caps);
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SINK_PAD (trans));
  const gboolean ok = gst_caps_is_subset (caps, templ);
  gst_caps_unref (templ);
  return ok;
}

static gboolean
gst_ncfm_extractor_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  g_autoptr (GError) error = NULL;
  GstNcfmTensorsInfo in;
  guint c, h, w, d;
  if (!gst_ncfm_tensors_info_from_caps (&in, incaps, &error)
      || !input_geometry (self, &in, &c, &h, &w, &d, &error)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Cannot extract features: %s", error->message),
        (NULL));
    return FALSE;
  }
  if (priv->model && (c != priv->in_c || h != priv->in_h || w != priv->in_w))
    g_clear_object (&priv->model);  /* another geometry: the next buffer builds a new one */
  priv->in_info = in;
  priv->in_c = c;
  priv->in_h = h;
  priv->in_w = w;
  priv->feature_dim = d;
  GST_INFO_OBJECT (self, "images %ux%ux%u -> %u features; out %" GST_PTR_FORMAT, c, h, w, d,
      outcaps);
  return TRUE;
}

static GstFlowReturn
gst_ncfm_extractor_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf,
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
gst_ncfm_extractor_transform_meta (GstBaseTransform *trans, GstBuffer *outbuf, GstMeta *meta,
    GstBuffer *inbuf)
{
  /* the features are this element's: an upstream extractor's model meta would lie */
  if (meta->info->api == NCFM_MODEL_META_API_TYPE)
    return FALSE;
  return GST_BASE_TRANSFORM_CLASS (gst_ncfm_extractor_parent_class)->transform_meta (trans,
      outbuf, meta, inbuf);
}

static GstFlowReturn
gst_ncfm_extractor_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) images = NULL;
  g_autoptr (NcfmTensor) labels = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), inbuf, &priv->in_info,
          &priv->import_device, &images, &labels))
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (images);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (priv->want_device && !gst_ncfm_same_device (priv->want_device, dev)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The input tensors are on %s but property device asks for %s", ncfm_device_get_name (dev),
            ncfm_device_get_name (priv->want_device)),
        ("set device=auto to follow the input, or move the upstream element to that device"));
    return GST_FLOW_ERROR;
  }

  /* counted in batches (the offset when the buffer has one): a batch gets
   * the model of its number whichever batches came before (class shards) */
  const guint64 index = GST_BUFFER_OFFSET_IS_VALID (inbuf) ? GST_BUFFER_OFFSET (inbuf)
      : priv->n_buffers;
  const guint64 rotation = priv->rotate_every ? index / priv->rotate_every : 0;
  const gboolean fixed = priv->weights_file != NULL;
  if (!priv->model || ncfm_model_get_device (priv->model) != dev
      || (!fixed && rotation != priv->model_rotation)) {
    if (!gst_ncfm_extractor_build_model (self, dev, inbuf, rotation))
      return GST_FLOW_ERROR;
  }
  /* in parts of `chunk` images (where the norm allows); the output gets its own tensor */
  g_autoptr (NcfmTensor) features = ncfm_model_forward_features (priv->model, images,
      priv->chunk, priv->activations, &error);
  if (!features) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Feature extraction failed: %s", error->message),
        (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: the features must be complete when pushed */
  ncfm_device_synchronize (dev);

  GstMemory *labels_in = gst_buffer_peek_memory (inbuf, 1);
  gst_buffer_append_memory (outbuf, gst_ncfm_tensor_memory_new (features));
  /* the input's labels memory, or the copy of a foreign one */
  gst_buffer_append_memory (outbuf, gst_is_ncfm_tensor_memory (labels_in)
      ? gst_memory_ref (labels_in) : gst_ncfm_tensor_memory_new (labels));
  NcfmModelMeta *meta = gst_buffer_add_ncfm_model_meta (outbuf, G_OBJECT (priv->model),
      priv->trained ? G_OBJECT (priv->trained) : NULL, priv->feature_dim, priv->in_c, priv->in_h,
      priv->in_w);
  meta->rotation = priv->model_rotation;
  meta->pool_member = priv->member;
  meta->pool_lambda = priv->lambda;
  GST_LOG_OBJECT (self, "buffer %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT " x %u features",
      priv->n_buffers, ncfm_tensor_get_dim (features, 0), priv->feature_dim);
  priv->n_buffers++;
  return GST_FLOW_OK;
}

static void
clear_stream_state (GstNcfmExtractorPrivate *priv)
{
  g_clear_object (&priv->model);
  g_clear_object (&priv->trained);
  g_clear_object (&priv->activations);
  g_clear_object (&priv->weights_file);
  g_clear_object (&priv->want_device);
  g_clear_object (&priv->import_device);
  g_clear_pointer (&priv->member_cache, g_hash_table_unref);
  priv->n_members = 0;
}

static gboolean
gst_ncfm_extractor_stop (GstBaseTransform *trans)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  GST_OBJECT_LOCK (self);
  clear_stream_state (priv);
  priv->started = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gchar **
string_property (GstNcfmExtractorPrivate *priv, guint prop_id)
{
  switch (prop_id) {
    case PROP_WEIGHTS: return &priv->weights;
    case PROP_POOL: return &priv->pool;
    case PROP_DEVICE: return &priv->device;
    default: return NULL;
  }
}

static void
gst_ncfm_extractor_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (object);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  if (!gst_ncfm_extractor_lock_settings (self, pspec))
    return;
  gchar **str = string_property (priv, prop_id);
  if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_NUM_CLASSES: priv->num_classes = g_value_get_uint (value); break;
    case PROP_BLEND: priv->blend = g_value_get_boolean (value); break;
    case PROP_ROTATE_EVERY: priv->rotate_every = g_value_get_uint (value); break;
    case PROP_CHUNK: priv->chunk = g_value_get_uint (value); break;
    case PROP_SEED: priv->seed = g_value_get_uint64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_extractor_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (object);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (priv, prop_id);
  if (str) {
    g_value_set_string (value, *str);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_NUM_CLASSES: g_value_set_uint (value, priv->num_classes); break;
    case PROP_BLEND: g_value_set_boolean (value, priv->blend); break;
    case PROP_ROTATE_EVERY: g_value_set_uint (value, priv->rotate_every); break;
    case PROP_CHUNK: g_value_set_uint (value, priv->chunk); break;
    case PROP_SEED: g_value_set_uint64 (value, priv->seed); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_extractor_finalize (GObject *object)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (GST_NCFM_EXTRACTOR (object));
  g_free (priv->weights);
  g_free (priv->pool);
  g_free (priv->device);
  clear_stream_state (priv);
  G_OBJECT_CLASS (gst_ncfm_extractor_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
install_properties (GObjectClass *gobject_class)
{
  /**
   * GstNcfmExtractor:num-classes:
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
   * GstNcfmExtractor:weights:
   *
   * A safetensors file of weights under the reference's PyTorch names, read
   * at start; its shapes must fit the model properties and the input.  The
   * one model then serves the whole stream.
   */
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_string ("weights", "Weights",
          "Safetensors file of model weights (unset: pool or random init)", DEFAULT_WEIGHTS,
          PARAM_FLAGS));
  /**
   * GstNcfmExtractor:pool:
   *
   * A model-pool directory of premodel{k}_init.safetensors and
   * premodel{k}_trained.safetensors (k from 0); each rotation draws a member
   * and a blend weight lambda (see #GstNcfmExtractor:blend).
   */
  g_object_class_install_property (gobject_class, PROP_POOL,
      g_param_spec_string ("pool", "Model pool",
          "Model-pool directory (premodel{k}_init/_trained.safetensors); a random member per "
          "rotation", DEFAULT_POOL, PARAM_FLAGS));
  /**
   * GstNcfmExtractor:blend:
   *
   * With a pool: use lambda * init + (1 - lambda) * trained, lambda ~ U(0,1)
   * per rotation (the method's default); off: the trained weights alone.
   */
  g_object_class_install_property (gobject_class, PROP_BLEND,
      g_param_spec_boolean ("blend", "Blend",
          "Pool: blend init and trained weights with lambda ~ U(0,1) (off: trained only)",
          DEFAULT_BLEND, PARAM_FLAGS));
  /**
   * GstNcfmExtractor:rotate-every:
   *
   * Buffers per model (pool member or random init); 0 keeps the first
   * model for the whole stream.  No effect with #GstNcfmExtractor:weights.
   */
  g_object_class_install_property (gobject_class, PROP_ROTATE_EVERY,
      g_param_spec_uint ("rotate-every", "Rotate every",
          "Buffers between model rotations (0 = never rotate)", 0, G_MAXUINT,
          DEFAULT_ROTATE_EVERY, PARAM_FLAGS));
  /**
   * GstNcfmExtractor:chunk:
   *
   * The most images per forward pass: a larger batch goes through the
   * network in equal parts of at most this many images, so activation
   * memory follows the part, not the batch (ConvNet-3 width 128 on 32x32
   * images: about 1.5 MB per image).  The features are the same (instance
   * norm or none: each image is independent); with norm=batchnorm the batch
   * always goes whole.  0: the whole batch at once.
   */
  g_object_class_install_property (gobject_class, PROP_CHUNK,
      g_param_spec_uint ("chunk", "Chunk",
          "Most images per forward pass; larger batches run in parts (memory vs speed; "
          "0 = whole batch)", 0, G_MAXUINT, DEFAULT_CHUNK, PARAM_FLAGS));
  /**
   * GstNcfmExtractor:seed:
   *
   * Seed of the random inits and pool draws; with the rotation index it
   * fixes every model, so runs repeat exactly.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the random inits and pool draws", 0,
          G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmExtractor:device:
   *
   * Features are computed where the input tensors are.  "auto" follows the
   * input; "cpu" or "cuda:N" make an input on any other device an error.
   * Unset: $NCFM_DEVICE, or auto.  Memory of a non-ncfm element is copied
   * to this device (auto: the default device).
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "auto (follow the input), cpu or cuda:N (input elsewhere is an error; unset: "
          "$NCFM_DEVICE or auto)", DEFAULT_DEVICE, PARAM_FLAGS));
}

static void
gst_ncfm_extractor_class_init (GstNcfmExtractorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_extractor_set_property;
  gobject_class->get_property = gst_ncfm_extractor_get_property;
  gobject_class->finalize = gst_ncfm_extractor_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_stop);
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_transform_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_sink_event);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_accept_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_set_caps);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_ncfm_extractor_prepare_output_buffer);
  trans_class->transform_meta = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_transform_meta);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_ncfm_extractor_transform);

  klass->model_name = "model";
  klass->classifier_weight = "classifier.weight";
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_EXTRACTOR, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_EXTRACTOR_NORM, 0);
}

static void
gst_ncfm_extractor_init (GstNcfmExtractor *self)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  priv->num_classes = DEFAULT_NUM_CLASSES;
  priv->weights = g_strdup (DEFAULT_WEIGHTS);
  priv->pool = g_strdup (DEFAULT_POOL);
  priv->device = g_strdup (DEFAULT_DEVICE);
  priv->blend = DEFAULT_BLEND;
  priv->rotate_every = DEFAULT_ROTATE_EVERY;
  priv->chunk = DEFAULT_CHUNK;
  priv->seed = DEFAULT_SEED;
  priv->member = -1;
  priv->lambda = -1.0;
}
