/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmtrain
 * @title: ncfmtrain
 * @short_description: trains a classifier on labelled image batches
 *
 * A sink that trains a classifier (any #NcfmModel) on the image batches of
 * ncfmdatasetsrc, usually after `ncfmaugment mode=per-sample` (the per-image
 * DSA of the method's training): one optimizer step per buffer of images
 * F32 [B, C, H, W] and labels I32 [B].  This is how the model pool of the
 * distillation is pretrained on real data, and how a synthetic set is
 * evaluated (train on it here, test with ncfmevaluate).
 *
 * The model is a fresh #GstNcfmTrain:arch of #GstNcfmTrain:depth,
 * #GstNcfmTrain:width and #GstNcfmTrain:norm initialised from
 * #GstNcfmTrain:seed, or the weights of #GstNcfmTrain:init-weights (whose
 * metadata names the architecture).  It is built on the device of the first
 * buffer's tensors, with the classes of the stream's #NcfmBatchMeta (or
 * #GstNcfmTrain:num-classes) and the image shape of the caps, and trained
 * in training mode (BatchNorm uses batch statistics and updates its running
 * statistics).  Input memory of other elements (an appsrc, NNStreamer:
 * plain system memory) is copied once per buffer to the default device
 * ($NCFM_DEVICE, else auto), checked against the caps (its size gives the
 * batch's N, at most the caps' B); such a stream has no #NcfmBatchMeta, so
 * #GstNcfmTrain:num-classes must be set.
 *
 * Per buffer: optional CutMix (#GstNcfmTrain:cutmix; the targets mix like
 * the images), targets = the labels, or the softmax of the
 * #GstNcfmTrain:teacher on the same images (soft cross-entropy), softmax
 * cross-entropy, backward, and an SGD (momentum, weight decay) or AdamW
 * step (#GstNcfmTrain:optimizer) at the learning rate of
 * #GstNcfmTrain:schedule over #GstNcfmTrain:steps steps (by default the
 * upstream duration in buffers, which ncfmdatasetsrc answers from its
 * epochs).
 *
 * A run that diverges stops with an error at the first non-finite loss (the
 * weights are checked too, with each progress message and before every
 * save), naming the step and suggesting a lower #GstNcfmTrain:lr; its
 * #GstNcfmTrain:location is then not written.  Weights files with a NaN or
 * an infinity (#GstNcfmTrain:init-weights, #GstNcfmTrain:teacher) are
 * refused at start.
 *
 * #GstNcfmTrain:init-location receives the weights before the first step,
 * #GstNcfmTrain:location the trained weights at EOS; both are written
 * atomically (ncfm_model_save() format plus training metadata), so they form
 * a model pool member (`premodel{k}_init` / `premodel{k}_trained`) or the
 * input of ncfmevaluate.
 *
 * Every #GstNcfmTrain:progress-every steps, and at EOS, the element posts an
 * element message "ncfm-train" with fields step (guint64, steps taken),
 * steps (guint64, the schedule's length, 0 if unknown), epoch (guint64, of
 * the last batch, from its #NcfmBatchMeta), loss (gdouble, mean batch loss
 * since the last message), accuracy (gdouble, top-1 training accuracy in
 * percent over the same batches, scored before the step against the labels
 * the batch came with), lr (gdouble, of the last step) and images-per-second
 * (gdouble, over the same batches).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m ncfmdatasetsrc mode=mixed batch-size=128 epochs=2 ! ncfmaugment mode=per-sample strategy=color_crop_flip_scale_rotate ! ncfmtrain cutmix=0.5 init-location=premodel0_init.safetensors location=premodel0_trained.safetensors
 * ]| Trains a ConvNet-3 on Fashion-MNIST for two epochs, as one member of a model pool.
 */
#include "gstncfmtrain.h"

#include <math.h>
#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmclassifier.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"
#include "gstncfmtrainsettings.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_train_debug);
#define GST_CAT_DEFAULT gst_ncfm_train_debug

enum {
  PROP_MODEL = GST_NCFM_TRAIN_SETTINGS_N_PROPS + 1,
};

struct _GstNcfmTrain {
  GstBaseSink parent;

  GstNcfmTrainSettings props;  /* under the object lock */

  /* streaming state, from start() to stop() */
  GstNcfmTrainSettings s;      /* the properties at start */
  NcfmSafetensors *init_file, *teacher_file;
  GstNcfmTensorsInfo in_info; /* from the caps */
  guint in_c, in_h, in_w;
  NcfmDevice *import_device;  /* where memory of non-ncfm elements is copied */
  gchar *dataset;             /* of the first batch's meta, for the saved metadata */
  GMutex model_lock;          /* the model between steps, for the model property */
  NcfmModel *model, *teacher;
  NcfmTrainer *trainer;        /* the model's steps, with its optimizer and teacher */
  guint64 step, total_steps, epoch;
  gboolean diverged;          /* an error was posted: nothing is saved at EOS */
  gdouble lr_now;
  /* the window of the next progress message */
  gdouble loss_sum;
  guint64 win_steps, win_images, win_correct;
  gint64 win_start;
};

#define gst_ncfm_train_parent_class parent_class
G_DEFINE_FINAL_TYPE (GstNcfmTrain, gst_ncfm_train, GST_TYPE_BASE_SINK)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmtrain, "ncfmtrain", GST_RANK_NONE,
    GST_TYPE_NCFM_TRAIN,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_train_debug, "ncfmtrain", 0, "ncfm classifier training"));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

