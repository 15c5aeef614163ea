/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmevaluate
 * @title: ncfmevaluate
 * @short_description: test accuracy of a trained classifier
 *
 * A sink that runs a trained model (#GstNcfmEvaluate:weights, any
 * architecture #NcfmModel knows: the file's metadata names it) in
 * evaluation mode (BatchNorm uses its running statistics) over a stream of
 * labelled image batches, usually the test split from ncfmdatasetsrc, and
 * counts top-1, top-5 and per-class accuracy.
 *
 * At EOS it posts an element message "ncfm-accuracy" with fields label
 * (string, #GstNcfmEvaluate:label), weights (string), top1 and top5
 * (gdouble, percent; top5 is top-K when the model has K < 5 classes),
 * count (guint64, images scored), num-classes (guint), per-class (a
 * #GstValueArray of gdouble, the top-1 accuracy of each class in percent,
 * NaN for a class without images) and per-class-count (#GstValueArray of
 * guint64), and prints one summary line on stdout (unless
 * #GstNcfmEvaluate:silent), e.g.
 * `ncfmevaluate: synset IPC10 repeat 2: top-1 81.52 %, top-5 99.12 % of 10000 images (10 classes)`.
 *
 * Unreadable weights, or weights with a NaN or an infinity (which would
 * still score), fail the state change with a message naming the file (and
 * the tensor);
 * images of another shape than the model takes, a class count of the
 * stream's #NcfmBatchMeta other than the model's, or a label outside the
 * model's classes fail the stream with both numbers in the message.  EOS
 * without any image is an error too.
 *
 * Input memory of other elements (an appsrc, NNStreamer: plain system
 * memory) is copied once per buffer to the default device ($NCFM_DEVICE,
 * else auto), checked against the caps (its size gives the batch's N, at
 * most the caps' B).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc split=test mode=mixed batch-size=500 shuffle=false ! ncfmevaluate weights=premodel0_trained.safetensors label="premodel 0"
 * ]| The Fashion-MNIST test accuracy of a trained pool member.
 */
#include "gstncfmevaluate.h"

#include <math.h>
#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmclassifier.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_evaluate_debug);
#define GST_CAT_DEFAULT gst_ncfm_evaluate_debug

#define DEFAULT_WEIGHTS NULL
#define DEFAULT_LABEL ""
#define DEFAULT_SILENT FALSE
#define TOP_K 5

enum {
  PROP_0,
  PROP_WEIGHTS,
  PROP_LABEL,
  PROP_SILENT,
};

struct _GstNcfmEvaluate {
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *weights, *label;
  gboolean silent;

  /* streaming state, from start() to stop(); the property values at start */
  gchar *s_weights, *s_label;
  gboolean s_silent;
  NcfmSafetensors *file;
  NcfmModel *model;           /* on the CPU from start, moved to the stream's device */
  NcfmActivations *acts;
  guint k, c, h, w;           /* the model's classes and input shape */
  GstNcfmTensorsInfo in_info; /* from the caps */
  NcfmDevice *import_device;  /* where memory of non-ncfm elements is copied */
  gboolean checked_meta;
  gboolean failed;            /* an error was posted: EOS adds none of its own */
  guint64 count, top1, top5;
  guint64 *class_correct, *class_count;   /* [k] */
  gfloat *logits;             /* host copy of one batch's logits */
  gsize logits_len;
};

#define gst_ncfm_evaluate_parent_class parent_class
G_DEFINE_FINAL_TYPE (GstNcfmEvaluate, gst_ncfm_evaluate, GST_TYPE_BASE_SINK)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmevaluate, "ncfmevaluate", GST_RANK_NONE,
    GST_TYPE_NCFM_EVALUATE,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_evaluate_debug, "ncfmevaluate", 0,
        "ncfm classifier evaluation"));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

static void
clear_state (GstNcfmEvaluate *self)
{
  g_clear_object (&self->model);
  g_clear_object (&self->acts);
  g_clear_object (&self->file);
  g_clear_object (&self->import_device);
  g_clear_pointer (&self->s_weights, g_free);
  g_clear_pointer (&self->s_label, g_free);
  g_clear_pointer (&self->class_correct, g_free);
  g_clear_pointer (&self->class_count, g_free);
  g_clear_pointer (&self->logits, g_free);
  self->logits_len = 0;
  self->count = self->top1 = self->top5 = 0;
  self->checked_meta = FALSE;
  self->failed = FALSE;
}

static gboolean
gst_ncfm_evaluate_start (GstBaseSink *sink)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (sink);
  g_autoptr (GError) error = NULL;
  clear_state (self);
  GST_OBJECT_LOCK (self);
  self->s_weights = g_strdup (self->weights);
  self->s_label = g_strdup (self->label ? self->label : "");
  self->s_silent = self->silent;
  GST_OBJECT_UNLOCK (self);

  if (!self->s_weights || !*self->s_weights) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No weights to evaluate"),
        ("property weights is required"));
    return FALSE;
  }
  if (!(self->file = gst_ncfm_load_weights (GST_ELEMENT (self), self->s_weights, "weights")))
    return FALSE;
  /* built now, so a file that is no model fails the state change */
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  if (!cpu || !(self->model = ncfm_model_new_from_safetensors (cpu, self->file, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot build a model from %s (property "
            "weights): %s", self->s_weights, error->message), (NULL));
    return FALSE;
  }
  ncfm_model_set_training (self->model, FALSE);
  ncfm_model_get_input_shape (self->model, &self->c, &self->h, &self->w);
  self->k = ncfm_model_get_num_classes (self->model);
  self->class_correct = g_new0 (guint64, self->k);
  self->class_count = g_new0 (guint64, self->k);
  self->acts = ncfm_activations_new ();
  GST_INFO_OBJECT (self, "%s: a %s of %u classes on [%u,%u,%u] images", self->s_weights,
      ncfm_model_get_architecture (self->model), self->k, self->c, self->h, self->w);
  return TRUE;
}

