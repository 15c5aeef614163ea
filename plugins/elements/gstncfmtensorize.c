/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmtensorize
 * @title: ncfmtensorize
 * @short_description: video frames (or their regions of interest) as labelled image batches
 *
 * Turns raw video into the image batches that ncfmdatasetsrc produces, so a
 * camera or a video file can feed ncfmaugment, an extractor, ncfmcf and
 * ncfmdistill.  Each frame gives one sample per #GstVideoRegionOfInterestMeta
 * it carries, or, when it carries none (or #GstNcfmTensorize:use-roi is
 * off), one sample of the whole frame:
 *
 * - the region (clipped to the frame) is resized to #GstNcfmTensorize:width x
 *   #GstNcfmTensorize:height with bilinear interpolation (the backend's
 *   resize op: PyTorch's F.interpolate, align_corners=False, no antialias);
 * - RGB becomes grey with the BT.601 luma weights 0.299, 0.587, 0.114 when
 *   #GstNcfmTensorize:channels is 1; grey input is repeated into three
 *   channels when it is 3;
 * - pixels are scaled to [0, 1] and normalised per channel, (x - mean) / std;
 * - the label is #GstNcfmTensorize:label for a whole frame, and for a region
 *   the index of its type (g_quark_to_string (roi_type)) in
 *   #GstNcfmTensorize:class-names.  Regions of another type, or empty after
 *   clipping, are skipped with a debug message and counted in
 *   #GstNcfmTensorize:rois-skipped.  With #GstNcfmTensorize:unlabeled every
 *   label is -1 and regions of any type are taken (ncfmlabel labels them).
 * - with #GstNcfmTensorize:roi-only a frame without regions gives no
 *   sample (a detector found nothing); with #GstNcfmTensorize:aspect-crop a
 *   whole-frame sample is the centre of the frame at the output's aspect
 *   ratio.
 *
 * Samples accumulate until #GstNcfmTensorize:batch-size of them are there;
 * then one buffer goes out, with the timestamps of the last frame that
 * contributed and the batch number as offset:
 *
 * - memory 0: images, float32 [B, C, H, W]; memory 1: labels, int32 [B]
 *   (#NcfmTensor memories on #GstNcfmTensorize:device);
 * - an #NcfmBatchMeta with the class names, the mean/std and, when every
 *   sample has the same label, that class id (else -1).
 *
 * The source caps are fixed by the properties when the element starts:
 * `other/tensors, format=static, num_tensors=2, dimensions="W:H:C:B,B",
 * types="float32,int32", framerate=0/1`, plus the feature memory:NcfmCUDA on
 * a GPU.  At EOS a partial batch goes out with fewer than B samples (its
 * tensors say how many), unless #GstNcfmTensorize:drop-partial is set.
 * Settings that do not fit together (a label outside the classes, a mean or
 * std list whose length is not the channel count, ...) fail the change to
 * PAUSED with an error naming the property.
 *
 * Frames in CUDA memory (video/x-raw(memory:CUDAMemory)) are not taken: put
 * cudadownload in front.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=64 ! videoconvert ! ncfmtensorize label=3 classes=10 width=28 height=28 channels=1 dataset=fashion-mnist batch-size=16 ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=256 ! ncfmdistill location=/tmp/camera-synset.safetensors ipc=1
 * ]| Distils 64 test frames into the synthetic images of Fashion-MNIST class 3
 * (pipelines/camera.sh does the same from a camera or a video file).
 */
#include "gstncfmtensorize.h"

#include <gst/video/video.h>
#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmtensorize-batch.h"

GST_DEBUG_CATEGORY (gst_ncfm_tensorize_debug);
#define GST_CAT_DEFAULT gst_ncfm_tensorize_debug

#define DEFAULT_WIDTH 32
#define DEFAULT_HEIGHT 32
#define MAX_SIDE 16384
#define DEFAULT_CHANNELS 3
#define DEFAULT_BATCH_SIZE 64
#define MAX_BATCH_SIZE (1u << 20)
#define DEFAULT_LABEL 0
#define DEFAULT_CLASSES 0
#define MAX_CLASSES (1u << 20)
#define DEFAULT_DATASET GST_NCFM_TENSORIZE_DATASET_NONE
#define DEFAULT_USE_ROI TRUE
#define DEFAULT_DROP_PARTIAL FALSE
#define DEFAULT_UNLABELED FALSE
#define DEFAULT_ROI_ONLY FALSE
#define DEFAULT_ASPECT_CROP FALSE