static gboolean
is_set (const gchar *path)
{
  return path && *path;
}

/* ---- start / stop ---- */

static void
clear_state (GstNcfmTrain *self)
{
  g_mutex_lock (&self->model_lock);
  g_clear_object (&self->model);
  g_mutex_unlock (&self->model_lock);
  g_clear_object (&self->teacher);
  g_clear_object (&self->trainer);
  g_clear_object (&self->init_file);
  g_clear_object (&self->teacher_file);
  g_clear_object (&self->import_device);
  g_clear_pointer (&self->dataset, g_free);
  self->step = self->total_steps = self->epoch = 0;
  self->diverged = FALSE;
  self->in_c = self->in_h = self->in_w = 0;
  self->loss_sum = 0.0;
  self->win_steps = self->win_images = self->win_correct = 0;
}

static gboolean
gst_ncfm_train_start (GstBaseSink *sink)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (sink);
  clear_state (self);
  GST_OBJECT_LOCK (self);
  gst_ncfm_train_settings_copy (&self->s, &self->props);
  GST_OBJECT_UNLOCK (self);
  self->s.lr = gst_ncfm_train_settings_get_lr (&self->s);
  GstElement *e = GST_ELEMENT (self);
  if (is_set (self->s.init_weights)
      && !(self->init_file = gst_ncfm_load_weights (e, self->s.init_weights, "init-weights")))
    return FALSE;
  if (is_set (self->s.teacher)
      && !(self->teacher_file = gst_ncfm_load_weights (e, self->s.teacher, "teacher")))
    return FALSE;
  if (!is_set (self->s.location))
    GST_WARNING_OBJECT (self, "no location set: the trained weights will not be saved");
  GST_INFO_OBJECT (self, "%s lr %g, schedule %s, cutmix %g, seed %" G_GUINT64_FORMAT,
      gst_ncfm_train_optimizer_nick (self->s.optimizer), self->s.lr,
      gst_ncfm_train_schedule_nick (self->s.schedule), self->s.cutmix,
      self->s.seed);
  return TRUE;
}

static gboolean
gst_ncfm_train_stop (GstBaseSink *sink)
{
  clear_state (GST_NCFM_TRAIN (sink));
  return TRUE;
}

/* The stream must be labelled image batches, of one image shape throughout. */
static gboolean
gst_ncfm_train_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (sink);
  guint c, h, w;
  if (!gst_ncfm_image_batch_caps (GST_ELEMENT (self), caps, &c, &h, &w)
      || !gst_ncfm_tensors_info_from_caps (&self->in_info, caps, NULL))
    return FALSE;
  if (self->model && (c != self->in_c || h != self->in_h || w != self->in_w)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The image shape changed mid-stream from "
            "[%u,%u,%u] to [%u,%u,%u]", self->in_c, self->in_h, self->in_w, c, h, w), (NULL));
    return FALSE;
  }
  self->in_c = c;
  self->in_h = h;
  self->in_w = w;
  return TRUE;
}

/* ---- the model ---- */

static NcfmModel *
new_model (GstNcfmTrain *self, NcfmDevice *dev, guint k, GError **error)
{
  const guint depth = gst_ncfm_train_settings_get_depth (&self->s);
  const guint width = gst_ncfm_train_settings_get_width (&self->s);
  return ncfm_model_new_for_architecture (gst_ncfm_train_settings_get_arch_name (&self->s), dev,
      self->in_c, self->in_h, self->in_w, k, depth, width, self->s.norm, self->s.seed, error);
}

