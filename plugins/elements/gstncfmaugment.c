/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmaugment
 * @title: ncfmaugment
 * @short_description: differentiable siamese augmentation (DSA) of image batches
 *
 * Augments every batch of real images with the DSA strategy of
 * #GstNcfmAugment:strategy (tokens color, crop, cutout, flip, scale, rotate
 * joined by '_', applied in that order) and records the parameters it drew
 * as an #NcfmAugmentMeta on the output buffer.  ncfmdistill replays them on
 * its synthetic images, so the real and the synthetic batch of one matching
 * step go through the identical transform (mode=shared, the default), and
 * back-propagates through them.
 *
 * Input and output are the batches of ncfmdatasetsrc or ncfmtensorize, with
 * the same caps: `other/tensors, format=static, num_tensors=2,
 * dimensions="W:H:C:B,B", types="float32,int32"` (host memory or
 * memory:NcfmCUDA).  The augmented images are a new tensor on the device of
 * the input images; the labels memory and the #NcfmBatchMeta pass through
 * unchanged.  The parameters of each buffer are drawn from a seed derived
 * from #GstNcfmAugment:seed and the buffer offset (the batch number of
 * ncfmdatasetsrc; a count of buffers when there is none), so a run is
 * reproducible.
 *
 * Input memory of other elements (an appsrc, NNStreamer: plain system
 * memory) is copied once into tensors on the default device ($NCFM_DEVICE,
 * else auto), checked against the caps (its size gives the batch's N, at
 * most the caps' B); the output then holds ncfm memory, labels included.
 * In passthrough such buffers go out as they came.
 *
 * strategy="" or "none" makes the element a passthrough: buffers go out
 * untouched, without a meta.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=500 ! ncfmaugment strategy=color_crop_cutout ! fakesink
 * ]| One epoch of Fashion-MNIST in per-class batches of 500, augmented as in NCFM matching.
 */
#include "gstncfmaugment.h"

#include <ncfm.h>

#include "gstncfmaugmentmeta.h"
#include "gstncfmcaps.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_augment_debug);
#define GST_CAT_DEFAULT gst_ncfm_augment_debug

#define DEFAULT_STRATEGY "color_crop_cutout"
#define DEFAULT_MODE NCFM_AUGMENT_SHARED
#define DEFAULT_SEED 0

enum {
  PROP_0,
  PROP_STRATEGY,
  PROP_MODE,
  PROP_SEED,
};

struct _GstNcfmAugment {
  GstBaseTransform parent;

  /* properties, under the object lock; read once in start() */
  gchar *strategy;
  NcfmAugmentMode mode;
  guint64 seed;

  /* from start() to stop(), used by the streaming thread */
  gboolean started;
  NcfmAugment *augment;   /* NULL: passthrough */
  NcfmActivations *work;  /* intermediate images of the replay */
  guint64 seed_base;
  guint64 counter;        /* buffers seen: the draw index of buffers without an offset */
  GstNcfmTensorsInfo in_info;  /* from the caps */
  gint64 height, width;
  NcfmDevice *import_device;   /* where memory of non-ncfm elements is copied, made on the
                                * first such buffer */
};

#define GST_TYPE_NCFM_AUGMENT_MODE (gst_ncfm_augment_mode_get_type ())
static GType
gst_ncfm_augment_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_AUGMENT_SHARED, "One parameter set per batch (matching)", "shared" },
    { NCFM_AUGMENT_PER_SAMPLE, "One parameter set per image (training)", "per-sample" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmAugmentMode", values));
  return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

G_DEFINE_FINAL_TYPE (GstNcfmAugment, gst_ncfm_augment, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmaugment, "ncfmaugment", GST_RANK_NONE,
    GST_TYPE_NCFM_AUGMENT,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_augment_debug, "ncfmaugment", 0,
        "ncfm DSA augmentation"));