enum {
  PROP_0,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_CHANNELS,
  PROP_BATCH_SIZE,
  PROP_LABEL,
  PROP_CLASSES,
  PROP_CLASS_NAMES,
  PROP_DATASET,
  PROP_MEAN,
  PROP_STD,
  PROP_USE_ROI,
  PROP_DROP_PARTIAL,
  PROP_UNLABELED,
  PROP_DEVICE,
  PROP_ROIS_SKIPPED,
  PROP_ROI_ONLY,
  PROP_ASPECT_CROP,
  PROP_FRAMES_SKIPPED,
};

struct _GstNcfmTensorize {
  GstBaseTransform parent;

  /* properties, under the object lock; read once in start() */
  guint width, height, channels, batch_size, label, classes;
  gchar *class_names, *mean, *std, *device;
  GstNcfmTensorizeDataset dataset;
  gboolean use_roi, drop_partial, unlabeled, roi_only, aspect_crop;
  guint64 rois_skipped;       /* read-only, object lock */
  guint64 frames_skipped;     /* read-only, object lock */

  /* from start() to stop(); the batcher and the video info belong to the streaming thread */
  gboolean started;
  gboolean s_drop_partial;
  NcfmDevice *dev;
  GstCaps *srccaps;
  GstNcfmBatcher *batcher;
  GstVideoInfo vinfo;         /* the input, from set_caps */
  gint fps_n, fps_d;          /* its frame rate, object lock (latency queries) */
  guint latency_frames;       /* B - 1: frames a batch waits for */
};

#define GST_TYPE_NCFM_TENSORIZE_DATASET (gst_ncfm_tensorize_dataset_get_type ())
static GType
gst_ncfm_tensorize_dataset_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_NCFM_TENSORIZE_DATASET_NONE, "No preset: mean 0, std 1", "none" },
    { GST_NCFM_TENSORIZE_DATASET_FASHION_MNIST, "Fashion-MNIST: 0.2861 / 0.3530", "fashion-mnist" },
    { GST_NCFM_TENSORIZE_DATASET_MNIST, "MNIST: 0.1307 / 0.3081", "mnist" },
    { GST_NCFM_TENSORIZE_DATASET_CIFAR10, "CIFAR-10: 0.4914,0.4822,0.4465 / 0.2023,0.1994,0.2010",
      "cifar10" },
    { GST_NCFM_TENSORIZE_DATASET_CIFAR100, "CIFAR-100: as CIFAR-10", "cifar100" },
    { GST_NCFM_TENSORIZE_DATASET_IMAGENET, "ImageNet: 0.485,0.456,0.406 / 0.229,0.224,0.225",
      "imagenet" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmTensorizeDataset", values));
  return type;
}

#define VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, GRAY8 }"
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

#define gst_ncfm_tensorize_parent_class parent_class
G_DEFINE_FINAL_TYPE (GstNcfmTensorize, gst_ncfm_tensorize, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmtensorize, "ncfmtensorize", GST_RANK_NONE,
    GST_TYPE_NCFM_TENSORIZE,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_tensorize_debug, "ncfmtensorize", 0,
        "ncfm video to image batches"));