/* Stops a diverged run (a non-finite loss, or weights checked with
 * @check_weights) with an error, before it saves NaN weights that a model
 * pool or an evaluation would then use. */
static gboolean
check_not_diverged (GstNcfmTrain *self, gdouble loss, gboolean check_weights)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *what = NULL;
  if (!isfinite (loss))
    what = g_strdup_printf ("the loss is %s", isnan (loss) ? "NaN" : loss > 0 ? "+inf" : "-inf");
  else if (check_weights && !ncfm_model_check_finite (self->model, &error))
    what = g_strdup_printf ("the weights are not finite (%s)", error->message);
  else
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training diverged at step %" G_GUINT64_FORMAT
          " (epoch %" G_GUINT64_FORMAT "): %s. Try a lower learning rate (property lr, %g)",
          self->step, self->epoch, what, self->s.lr), ("the weights are not saved%s%s%s",
          is_set (self->s.location) ? " (location " : "",
          is_set (self->s.location) ? self->s.location : "",
          is_set (self->s.location) ? " is left as it was)" : ""));
  self->diverged = TRUE;
  return FALSE;
}

/* The weights with what they were trained on and how, written atomically. */
static gboolean
save_model (GstNcfmTrain *self, const gchar *path, const gchar *property)
{
  g_autoptr (GError) error = NULL;
  if (!check_not_diverged (self, 0.0, TRUE))
    return FALSE;
  g_autoptr (NcfmSafetensors) st = ncfm_model_to_safetensors (self->model);
  g_autofree gchar *step = g_strdup_printf ("%" G_GUINT64_FORMAT, self->step);
  g_autofree gchar *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, self->s.seed);
  gchar lr[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_dtostr (lr, sizeof lr, self->s.lr);
  ncfm_safetensors_set_metadata (st, "ncfm.train.step", step);
  ncfm_safetensors_set_metadata (st, "ncfm.train.optimizer",
      gst_ncfm_train_optimizer_nick (self->s.optimizer));
  ncfm_safetensors_set_metadata (st, "ncfm.train.lr", lr);
  ncfm_safetensors_set_metadata (st, "ncfm.train.seed", seed);
  if (self->dataset)
    ncfm_safetensors_set_metadata (st, "ncfm.train.dataset", self->dataset);
  if (!ncfm_safetensors_save (st, path, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot save the weights to %s (property %s): "
            "%s", path, property, error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "saved the weights after %" G_GUINT64_FORMAT " steps to %s", self->step,
      path);
  return TRUE;
}

/* The run's length: the steps property, else the upstream duration in buffers. */
static guint64
resolve_total_steps (GstNcfmTrain *self)
{
  gint64 duration = -1;
  if (self->s.steps)
    return self->s.steps;
  if (gst_pad_peer_query_duration (GST_BASE_SINK_PAD (self), GST_FORMAT_DEFAULT, &duration)
      && duration > 0) {
    GST_INFO_OBJECT (self, "%" G_GINT64_FORMAT " steps, from the upstream duration", duration);
    return (guint64) duration;
  }
  if (self->s.schedule != NCFM_SCHEDULE_CONSTANT)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("The number of steps is unknown: the learning "
            "rate stays constant"), ("set property steps, or a source that answers duration "
            "queries in buffers (ncfmdatasetsrc with epochs > 0)"));
  return 0;
}