static gboolean
gst_ncfm_augment_start (GstBaseTransform *trans)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (trans);
  g_autoptr (GError) error = NULL;

  GST_OBJECT_LOCK (self);
  g_autofree gchar *strategy = g_strdup (self->strategy);
  const NcfmAugmentMode mode = self->mode;
  const guint64 seed = self->seed;
  GST_OBJECT_UNLOCK (self);

  g_autoptr (NcfmAugment) augment = ncfm_augment_new (strategy, mode, &error);
  if (!augment) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid augmentation strategy \"%s\" (property strategy): %s", strategy,
            error->message), ("property strategy"));
    return FALSE;
  }
  const gboolean passthrough = g_str_equal (ncfm_augment_get_strategy (augment), "none");
  GST_INFO_OBJECT (self, "strategy %s, mode %s, seed %" G_GUINT64_FORMAT "%s",
      ncfm_augment_get_strategy (augment), ncfm_augment_mode_to_string (mode), seed,
      passthrough ? ": passthrough" : "");
  gst_base_transform_set_passthrough (trans, passthrough);

  GST_OBJECT_LOCK (self);
  self->started = TRUE;
  self->augment = passthrough ? NULL : g_steal_pointer (&augment);
  self->work = ncfm_activations_new ();
  self->seed_base = seed;
  self->counter = 0;
  self->height = self->width = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_ncfm_augment_stop (GstBaseTransform *trans)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (trans);
  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  g_clear_object (&self->augment);
  g_clear_object (&self->work);
  g_clear_object (&self->import_device);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* The caps must be an image batch: float32 [B, C, H, W] and int32 [B]. */
static gboolean
gst_ncfm_augment_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (trans);
  g_autoptr (GError) error = NULL;
  GstNcfmTensorsInfo info;
  (void) outcaps;

  if (!gst_ncfm_tensors_info_from_caps (&info, incaps, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  const GstNcfmTensorInfo *images = &info.tensors[0], *labels = &info.tensors[1];
  if (info.n_tensors != 2) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("caps field num_tensors is %u: ncfmaugment takes image batches of 2 tensors "
            "(images and labels)", info.n_tensors), ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  if (images->dtype != NCFM_DTYPE_F32 || labels->dtype != NCFM_DTYPE_I32) {
    g_autofree gchar *types = gst_ncfm_tensors_info_types (&info);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("caps field types is \"%s\": ncfmaugment takes \"float32,int32\" (images, labels)",
            types), ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  if (images->n_dims != 4 || labels->n_dims != 1 || images->shape[0] != labels->shape[0]) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (&info);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("caps field dimensions is \"%s\": ncfmaugment takes images W:H:C:B and labels B",
            dims), ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  /* a trial draw: the sizes the parameters can take */
  if (self->augment) {
    g_autoptr (NcfmAugmentParams) p = ncfm_augment_draw (self->augment, 0, images->shape[0],
        images->shape[2], images->shape[3], &error);
    if (!p) {
      g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (&info);
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("caps field dimensions is \"%s\": the images cannot be augmented: %s", dims,
              error->message), ("%" GST_PTR_FORMAT, incaps));
      return FALSE;
    }
  }
  self->in_info = info;
  self->height = images->shape[2];
  self->width = images->shape[3];
  GST_DEBUG_OBJECT (self, "images of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT, self->height,
      self->width);
  return TRUE;
}

/* A new buffer with the input's metadata; transform() adds the memories. */
static GstFlowReturn
gst_ncfm_augment_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf,
    GstBuffer **outbuf)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (trans);
  if (gst_base_transform_is_passthrough (trans)) {
    *outbuf = inbuf;
    return GST_FLOW_OK;
  }
  GstBuffer *buf = gst_buffer_new ();
  GstBaseTransformClass *klass = GST_BASE_TRANSFORM_GET_CLASS (trans);
  if (klass->copy_metadata && !klass->copy_metadata (trans, inbuf, buf)) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot copy the buffer metadata"), (NULL));
    return GST_FLOW_ERROR;
  }
  *outbuf = buf;
  return GST_FLOW_OK;
}

/* The output: a fresh images tensor on the input's device and the input's
 * labels memory (a reference; for a foreign memory, its copy). */