static gboolean
gst_ncfm_tensorize_start (GstBaseTransform *trans)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  const GstNcfmBatchSettings settings = {
    .width = self->width, .height = self->height, .channels = self->channels,
    .batch_size = self->batch_size, .label = self->label, .classes = self->classes,
    .class_names = self->class_names, .mean = self->mean, .std = self->std,
    .dataset = self->dataset, .use_roi = self->use_roi, .unlabeled = self->unlabeled,
    .roi_only = self->roi_only, .aspect_crop = self->aspect_crop,
  };
  GstNcfmBatchConfig cfg;
  const gboolean valid = gst_ncfm_batch_config_init (&cfg, &settings, &error);
  self->s_drop_partial = self->drop_partial;
  GST_OBJECT_UNLOCK (self);
  if (!valid) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    return FALSE;
  }
  g_auto (GStrv) names = cfg.class_names;

  GST_OBJECT_LOCK (self);
  g_autofree gchar *device = g_strdup (self->device);
  GST_OBJECT_UNLOCK (self);
  g_autoptr (NcfmDevice) dev = ncfm_device_new (device, &error);
  if (!dev) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot use device \"%s\" (property device): "
            "%s", device ? device : g_getenv ("NCFM_DEVICE"), error->message), (NULL));
    return FALSE;
  }
  const gint64 images[4] = { cfg.batch_size, cfg.channels, cfg.height, cfg.width };
  const gint64 labels[1] = { cfg.batch_size };
  GstNcfmTensorsInfo info;
  gst_ncfm_tensors_info_init (&info, ncfm_device_is_cuda (dev));
  if (!gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_F32, images, 4, &error)
      || !gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_I32, labels, 1, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    return FALSE;
  }
  GstNcfmBatcher *batcher = gst_ncfm_batcher_new (dev, &cfg, &error);
  if (!batcher) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "device %s: batches of %u x %ux%ux%u, %u classes, label %d%s",
      ncfm_device_get_name (dev), cfg.batch_size, cfg.channels, cfg.height, cfg.width,
      g_strv_length (names), cfg.label, cfg.use_roi ? " (or from regions of interest)" : "");

  GST_OBJECT_LOCK (self);
  self->batcher = batcher;
  self->dev = g_steal_pointer (&dev);
  self->srccaps = gst_ncfm_tensors_info_to_caps (&info);
  self->latency_frames = cfg.batch_size - 1;
  self->rois_skipped = 0;
  self->frames_skipped = 0;
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_ncfm_tensorize_stop (GstBaseTransform *trans)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  self->fps_n = self->fps_d = 0;
  g_clear_pointer (&self->batcher, gst_ncfm_batcher_free);
  g_clear_object (&self->dev);
  gst_clear_caps (&self->srccaps);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* ---- caps ---- */

/* Any supported video in; out the fixed batch caps (the template before start). */
static GstCaps *
gst_ncfm_tensorize_transform_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *filter)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  GstCaps *out = NULL;
  (void) caps;
  if (direction == GST_PAD_SINK) {
    GST_OBJECT_LOCK (self);
    out = self->srccaps ? gst_caps_ref (self->srccaps) : NULL;
    GST_OBJECT_UNLOCK (self);
  }
  if (!out)
    out = gst_pad_get_pad_template_caps (direction == GST_PAD_SINK ? trans->srcpad
        : trans->sinkpad);
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (out);
    out = both;
  }
  return out;
}

static gboolean
gst_ncfm_tensorize_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  (void) outcaps;
  if (!gst_video_info_from_caps (&self->vinfo, incaps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot read the video caps"),
        ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "input %s %dx%d", GST_VIDEO_INFO_NAME (&self->vinfo),
      GST_VIDEO_INFO_WIDTH (&self->vinfo), GST_VIDEO_INFO_HEIGHT (&self->vinfo));
  GST_OBJECT_LOCK (self);
  self->fps_n = GST_VIDEO_INFO_FPS_N (&self->vinfo);
  self->fps_d = GST_VIDEO_INFO_FPS_D (&self->vinfo);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* Frames may have strides (video meta) and carry regions of interest. */
static gboolean
gst_ncfm_tensorize_propose_allocation (GstBaseTransform *trans, GstQuery *decide_query,
    GstQuery *query)
{
  (void) trans;
  (void) decide_query;
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_query_add_allocation_meta (query, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE, NULL);
  return TRUE;
}

/* Batches are tensors of the element's own device: nothing to take from downstream. */
static gboolean
gst_ncfm_tensorize_decide_allocation (GstBaseTransform *trans, GstQuery *query)
{
  (void) trans;
  (void) query;
  return TRUE;
}

/* A batch waits for B - 1 frames after its first: add them to the latency. */
static gboolean
gst_ncfm_tensorize_src_query (GstBaseTransform *trans, GstPadDirection direction,
    GstQuery *query)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return TRUE;
  GST_OBJECT_LOCK (self);
  const guint frames = self->started ? self->latency_frames : 0;
  const gint fps_n = self->fps_n, fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);
  if (frames && fps_n > 0 && fps_d > 0) {
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    const GstClockTime extra = gst_util_uint64_scale_int (frames * GST_SECOND, fps_d, fps_n);
    GST_DEBUG_OBJECT (self, "latency + %" GST_TIME_FORMAT, GST_TIME_ARGS (extra));
    gst_query_set_latency (query, live, min + extra,
        GST_CLOCK_TIME_IS_VALID (max) ? max + extra : max);
  }
  return TRUE;
}