static gboolean
gst_ncfm_evaluate_stop (GstBaseSink *sink)
{
  clear_state (GST_NCFM_EVALUATE (sink));
  return TRUE;
}

static gboolean
gst_ncfm_evaluate_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (sink);
  guint c, h, w;
  if (!gst_ncfm_image_batch_caps (GST_ELEMENT (self), caps, &c, &h, &w)
      || !gst_ncfm_tensors_info_from_caps (&self->in_info, caps, NULL))
    return FALSE;
  if (c != self->c || h != self->h || w != self->w) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The model of %s (property weights) takes images "
            "of [%u,%u,%u] (C,H,W) but the stream has [%u,%u,%u]", self->s_weights, self->c,
            self->h, self->w, c, h, w), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* On the first buffer: the stream's classes agree with the model's; the
 * model moves to the stream's device. */
static gboolean
check_first_buffer (GstNcfmEvaluate *self, GstBuffer *buf, NcfmDevice *dev)
{
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  if (bm && bm->num_classes != self->k) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The model of %s (property weights) has %u "
            "classes but the stream has %u", self->s_weights, self->k, bm->num_classes), (NULL));
    return FALSE;
  }
  /* a model runs on images of its own device object only */
  if (dev != ncfm_model_get_device (self->model)) {
    g_autoptr (NcfmModel) m = gst_ncfm_model_for_stream (GST_ELEMENT (self), dev, self->file,
        "weights", self->c, self->h, self->w, self->k);
    if (!m)
      return FALSE;
    ncfm_model_set_training (m, FALSE);
    g_set_object (&self->model, m);
  }
  GST_DEBUG_OBJECT (self, "evaluating on %s", ncfm_device_get_name (dev));
  self->checked_meta = TRUE;
  return TRUE;
}

static GstFlowReturn
render_batch (GstBaseSink *sink, GstBuffer *buf)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (sink);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) images = NULL;
  g_autoptr (NcfmTensor) labels = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), buf, &self->in_info,
          &self->import_device, &images, &labels))
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (images);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (!self->checked_meta && !check_first_buffer (self, buf, dev))
    return GST_FLOW_ERROR;
  if (dev != ncfm_model_get_device (self->model)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The input moved from device %s to another, %s",
            ncfm_device_get_name (ncfm_model_get_device (self->model)),
            ncfm_device_get_name (dev)), (NULL));
    return GST_FLOW_ERROR;
  }
  const guint n = (guint) ncfm_tensor_get_dim (images, 0);
  g_autofree gint32 *y = g_new (gint32, n);
  ncfm_tensor_download (labels, y, n * sizeof (gint32));
  if (!ncfm_classifier_check_labels (y, n, self->k, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s (model %s, property weights)", error->message,
            self->s_weights), (NULL));
    return GST_FLOW_ERROR;
  }
  if (!ncfm_model_forward (self->model, images, self->acts, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Forward pass failed: %s", error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  if (self->logits_len < (gsize) n * self->k) {
    self->logits_len = (gsize) n * self->k;
    self->logits = g_renew (gfloat, self->logits, self->logits_len);
  }
  ncfm_tensor_download (ncfm_activations_get_logits (self->acts), self->logits,
      (gsize) n * self->k * sizeof (gfloat));
  for (guint i = 0; i < n; i++) {
    const guint rank = ncfm_classifier_label_rank (self->logits + (gsize) i * self->k, self->k, y[i]);
    self->top1 += rank == 0;
    self->top5 += rank < TOP_K;
    self->class_correct[y[i]] += rank == 0;
    self->class_count[y[i]]++;
  }
  self->count += n;
  GST_LOG_OBJECT (self, "%" G_GUINT64_FORMAT " images scored, %" G_GUINT64_FORMAT " top-1 "
      "correct", self->count, self->top1);
  return GST_FLOW_OK;
}