/* On the first buffer: the model, teacher and optimizer on the stream's device. */
static gboolean
setup_model (GstNcfmTrain *self, GstBuffer *buf, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  guint k = self->s.num_classes;
  if (bm && k && bm->num_classes != k) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Property num-classes is %u but the stream has %u "
            "classes", k, bm->num_classes), (NULL));
    return FALSE;
  }
  if (!k && !(k = bm ? bm->num_classes : 0)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The stream does not say how many classes there "
            "are (no NcfmBatchMeta)"), ("set property num-classes"));
    return FALSE;
  }
  self->dataset = bm ? g_strdup (bm->dataset_name) : NULL;

  g_autoptr (NcfmModel) model = NULL;
  if (self->init_file) {
    if (!(model = gst_ncfm_model_for_stream (GST_ELEMENT (self), dev, self->init_file,
                "init-weights", self->in_c, self->in_h, self->in_w, k)))
      return FALSE;
  } else if (!(model = new_model (self, dev, k, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot build the model for [%u,%u,%u] "
            "images and %u classes: %s", self->in_c, self->in_h, self->in_w, k, error->message),
        ("properties arch, depth, width, norm"));
    return FALSE;
  }
  ncfm_model_set_training (model, TRUE);
  if (self->teacher_file) {
    if (!(self->teacher = gst_ncfm_model_for_stream (GST_ELEMENT (self), dev,
                self->teacher_file, "teacher", self->in_c, self->in_h, self->in_w, k)))
      return FALSE;
    ncfm_model_set_training (self->teacher, FALSE);
  }
  g_autoptr (NcfmOptimizer) optimizer = ncfm_optimizer_new_for_model (model, self->s.optimizer,
      self->s.momentum, self->s.weight_decay, &error);
  if (!optimizer || !(self->trainer = ncfm_trainer_new (model, optimizer, self->teacher, NULL,
              self->s.cutmix, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot train this model: %s", error->message),
        ("property init-weights"));
    return FALSE;
  }
  g_mutex_lock (&self->model_lock);
  self->model = g_steal_pointer (&model);
  g_mutex_unlock (&self->model_lock);
  self->total_steps = resolve_total_steps (self);
  GST_INFO_OBJECT (self, "training a %s with %u classes on %s for %" G_GUINT64_FORMAT " steps",
      ncfm_model_get_architecture (self->model), k, ncfm_device_get_name (dev),
      self->total_steps);
  if (is_set (self->s.init_location) && !save_model (self, self->s.init_location,
          "init-location"))
    return FALSE;
  self->win_start = g_get_monotonic_time ();
  return TRUE;
}

/* ---- streaming ---- */

static void
post_progress (GstNcfmTrain *self)
{
  if (!self->win_steps)
    return;
  const gdouble secs = (g_get_monotonic_time () - self->win_start) / 1e6;
  const gdouble loss = self->loss_sum / self->win_steps;
  const gdouble acc = 100.0 * self->win_correct / MAX (self->win_images, 1);
  const gdouble ips = secs > 0 ? self->win_images / secs : 0.0;
  GST_DEBUG_OBJECT (self, "step %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ": loss %.4f, "
      "accuracy %.2f %%, lr %g, %.1f images/s", self->step, self->total_steps, loss, acc,
      self->lr_now, ips);
  GstStructure *s = gst_structure_new ("ncfm-train",
      "step", G_TYPE_UINT64, self->step,
      "steps", G_TYPE_UINT64, self->total_steps,
      "epoch", G_TYPE_UINT64, self->epoch,
      "loss", G_TYPE_DOUBLE, loss,
      "accuracy", G_TYPE_DOUBLE, acc,
      "lr", G_TYPE_DOUBLE, self->lr_now,
      "images-per-second", G_TYPE_DOUBLE, ips, NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  self->loss_sum = 0.0;
  self->win_steps = self->win_images = self->win_correct = 0;
  self->win_start = g_get_monotonic_time ();
}

static GstFlowReturn
gst_ncfm_train_render (GstBaseSink *sink, GstBuffer *buf)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (sink);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) images = NULL;
  g_autoptr (NcfmTensor) labels = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), buf, &self->in_info,
          &self->import_device, &images, &labels))
    return GST_FLOW_ERROR;
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  NcfmDevice *dev = ncfm_tensor_get_device (images);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (!self->model && !setup_model (self, buf, dev))
    return GST_FLOW_ERROR;
  if (dev != ncfm_model_get_device (self->model)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The input moved from device %s to another, %s",
            ncfm_device_get_name (ncfm_model_get_device (self->model)),
            ncfm_device_get_name (dev)), (NULL));
    return GST_FLOW_ERROR;
  }
  g_autofree gint32 *host_labels = g_new (gint32, n);
  ncfm_tensor_download (labels, host_labels, n * sizeof (gint32));
  if (!ncfm_classifier_check_labels (host_labels, (guint) n, ncfm_model_get_num_classes (self->model),
          &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Batch %" G_GUINT64_FORMAT ": %s", self->step,
            error->message), (NULL));
    return GST_FLOW_ERROR;
  }

  self->lr_now = ncfm_schedule_get_lr (self->s.schedule, self->s.lr, self->step,
      self->total_steps);
  gdouble loss = 0.0;
  guint correct = 0;
  g_mutex_lock (&self->model_lock);
  const gboolean ok = ncfm_trainer_step (self->trainer, images, labels,
      ncfm_trainer_step_seed (self->s.seed, self->step), (gfloat) self->lr_now, &loss, &correct,
      &error);
  g_mutex_unlock (&self->model_lock);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training step %" G_GUINT64_FORMAT " failed: %s",
            self->step + 1, error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  self->step++;
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  self->epoch = bm ? bm->epoch : 0;
  self->loss_sum += loss;
  self->win_steps++;
  self->win_images += (guint64) n;
  self->win_correct += correct;
  GST_LOG_OBJECT (self, "step %" G_GUINT64_FORMAT ": loss %g, %u/%" G_GINT64_FORMAT " correct",
      self->step, loss, correct, n);
  /* the loss every step; the weights (a copy from the device) with each progress message */
  const gboolean progress = self->s.progress_every && self->step % self->s.progress_every == 0;
  if (!check_not_diverged (self, loss, progress))
    return GST_FLOW_ERROR;
  if (progress)
    post_progress (self);
  return GST_FLOW_OK;
}