/* ---- streaming ---- */

static GstFlowReturn
gst_ncfm_tensorize_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont,
    GstBuffer *input)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  g_autoptr (GError) error = NULL;
  /* the base class renegotiates if needed and queues the buffer */
  GstFlowReturn ret = GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans,
      is_discont, input);
  if (ret != GST_FLOW_OK)
    return ret;
  g_autoptr (GstBuffer) buf = g_steal_pointer (&trans->queued_buf);
  if (!buf)
    return GST_FLOW_OK;

  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &self->vinfo, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot map a video frame of %" G_GSIZE_FORMAT
            " bytes as %s %dx%d", gst_buffer_get_size (buf), GST_VIDEO_INFO_NAME (&self->vinfo),
            GST_VIDEO_INFO_WIDTH (&self->vinfo), GST_VIDEO_INFO_HEIGHT (&self->vinfo)), (NULL));
    return GST_FLOW_ERROR;
  }
  guint skipped = 0;
  gboolean frame_skipped = FALSE;
  const gboolean ok = gst_ncfm_batcher_add_frame (self->batcher, &frame, &skipped,
      &frame_skipped, &error);
  gst_video_frame_unmap (&frame);
  if (frame_skipped)
    GST_LOG_OBJECT (self, "frame %" GST_TIME_FORMAT " has no region of interest: no sample",
        GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  if (skipped || frame_skipped) {
    GST_OBJECT_LOCK (self);
    self->rois_skipped += skipped;
    self->frames_skipped += frame_skipped;
    GST_OBJECT_UNLOCK (self);
  }
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot make a batch on %s: %s",
            ncfm_device_get_name (self->dev), error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

/* Hands out the finished batches one by one (the base class calls it until NULL). */
static GstFlowReturn
gst_ncfm_tensorize_generate_output (GstBaseTransform *trans, GstBuffer **outbuf)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  *outbuf = gst_ncfm_batcher_pop (self->batcher);
  return GST_FLOW_OK;
}

/* EOS: the partial batch goes out first (or is dropped); flushes forget it. */
static gboolean
gst_ncfm_tensorize_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (trans);
  g_autoptr (GError) error = NULL;
  const guint pending = self->batcher ? gst_ncfm_batcher_pending (self->batcher) : 0;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      if (!pending)
        break;
      if (self->s_drop_partial) {
        GST_DEBUG_OBJECT (self, "EOS: dropping a partial batch of %u", pending);
        gst_ncfm_batcher_discard (self->batcher, FALSE);
        break;
      }
      GST_DEBUG_OBJECT (self, "EOS: pushing a partial batch of %u", pending);
      if (!gst_ncfm_batcher_flush (self->batcher, &error)) {
        GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot make the last batch on "
                "%s: %s", ncfm_device_get_name (self->dev), error->message), (NULL));
        break;
      }
      for (GstBuffer *buf; (buf = gst_ncfm_batcher_pop (self->batcher));) {
        const GstFlowReturn ret = gst_pad_push (trans->srcpad, buf);
        if (ret != GST_FLOW_OK)
          GST_DEBUG_OBJECT (self, "pushing the last batch: %s", gst_flow_get_name (ret));
      }
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->batcher)
        gst_ncfm_batcher_discard (self->batcher, TRUE);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ---- properties ---- */

static gchar **
string_property (GstNcfmTensorize *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_CLASS_NAMES: return &self->class_names;
    case PROP_MEAN: return &self->mean;
    case PROP_STD: return &self->std;
    case PROP_DEVICE: return &self->device;
    default: return NULL;
  }
}