/* The ncfm-accuracy message and the summary line. */
static void
post_accuracy (GstNcfmEvaluate *self)
{
  const gdouble top1 = 100.0 * self->top1 / self->count, top5 = 100.0 * self->top5 / self->count;
  GValue per_class = G_VALUE_INIT, per_count = G_VALUE_INIT;
  gst_value_array_init (&per_class, self->k);
  gst_value_array_init (&per_count, self->k);
  for (guint c = 0; c < self->k; c++) {
    GValue a = G_VALUE_INIT, b = G_VALUE_INIT;
    g_value_init (&a, G_TYPE_DOUBLE);
    g_value_set_double (&a, self->class_count[c] ? 100.0 * self->class_correct[c]
        / self->class_count[c] : NAN);
    gst_value_array_append_and_take_value (&per_class, &a);
    g_value_init (&b, G_TYPE_UINT64);
    g_value_set_uint64 (&b, self->class_count[c]);
    gst_value_array_append_and_take_value (&per_count, &b);
  }
  GstStructure *s = gst_structure_new ("ncfm-accuracy",
      "label", G_TYPE_STRING, self->s_label,
      "weights", G_TYPE_STRING, self->s_weights,
      "top1", G_TYPE_DOUBLE, top1,
      "top5", G_TYPE_DOUBLE, top5,
      "count", G_TYPE_UINT64, self->count,
      "num-classes", G_TYPE_UINT, self->k, NULL);
  gst_structure_take_value (s, "per-class", &per_class);
  gst_structure_take_value (s, "per-class-count", &per_count);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));

  g_autofree gchar *line = g_strdup_printf ("ncfmevaluate: %s%stop-1 %.2f %%, top-%u %.2f %% "
      "of %" G_GUINT64_FORMAT " images (%u classes)", self->s_label, *self->s_label ? ": " : "",
      top1, MIN (TOP_K, self->k), top5, self->count, self->k);
  GST_INFO_OBJECT (self, "%s", line);
  if (!self->s_silent)
    g_print ("%s\n", line);
}

/* A batch that failed has posted its error; the source's EOS that follows
 * must not add "no test images" in front of it (the first error is the one
 * gst-launch-1.0 and evaluate.sh show). */
static GstFlowReturn
gst_ncfm_evaluate_render (GstBaseSink *sink, GstBuffer *buf)
{
  const GstFlowReturn ret = render_batch (sink, buf);
  if (ret == GST_FLOW_ERROR)
    GST_NCFM_EVALUATE (sink)->failed = TRUE;
  return ret;
}

static gboolean
gst_ncfm_evaluate_event (GstBaseSink *sink, GstEvent *event)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (sink);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && !self->failed) {
    if (!self->count) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("No test images reached ncfmevaluate before "
              "EOS: no accuracy to report"), (NULL));
      gst_event_unref (event);
      return FALSE;
    }
    post_accuracy (self);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

static void
gst_ncfm_evaluate_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WEIGHTS:
      g_free (self->weights);
      self->weights = g_value_dup_string (value);
      break;
    case PROP_LABEL:
      g_free (self->label);
      self->label = g_value_dup_string (value);
      break;
    case PROP_SILENT:
      self->silent = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_evaluate_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WEIGHTS:
      g_value_set_string (value, self->weights);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_SILENT:
      g_value_set_boolean (value, self->silent);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_evaluate_finalize (GObject *object)
{
  GstNcfmEvaluate *self = GST_NCFM_EVALUATE (object);
  clear_state (self);
  g_free (self->weights);
  g_free (self->label);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_evaluate_class_init (GstNcfmEvaluateClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_ncfm_evaluate_set_property;
  gobject_class->get_property = gst_ncfm_evaluate_get_property;
  gobject_class->finalize = gst_ncfm_evaluate_finalize;

  /**
   * GstNcfmEvaluate:weights:
   *
   * The trained model: a weights file written by ncfmtrain (or
   * ncfm_model_save()); its metadata names the architecture.  Required.
   */
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_string ("weights", "Weights",
          "Trained weights file to evaluate (.safetensors; the architecture is in its metadata)",
          DEFAULT_WEIGHTS, PARAM_FLAGS));
  /**
   * GstNcfmEvaluate:label:
   *
   * Free text copied into the ncfm-accuracy message and the summary line,
   * e.g. "synset IPC10 repeat 2".
   */
  g_object_class_install_property (gobject_class, PROP_LABEL,
      g_param_spec_string ("label", "Label",
          "Free text for the ncfm-accuracy message and summary line (e.g. \"IPC10 repeat 2\")",
          DEFAULT_LABEL, PARAM_FLAGS));
  /**
   * GstNcfmEvaluate:silent:
   *
   * Do not print the summary line on stdout (the message is still posted).
   */
  g_object_class_install_property (gobject_class, PROP_SILENT,
      g_param_spec_boolean ("silent", "Silent", "Do not print the summary line on stdout",
          DEFAULT_SILENT, PARAM_FLAGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "NCFM classifier evaluation",
      "Sink/Tensor",
      "Runs a trained classifier over labelled image batches and reports top-1, top-5 and "
      "per-class accuracy at EOS", "gst-ncfm developers");
  sink_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_evaluate_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_evaluate_stop);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_evaluate_set_caps);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_ncfm_evaluate_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_ncfm_evaluate_event);
}

static void
gst_ncfm_evaluate_init (GstNcfmEvaluate *self)
{
  self->weights = g_strdup (DEFAULT_WEIGHTS);
  self->label = g_strdup (DEFAULT_LABEL);
  self->silent = DEFAULT_SILENT;
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