static GstFlowReturn
gst_ncfm_augment_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (trans);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) x = NULL;
  g_autoptr (NcfmTensor) labels = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), inbuf, &self->in_info,
          &self->import_device, &x, &labels))
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (x);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  guint n_dims;
  const gint64 *shape = ncfm_tensor_get_shape (x, &n_dims);
  g_autoptr (NcfmTensor) y = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, n_dims, &error);
  if (!y) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Cannot allocate the augmented images on %s: %s", ncfm_device_get_name (dev),
            error->message), (NULL));
    return GST_FLOW_ERROR;
  }

  const guint64 index = GST_BUFFER_OFFSET_IS_VALID (inbuf) ? GST_BUFFER_OFFSET (inbuf)
      : self->counter;
  self->counter++;
  const guint64 seed = ncfm_derive_seed (self->seed_base, index);
  g_autoptr (NcfmAugmentParams) params = ncfm_augment_draw (self->augment, seed,
      ncfm_tensor_get_dim (x, 0), self->height, self->width, &error);
  if (!params || !ncfm_augment_params_apply (params, x, y, self->work, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Cannot augment batch %" G_GUINT64_FORMAT ": %s", index, error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: the batch must be complete when pushed */
  ncfm_device_synchronize (dev);
  GstMemory *labels_in = gst_buffer_peek_memory (inbuf, 1);
  gst_buffer_append_memory (outbuf, gst_ncfm_tensor_memory_new (y));
  gst_buffer_append_memory (outbuf, gst_is_ncfm_tensor_memory (labels_in)
      ? gst_memory_ref (labels_in) : gst_ncfm_tensor_memory_new (labels));
  gst_buffer_add_ncfm_augment_meta (outbuf, params);
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG) {
    g_autofree gchar *desc = ncfm_augment_params_describe (params);
    GST_LOG_OBJECT (self, "batch %" G_GUINT64_FORMAT ", seed %" G_GUINT64_FORMAT ": %s", index,
        seed, desc);
  }
  return GST_FLOW_OK;
}

static void
gst_ncfm_augment_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (object);
  GST_OBJECT_LOCK (self);
  if (self->started) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
    return;
  }
  switch (prop_id) {
    case PROP_STRATEGY:
      g_free (self->strategy);
      self->strategy = g_value_dup_string (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_augment_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_STRATEGY:
      g_value_set_string (value, self->strategy);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_augment_finalize (GObject *object)
{
  GstNcfmAugment *self = GST_NCFM_AUGMENT (object);
  g_free (self->strategy);
  g_clear_object (&self->augment);
  g_clear_object (&self->work);
  G_OBJECT_CLASS (gst_ncfm_augment_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_augment_class_init (GstNcfmAugmentClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *base_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_augment_set_property;
  gobject_class->get_property = gst_ncfm_augment_get_property;
  gobject_class->finalize = gst_ncfm_augment_finalize;

  /**
   * GstNcfmAugment:strategy:
   *
   * The DSA strategy: tokens color, crop, cutout, flip, scale and rotate
   * joined by '_', applied in the order listed.  The default is the NCFM
   * matching strategy.  "" or "none" makes the element a passthrough (no
   * meta).  An unknown or repeated token fails the start with an error
   * naming it.
   */
  g_object_class_install_property (gobject_class, PROP_STRATEGY,
      g_param_spec_string ("strategy", "Strategy",
          "DSA strategy: color, crop, cutout, flip, scale, rotate joined by '_' "
          "(\"\" or none: passthrough)", DEFAULT_STRATEGY, PARAM_FLAGS));
  /**
   * GstNcfmAugment:mode:
   *
   * shared: one parameter set for the whole batch (matching: the synthetic
   * batch replays exactly the transform of the real one); per-sample: one
   * set per image, with one of crop/scale/rotate chosen per batch and
   * cutout left out (CutMix replaces it in training).
   */
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode", "Draw one parameter set per batch or one per image",
          GST_TYPE_NCFM_AUGMENT_MODE, DEFAULT_MODE, PARAM_FLAGS));
  /**
   * GstNcfmAugment:seed:
   *
   * Seed of the draws: buffer k (its offset, or its count when it has no
   * offset) is augmented with parameters drawn from a seed derived from
   * this one and k, so the same seed gives the same augmentation on every
   * run and machine.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of the parameter draws (with the buffer offset: same seed, same augmentation)",
          0, G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM DSA augmentation",
      "Filter/Effect/Tensor",
      "Applies differentiable siamese augmentation (colour, crop, cutout, flip, scale, "
      "rotate) to batches of images and attaches the parameters drawn, so the synthetic "
      "set can replay the identical transform",
      "gst-ncfm developers");

  base_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_augment_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_augment_stop);
  base_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_augment_set_caps);
  base_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (gst_ncfm_augment_prepare_output_buffer);
  base_class->transform = GST_DEBUG_FUNCPTR (gst_ncfm_augment_transform);
  base_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_AUGMENT_MODE, 0);
}

static void
gst_ncfm_augment_init (GstNcfmAugment *self)
{
  self->strategy = g_strdup (DEFAULT_STRATEGY);
  self->mode = DEFAULT_MODE;
  self->seed = DEFAULT_SEED;
}