static gboolean
gst_ncfm_train_event (GstBaseSink *sink, GstEvent *event)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (sink);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->diverged) {
    gst_event_unref (event);
    return FALSE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    if (!self->model) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("No training batch reached ncfmtrain before "
              "EOS: nothing to train%s", is_set (self->s.location) ? " or save" : ""), (NULL));
      gst_event_unref (event);
      return FALSE;
    }
    post_progress (self);
    if (is_set (self->s.location) && !save_model (self, self->s.location, "location")) {
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* ---- GObject ---- */

/* A copy of the current weights (%NULL before the first buffer). */
static NcfmModel *
snapshot_model (GstNcfmTrain *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmModel) copy = NULL;
  g_mutex_lock (&self->model_lock);
  if (self->model && (copy = ncfm_model_new_like (self->model, NULL, 0, &error))
      && !ncfm_model_copy_parameters (copy, self->model, &error))
    g_clear_object (&copy);
  g_mutex_unlock (&self->model_lock);
  if (error)
    GST_WARNING_OBJECT (self, "cannot copy the model: %s", error->message);
  return g_steal_pointer (&copy);
}

static void
gst_ncfm_train_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (object);
  if (prop_id == 0 || prop_id > GST_NCFM_TRAIN_SETTINGS_N_PROPS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  gst_ncfm_train_settings_set (&self->props, prop_id, value);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_train_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (object);
  if (prop_id == PROP_MODEL) {
    g_value_take_object (value, snapshot_model (self));
  } else if (prop_id == 0 || prop_id > GST_NCFM_TRAIN_SETTINGS_N_PROPS) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  } else {
    GST_OBJECT_LOCK (self);
    gst_ncfm_train_settings_get (&self->props, prop_id, value);
    GST_OBJECT_UNLOCK (self);
  }
}

static void
gst_ncfm_train_finalize (GObject *object)
{
  GstNcfmTrain *self = GST_NCFM_TRAIN (object);
  clear_state (self);
  gst_ncfm_train_settings_clear (&self->props);
  gst_ncfm_train_settings_clear (&self->s);
  g_mutex_clear (&self->model_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_ncfm_train_class_init (GstNcfmTrainClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_ncfm_train_set_property;
  gobject_class->get_property = gst_ncfm_train_get_property;
  gobject_class->finalize = gst_ncfm_train_finalize;

  gst_ncfm_train_settings_install (gobject_class);
  /**
   * GstNcfmTrain:model:
   *
   * A copy of the model's current weights (%NULL before the first buffer),
   * e.g. to evaluate it from the application while it trains.
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_object ("model", "Model", "A copy of the current model (NULL before the "
          "first buffer)", NCFM_TYPE_MODEL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "NCFM classifier training",
      "Sink/Tensor",
      "Trains a classifier (ConvNet, or the model of a weights file) on labelled image "
      "batches with SGD or AdamW, CutMix and optional teacher soft labels, and saves its "
      "initial and trained weights", "gst-ncfm developers");
  sink_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_train_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_train_stop);
  sink_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_train_set_caps);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_ncfm_train_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_ncfm_train_event);
}

static void
gst_ncfm_train_init (GstNcfmTrain *self)
{
  gst_ncfm_train_settings_init (&self->props);
  g_mutex_init (&self->model_lock);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