static guint *
uint_property (GstNcfmTensorize *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_WIDTH: return &self->width;
    case PROP_HEIGHT: return &self->height;
    case PROP_CHANNELS: return &self->channels;
    case PROP_BATCH_SIZE: return &self->batch_size;
    case PROP_LABEL: return &self->label;
    case PROP_CLASSES: return &self->classes;
    default: return NULL;
  }
}

static void
gst_ncfm_tensorize_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (object);
  GST_OBJECT_LOCK (self);
  if (self->started) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
    return;
  }
  gchar **str = string_property (self, prop_id);
  guint *u = uint_property (self, prop_id);
  if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
  } else if (u) {
    *u = g_value_get_uint (value);
  } else if (prop_id == PROP_DATASET) {
    self->dataset = g_value_get_enum (value);
  } else if (prop_id == PROP_USE_ROI) {
    self->use_roi = g_value_get_boolean (value);
  } else if (prop_id == PROP_DROP_PARTIAL) {
    self->drop_partial = g_value_get_boolean (value);
  } else if (prop_id == PROP_UNLABELED) {
    self->unlabeled = g_value_get_boolean (value);
  } else if (prop_id == PROP_ROI_ONLY) {
    self->roi_only = g_value_get_boolean (value);
  } else if (prop_id == PROP_ASPECT_CROP) {
    self->aspect_crop = g_value_get_boolean (value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_tensorize_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (object);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (self, prop_id);
  guint *u = uint_property (self, prop_id);
  if (str)
    g_value_set_string (value, *str);
  else if (u)
    g_value_set_uint (value, *u);
  else if (prop_id == PROP_DATASET)
    g_value_set_enum (value, self->dataset);
  else if (prop_id == PROP_USE_ROI)
    g_value_set_boolean (value, self->use_roi);
  else if (prop_id == PROP_DROP_PARTIAL)
    g_value_set_boolean (value, self->drop_partial);
  else if (prop_id == PROP_UNLABELED)
    g_value_set_boolean (value, self->unlabeled);
  else if (prop_id == PROP_ROIS_SKIPPED)
    g_value_set_uint64 (value, self->rois_skipped);
  else if (prop_id == PROP_ROI_ONLY)
    g_value_set_boolean (value, self->roi_only);
  else if (prop_id == PROP_ASPECT_CROP)
    g_value_set_boolean (value, self->aspect_crop);
  else if (prop_id == PROP_FRAMES_SKIPPED)
    g_value_set_uint64 (value, self->frames_skipped);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_tensorize_finalize (GObject *object)
{
  GstNcfmTensorize *self = GST_NCFM_TENSORIZE (object);
  gst_ncfm_tensorize_stop (GST_BASE_TRANSFORM (self));
  g_free (self->class_names);
  g_free (self->mean);
  g_free (self->std);
  g_free (self->device);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
install_uint (GObjectClass *klass, guint id, const gchar *name, const gchar *nick,
    const gchar *blurb, guint min, guint max, guint def)
{
  g_object_class_install_property (klass, id, g_param_spec_uint (name, nick, blurb, min, max,
          def, PARAM_FLAGS));
}

static void
gst_ncfm_tensorize_class_init (GstNcfmTensorizeClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *base_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_tensorize_set_property;
  gobject_class->get_property = gst_ncfm_tensorize_get_property;
  gobject_class->finalize = gst_ncfm_tensorize_finalize;

  /**
   * GstNcfmTensorize:width:
   *
   * Width W of the images out: every frame or region is resized to it.
   */
  install_uint (gobject_class, PROP_WIDTH, "width", "Width", "Width of the images out (pixels)",
      1, MAX_SIDE, DEFAULT_WIDTH);
  /**
   * GstNcfmTensorize:height:
   *
   * Height H of the images out.
   */
  install_uint (gobject_class, PROP_HEIGHT, "height", "Height",
      "Height of the images out (pixels)", 1, MAX_SIDE, DEFAULT_HEIGHT);
  /**
   * GstNcfmTensorize:channels:
   *
   * 1: grey (RGB mixed with the BT.601 luma weights); 3: RGB (grey input
   * repeated).  2 is refused at start.
   */
  install_uint (gobject_class, PROP_CHANNELS, "channels", "Channels",
      "Channels of the images out: 1 (grey, BT.601 luma) or 3 (RGB)", 1, 3, DEFAULT_CHANNELS);
  /**
   * GstNcfmTensorize:batch-size:
   *
   * Samples per buffer: the B of the caps.  Only a partial batch at EOS is smaller.
   */
  install_uint (gobject_class, PROP_BATCH_SIZE, "batch-size", "Batch size",
      "Samples per batch", 1, MAX_BATCH_SIZE, DEFAULT_BATCH_SIZE);
  /**
   * GstNcfmTensorize:label:
   *
   * The class id of whole-frame samples (frames without regions of
   * interest, or all frames with #GstNcfmTensorize:use-roi off); must be
   * below the number of classes.
   */
  install_uint (gobject_class, PROP_LABEL, "label", "Label",
      "Class id of whole-frame samples (< the number of classes)", 0, MAX_CLASSES - 1,
      DEFAULT_LABEL);
  /**
   * GstNcfmTensorize:classes:
   *
   * Number of classes K of the stream.  0: as many as
   * #GstNcfmTensorize:class-names lists, or 10 without names.  With names
   * set, a non-zero value must equal their count.
   */
  install_uint (gobject_class, PROP_CLASSES, "classes", "Classes",
      "Number of classes (0 = the number of class-names, or 10 without names)", 0,
      MAX_CLASSES, DEFAULT_CLASSES);
  /**
   * GstNcfmTensorize:class-names:
   *
   * Comma-separated class names, class id = position ("cat,dog,bird").  A
   * region of interest takes the class whose name is its type
   * (case-insensitive).  Unset: the names are the ids "0", "1", ...
   */
  g_object_class_install_property (gobject_class, PROP_CLASS_NAMES,
      g_param_spec_string ("class-names", "Class names",
          "Comma-separated class names; a region of interest's type picks its class "
          "(unset: \"0\", \"1\", ...)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:dataset:
   *
   * Normalisation preset: the mean/std of the method card for that dataset.
   * #GstNcfmTensorize:mean and #GstNcfmTensorize:std override it.
   */
  g_object_class_install_property (gobject_class, PROP_DATASET,
      g_param_spec_enum ("dataset", "Dataset", "Mean/std preset of a dataset (mean and std "
          "override it)", GST_TYPE_NCFM_TENSORIZE_DATASET, DEFAULT_DATASET, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:mean:
   *
   * Per-channel mean of the normalisation (x - mean) / std, one value per
   * channel, comma separated ("0.2861" or "0.4914,0.4822,0.4465").  Unset:
   * the #GstNcfmTensorize:dataset preset's.
   */
  g_object_class_install_property (gobject_class, PROP_MEAN,
      g_param_spec_string ("mean", "Mean", "Per-channel mean, comma separated, e.g. "
          "\"0.4914,0.4822,0.4465\" (unset: the dataset preset's)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:std:
   *
   * Per-channel standard deviation, one positive value per channel.
   * Unset: the #GstNcfmTensorize:dataset preset's.
   */
  g_object_class_install_property (gobject_class, PROP_STD,
      g_param_spec_string ("std", "Std", "Per-channel standard deviation, comma separated, "
          "e.g. \"0.3530\" (unset: the dataset preset's)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:use-roi:
   *
   * Take one sample per #GstVideoRegionOfInterestMeta of a frame; off: the
   * whole frame always, with #GstNcfmTensorize:label.
   */
  g_object_class_install_property (gobject_class, PROP_USE_ROI,
      g_param_spec_boolean ("use-roi", "Use regions of interest",
          "One sample per region-of-interest meta, labelled by its type (off: whole frames)",
          DEFAULT_USE_ROI, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:drop-partial:
   *
   * At EOS, drop the samples of an unfinished batch instead of pushing a
   * smaller batch.
   */
  g_object_class_install_property (gobject_class, PROP_DROP_PARTIAL,
      g_param_spec_boolean ("drop-partial", "Drop partial batch",
          "At EOS, drop an unfinished batch instead of pushing it smaller", DEFAULT_DROP_PARTIAL,
          PARAM_FLAGS));
  /**
   * GstNcfmTensorize:unlabeled:
   *
   * No labels: every sample gets label -1 ("no label"), #GstNcfmTensorize:label
   * is ignored, and every region of interest is taken whatever its type (a
   * detector's "face" or "object"); ncfmlabel then gives the samples the
   * classes of a trained model.  The class names or count still say the
   * classes of the stream.
   */
  g_object_class_install_property (gobject_class, PROP_UNLABELED,
      g_param_spec_boolean ("unlabeled", "Unlabeled",
          "Label every sample -1 (no label) and take regions of any type, for ncfmlabel to "
          "label", DEFAULT_UNLABELED, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:device:
   *
   * Where the batches are made and delivered: "auto" (CUDA when a GPU is
   * usable), "cpu" or "cuda:N".  Unset: $NCFM_DEVICE, or auto.
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "Device of the batches: auto, cpu or cuda:N (unset: $NCFM_DEVICE or auto)", NULL,
          PARAM_FLAGS));
  /**
   * GstNcfmTensorize:rois-skipped:
   *
   * Regions of interest skipped since the element started: their type is
   * not a class name, or nothing of them is inside the frame.
   */
  g_object_class_install_property (gobject_class, PROP_ROIS_SKIPPED,
      g_param_spec_uint64 ("rois-skipped", "Regions skipped",
          "Regions of interest skipped since start (type not in class-names, or outside the "
          "frame)", 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstNcfmTensorize:roi-only:
   *
   * Only regions of interest become samples: a frame without one (nothing
   * detected) gives no sample, instead of a whole-frame sample of
   * #GstNcfmTensorize:label.  Such frames are counted in
   * #GstNcfmTensorize:frames-skipped.  Needs #GstNcfmTensorize:use-roi.
   */
  g_object_class_install_property (gobject_class, PROP_ROI_ONLY,
      g_param_spec_boolean ("roi-only", "Regions of interest only",
          "A frame without a region-of-interest meta gives no sample (not a whole-frame "
          "sample of label)", DEFAULT_ROI_ONLY, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:aspect-crop:
   *
   * A whole-frame sample is the centre of the frame at the aspect ratio of
   * #GstNcfmTensorize:width x #GstNcfmTensorize:height (as aspectratiocrop
   * does, but here the frame keeps its region-of-interest metas, which an
   * aspectratiocrop in front would lose).  Off: the whole frame, stretched.
   * Regions of interest are taken as they are.
   */
  g_object_class_install_property (gobject_class, PROP_ASPECT_CROP,
      g_param_spec_boolean ("aspect-crop", "Aspect crop",
          "Whole-frame samples are the centre of the frame at width:height (off: stretched)",
          DEFAULT_ASPECT_CROP, PARAM_FLAGS));
  /**
   * GstNcfmTensorize:frames-skipped:
   *
   * Frames that gave no sample since the element started: without a region
   * of interest while #GstNcfmTensorize:roi-only is set.
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64 ("frames-skipped", "Frames skipped",
          "Frames without a region of interest skipped since start (roi-only)", 0, G_MAXUINT64,
          0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM video tensorizer",
      "Filter/Converter/Video/Tensor",
      "Turns video frames, or their regions of interest, into labelled batches of resized, "
      "normalised images, as ncfmdatasetsrc delivers them",
      "gst-ncfm developers");

  base_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_stop);
  base_class->transform_caps = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_transform_caps);
  base_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_set_caps);
  base_class->propose_allocation = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_propose_allocation);
  base_class->decide_allocation = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_decide_allocation);
  base_class->query = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_src_query);
  base_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_submit_input_buffer);
  base_class->generate_output = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_generate_output);
  base_class->sink_event = GST_DEBUG_FUNCPTR (gst_ncfm_tensorize_sink_event);
  base_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_TENSORIZE_DATASET, 0);
}

static void
gst_ncfm_tensorize_init (GstNcfmTensorize *self)
{
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
  self->channels = DEFAULT_CHANNELS;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->label = DEFAULT_LABEL;
  self->classes = DEFAULT_CLASSES;
  self->dataset = DEFAULT_DATASET;
  self->use_roi = DEFAULT_USE_ROI;
  self->drop_partial = DEFAULT_DROP_PARTIAL;
  self->unlabeled = DEFAULT_UNLABELED;
  self->roi_only = DEFAULT_ROI_ONLY;
  self->aspect_crop = DEFAULT_ASPECT_CROP;
  gst_video_info_init (&self->vinfo);
}
