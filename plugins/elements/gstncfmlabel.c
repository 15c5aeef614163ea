/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmlabel
 * @title: ncfmlabel
 * @short_description: labels image batches with a trained classifier's arg-max
 *
 * Runs a trained classifier (#GstNcfmLabel:weights: any model file libncfm
 * reads, an ncfmtrain output, a pool member, a converted PyTorch ConvNet or
 * ResNet-AP) on every image of a labelled image batch (the stream of
 * ncfmtensorize, usually with unlabeled=true: whole frames or a detector's
 * regions of interest) and replaces each label with the model's arg-max
 * class (#NcfmLabeller).  An image whose softmax confidence is below
 * #GstNcfmLabel:min-confidence, or whose arg-max is not one of
 * #GstNcfmLabel:classes, is dropped: it keeps its place in the batch (the
 * caps fix B) with label -1, "no label", which ncfmgather skips.  Images and
 * every meta pass unchanged; a batch meta's class id becomes the batch's one
 * label, or -1.
 *
 * After every batch an element message "ncfm-label" goes on the bus with the
 * counts since start: `batches` (guint64), `kept` and `dropped` (guint64),
 * and per class (by the model's arg-max) `class-kept` and `class-dropped`
 * (arrays of guint64), and `dropped-busy` and `dropped-busy-images` (guint64,
 * see below); the batch's own counts go to GST_DEBUG.
 *
 * With #GstNcfmLabel:when-busy=drop the classifier runs in a thread of the
 * element's own, so that a live source is never paced by a model slower than
 * its frame rate (nor by a slow chain behind ncfmlabel): a batch arriving
 * waits in a one-batch mailbox and the source's push returns at once; a
 * batch still waiting when the next one arrives is dropped whole (not
 * labelled, not pushed) and counted in `dropped-busy` (batches) and
 * `dropped-busy-images`.  Every batch pushed is labelled exactly as with the
 * default when-busy=wait; events (EOS included) follow the batches accepted
 * before them.
 *
 * The model must take the stream's images ([C, H, W] of the caps) and have
 * the stream's number of classes (the batch meta's, from ncfmtensorize's
 * classes or class-names): otherwise an error names property weights.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=64 ! videoconvert ! ncfmtensorize unlabeled=true classes=10 width=28 height=28 channels=1 dataset=fashion-mnist batch-size=16 ! ncfmlabel weights=model.safetensors min-confidence=0.5 ! ncfmgather batch-size=16 ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=256 ! ncfmdistill location=camera-synset.safetensors ipc=1
 * ]| Distils whatever classes the model sees in 64 test frames.
 */
#include "gstncfmlabel.h"

#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmclassifier.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_label_debug);
#define GST_CAT_DEFAULT gst_ncfm_label_debug

#define DEFAULT_MIN_CONFIDENCE 0.0
#define DEFAULT_WHEN_BUSY GST_NCFM_LABEL_WAIT

typedef enum {
  GST_NCFM_LABEL_WAIT,
  GST_NCFM_LABEL_DROP,
} GstNcfmLabelWhenBusy;

#define GST_TYPE_NCFM_LABEL_WHEN_BUSY (gst_ncfm_label_when_busy_get_type ())
static GType
gst_ncfm_label_when_busy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_NCFM_LABEL_WAIT, "Label in the upstream thread: a slow model paces the source",
      "wait" },
    { GST_NCFM_LABEL_DROP, "Label in a thread of its own: a batch arriving while the "
      "previous one still waits is dropped and counted", "drop" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmLabelWhenBusy", values));
  return type;
}

enum {
  PROP_0,
  PROP_WEIGHTS,
  PROP_MIN_CONFIDENCE,
  PROP_CLASSES,
  PROP_DEVICE,
  PROP_WHEN_BUSY,
};

struct _GstNcfmLabel {
  GstBaseTransform parent;

  /* properties, under the object lock; read in start() */
  gchar *weights, *classes, *device;
  gdouble min_confidence;
  GstNcfmLabelWhenBusy when_busy;

  /* from start() to stop(), the streaming thread's */
  gboolean started;
  gchar *s_weights, *s_classes;
  NcfmLabeller *labeller;      /* on the device of the input tensors */
  NcfmDevice *import_device;   /* foreign memory lands here */
  GstNcfmTensorsInfo in_info;
  gboolean checked;            /* the first buffer's classes were checked */
  guint k;
  guint64 batches, *kept, *dropped;

  /* when-busy=drop: the upstream thread leaves a batch in `mailbox`, the worker takes it
   * and runs the base class's chain (label, push); all below under `mailbox_lock` */
  gboolean drop_when_busy;     /* set in start() */
  GstPadChainFunction base_chain;
  GstPadEventFunction base_event;
  GMutex mailbox_lock;
  GCond mailbox_cond;
  GThread *worker;
  GstBuffer *mailbox;
  gboolean busy, flushing, quit;
  GstFlowReturn worker_flow;   /* the last push's, given back to upstream */
  guint64 dropped_busy, dropped_busy_images;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

#define gst_ncfm_label_parent_class parent_class
G_DEFINE_FINAL_TYPE (GstNcfmLabel, gst_ncfm_label, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmlabel, "ncfmlabel", GST_RANK_NONE,
    GST_TYPE_NCFM_LABEL,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_label_debug, "ncfmlabel", 0,
        "ncfm labels from a classifier"));

/* The classifier of the weights file on `dev`, in a labeller; posts the error. */
static NcfmLabeller *
load_labeller (GstNcfmLabel *self, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmModel) model = ncfm_model_new_from_file (dev, self->s_weights, &error);
  if (!model) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot load the classifier %s (property "
            "weights): %s", self->s_weights, error->message), (NULL));
    return NULL;
  }
  NcfmLabeller *labeller = ncfm_labeller_new (model);
  GST_OBJECT_LOCK (self);
  ncfm_labeller_set_min_confidence (labeller, self->min_confidence);
  GST_OBJECT_UNLOCK (self);
  return labeller;
}

/* when-busy=drop: takes each batch from the mailbox and labels and pushes it with the base
 * class's chain function, as the upstream thread does with when-busy=wait. */
static gpointer
label_worker (gpointer data)
{
  GstNcfmLabel *self = data;
  GstPad *sinkpad = GST_BASE_TRANSFORM_SINK_PAD (self);
  g_mutex_lock (&self->mailbox_lock);
  for (;;) {
    while (!self->mailbox && !self->quit)
      g_cond_wait (&self->mailbox_cond, &self->mailbox_lock);
    if (self->quit)
      break;
    GstBuffer *buf = g_steal_pointer (&self->mailbox);
    self->busy = TRUE;
    g_mutex_unlock (&self->mailbox_lock);
    const GstFlowReturn flow = self->base_chain (sinkpad, GST_OBJECT (self), buf);
    g_mutex_lock (&self->mailbox_lock);
    self->busy = FALSE;
    /* a flush's FLUSHING is the flush's business, not the next buffer's */
    if (flow != GST_FLOW_OK && !self->flushing && self->worker_flow == GST_FLOW_OK)
      self->worker_flow = flow;
    g_cond_broadcast (&self->mailbox_cond);
  }
  g_mutex_unlock (&self->mailbox_lock);
  return NULL;
}

/* when-busy=drop: leaves the batch in the mailbox, dropping the one still there. */
static GstFlowReturn
gst_ncfm_label_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (parent);
  if (!self->drop_when_busy)
    return self->base_chain (pad, parent, buf);
  g_mutex_lock (&self->mailbox_lock);
  const GstFlowReturn flow = self->flushing ? GST_FLOW_FLUSHING : self->worker_flow;
  if (flow != GST_FLOW_OK) {
    g_mutex_unlock (&self->mailbox_lock);
    gst_buffer_unref (buf);
    return flow;
  }
  if (self->mailbox) {
    self->dropped_busy++;
    self->dropped_busy_images += self->in_info.n_tensors ? self->in_info.tensors[0].shape[0] : 0;
    GST_DEBUG_OBJECT (self, "busy: dropped a batch (%" G_GUINT64_FORMAT " so far)",
        self->dropped_busy);
    gst_buffer_unref (self->mailbox);
  }
  self->mailbox = buf;
  g_cond_broadcast (&self->mailbox_cond);
  g_mutex_unlock (&self->mailbox_lock);
  return GST_FLOW_OK;
}

/* when-busy=drop: a flush empties the mailbox; other serialized events wait until the
 * batches accepted before them are pushed, so that EOS, caps and segments stay in order. */
static gboolean
gst_ncfm_label_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (parent);
  if (!self->drop_when_busy)
    return self->base_event (pad, parent, event);
  g_mutex_lock (&self->mailbox_lock);
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START) {
    self->flushing = TRUE;
    gst_clear_buffer (&self->mailbox);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    while (self->busy)
      g_cond_wait (&self->mailbox_cond, &self->mailbox_lock);
    self->flushing = FALSE;
    self->worker_flow = GST_FLOW_OK;
  } else if (GST_EVENT_IS_SERIALIZED (event)) {
    while ((self->mailbox || self->busy) && !self->flushing && !self->quit)
      g_cond_wait (&self->mailbox_cond, &self->mailbox_lock);
  }
  g_mutex_unlock (&self->mailbox_lock);
  return self->base_event (pad, parent, event);
}

static gboolean
gst_ncfm_label_start (GstBaseTransform *trans)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (trans);
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  g_autofree gchar *device = g_strdup (self->device);
  self->s_weights = g_strdup (self->weights);
  self->s_classes = g_strdup (self->classes);
  GST_OBJECT_UNLOCK (self);
  if (!self->s_weights || !*self->s_weights) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property weights is not set: ncfmlabel "
            "needs a trained classifier"), (NULL));
    return FALSE;
  }
  g_autoptr (NcfmDevice) dev = ncfm_device_new (device, &error);
  if (!dev) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot use device \"%s\" (property device): "
            "%s", device ? device : g_getenv ("NCFM_DEVICE"), error->message), (NULL));
    return FALSE;
  }
  /* loaded here so that a bad file fails the start; rebuilt on the input's device */
  if (!(self->labeller = load_labeller (self, dev)))
    return FALSE;
  self->k = ncfm_model_get_num_classes (ncfm_labeller_get_model (self->labeller));
  self->kept = g_new0 (guint64, self->k);
  self->dropped = g_new0 (guint64, self->k);
  self->batches = 0;
  self->checked = FALSE;
  GST_OBJECT_LOCK (self);
  self->started = TRUE;
  self->drop_when_busy = self->when_busy == GST_NCFM_LABEL_DROP;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->mailbox_lock);
  self->busy = self->flushing = self->quit = FALSE;
  self->worker_flow = GST_FLOW_OK;
  self->dropped_busy = self->dropped_busy_images = 0;
  g_mutex_unlock (&self->mailbox_lock);
  if (self->drop_when_busy
      && !(self->worker = g_thread_try_new ("ncfmlabel", label_worker, self, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot start the labelling thread of "
            "when-busy=drop (property when-busy): %s", error->message), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_ncfm_label_stop (GstBaseTransform *trans)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (trans);
  g_mutex_lock (&self->mailbox_lock);
  self->quit = TRUE;
  gst_clear_buffer (&self->mailbox);
  g_cond_broadcast (&self->mailbox_cond);
  g_mutex_unlock (&self->mailbox_lock);
  /* the src pad is already deactivated (flushing): a push in progress returns at once */
  g_clear_pointer (&self->worker, g_thread_join);
  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  GST_OBJECT_UNLOCK (self);
  g_clear_object (&self->labeller);
  g_clear_object (&self->import_device);
  g_clear_pointer (&self->s_weights, g_free);
  g_clear_pointer (&self->s_classes, g_free);
  g_clear_pointer (&self->kept, g_free);
  g_clear_pointer (&self->dropped, g_free);
  return TRUE;
}

static gboolean
gst_ncfm_label_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (trans);
  g_autoptr (GError) error = NULL;
  (void) outcaps;
  guint c, h, w, mc, mh, mw;
  if (!gst_ncfm_image_batch_caps (GST_ELEMENT (self), incaps, &c, &h, &w)
      || !gst_ncfm_tensors_info_from_caps (&self->in_info, incaps, &error))
    return FALSE;
  ncfm_model_get_input_shape (ncfm_labeller_get_model (self->labeller), &mc, &mh, &mw);
  if (mc != c || mh != h || mw != w) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The classifier %s (property weights) takes "
            "images of [%u,%u,%u] (C,H,W) but the stream has [%u,%u,%u]", self->s_weights, mc,
            mh, mw, c, h, w), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* The class subset: ids or the meta's class names, comma separated. */
static gboolean
apply_classes (GstNcfmLabel *self, const NcfmBatchMeta *meta)
{
  g_autoptr (GError) error = NULL;
  if (!self->s_classes || !*self->s_classes)
    return TRUE;
  g_auto (GStrv) tokens = g_strsplit (self->s_classes, ",", -1);
  const guint n = g_strv_length (tokens);
  g_autofree guint *ids = g_new (guint, MAX (n, 1u));
  for (guint i = 0; i < n; i++) {
    const gchar *t = g_strstrip (tokens[i]);
    guint64 id = G_MAXUINT64;
    if (!g_ascii_string_to_unsigned (t, 10, 0, G_MAXUINT, &id, NULL))
      for (guint j = 0; meta && j < meta->num_classes; j++)
        if (g_ascii_strcasecmp (t, meta->class_names[j]) == 0)
          id = j;
    if (id >= self->k) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid classes \"%s\" (property "
              "classes): \"%s\" is neither a class id below %u nor a class name of the stream",
              self->s_classes, t, self->k), (NULL));
      return FALSE;
    }
    ids[i] = (guint) id;
  }
  if (!ncfm_labeller_set_classes (self->labeller, ids, n, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid classes \"%s\" (property classes): "
            "%s", self->s_classes, error->message), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* First buffer: the model on the input's device, its classes against the stream's. */
static gboolean
check_first (GstNcfmLabel *self, GstBuffer *buf, NcfmDevice *dev)
{
  if (ncfm_model_get_device (ncfm_labeller_get_model (self->labeller)) != dev) {
    NcfmLabeller *moved = load_labeller (self, dev);
    if (!moved)
      return FALSE;
    g_object_unref (self->labeller);
    self->labeller = moved;
  }
  const NcfmBatchMeta *meta = gst_buffer_get_ncfm_batch_meta (buf);
  if (meta && meta->num_classes != self->k) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The classifier %s (property weights) has %u "
            "classes but the stream has %u (ncfmtensorize's classes or class-names)",
            self->s_weights, self->k, meta->num_classes), (NULL));
    return FALSE;
  }
  if (!apply_classes (self, meta))
    return FALSE;
  self->checked = TRUE;
  return TRUE;
}

static void
post_counts (GstNcfmLabel *self, guint n, const guint *batch_kept, const guint *batch_dropped)
{
  GValue kept = G_VALUE_INIT, dropped = G_VALUE_INIT, v = G_VALUE_INIT;
  guint64 total_kept = 0, total_dropped = 0;
  gst_value_array_init (&kept, self->k);
  gst_value_array_init (&dropped, self->k);
  g_value_init (&v, G_TYPE_UINT64);
  g_autoptr (GString) line = g_string_new (NULL);
  for (guint c = 0; c < self->k; c++) {
    total_kept += self->kept[c];
    total_dropped += self->dropped[c];
    g_value_set_uint64 (&v, self->kept[c]);
    gst_value_array_append_value (&kept, &v);
    g_value_set_uint64 (&v, self->dropped[c]);
    gst_value_array_append_value (&dropped, &v);
    if (batch_kept[c] || batch_dropped[c])
      g_string_append_printf (line, " %u:%u/%u", c, batch_kept[c], batch_dropped[c]);
  }
  GST_DEBUG_OBJECT (self, "batch %" G_GUINT64_FORMAT " of %u, class:kept/dropped%s",
      self->batches, n, line->str);
  GstStructure *s = gst_structure_new ("ncfm-label", "batches", G_TYPE_UINT64, self->batches,
      "kept", G_TYPE_UINT64, total_kept, "dropped", G_TYPE_UINT64, total_dropped, NULL);
  g_mutex_lock (&self->mailbox_lock);
  gst_structure_set (s, "dropped-busy", G_TYPE_UINT64, self->dropped_busy,
      "dropped-busy-images", G_TYPE_UINT64, self->dropped_busy_images, NULL);
  g_mutex_unlock (&self->mailbox_lock);
  gst_structure_take_value (s, "class-kept", &kept);
  gst_structure_take_value (s, "class-dropped", &dropped);
  g_value_unset (&v);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static GstFlowReturn
gst_ncfm_label_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (trans);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) images = NULL, labels_in = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), buf, &self->in_info,
          &self->import_device, &images, &labels_in))
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (images);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (!self->checked && !check_first (self, buf, dev))
    return GST_FLOW_ERROR;
  g_autofree gint32 *labels = NULL, *predicted = NULL;
  guint n = 0;
  if (!ncfm_labeller_label (self->labeller, images, &labels, &predicted, NULL, &n, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("The classifier %s (property weights) failed: %s",
            self->s_weights, error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  const gint64 shape[1] = { n };
  g_autoptr (NcfmTensor) out = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, shape, 1,
      (const guint8 *) labels, n * sizeof (gint32), &error);
  if (!out) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot store the labels: %s",
            error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: the labels must be complete when pushed */
  ncfm_device_synchronize (dev);
  gst_buffer_replace_memory (buf, 1, gst_ncfm_tensor_memory_new (out));

  g_autofree guint *batch_kept = g_new0 (guint, self->k);
  g_autofree guint *batch_dropped = g_new0 (guint, self->k);
  for (guint i = 0; i < n; i++)
    (labels[i] >= 0 ? batch_kept : batch_dropped)[predicted[i]]++;
  for (guint c = 0; c < self->k; c++) {
    self->kept[c] += batch_kept[c];
    self->dropped[c] += batch_dropped[c];
  }
  NcfmBatchMeta *meta = gst_buffer_get_ncfm_batch_meta (buf);
  if (meta) {
    meta->class_id = n ? labels[0] : -1;
    for (guint i = 1; i < n; i++)
      if (labels[i] != labels[0])
        meta->class_id = -1;
  }
  self->batches++;
  post_counts (self, n, batch_kept, batch_dropped);
  return GST_FLOW_OK;
}

static gchar **
string_property (GstNcfmLabel *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_WEIGHTS: return &self->weights;
    case PROP_CLASSES: return &self->classes;
    case PROP_DEVICE: return &self->device;
    default: return NULL;
  }
}

static void
gst_ncfm_label_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (object);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (self, prop_id);
  if (self->started) {
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
  } else if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
  } else if (prop_id == PROP_MIN_CONFIDENCE) {
    self->min_confidence = g_value_get_double (value);
  } else if (prop_id == PROP_WHEN_BUSY) {
    self->when_busy = g_value_get_enum (value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_label_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (object);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (self, prop_id);
  if (str)
    g_value_set_string (value, *str);
  else if (prop_id == PROP_MIN_CONFIDENCE)
    g_value_set_double (value, self->min_confidence);
  else if (prop_id == PROP_WHEN_BUSY)
    g_value_set_enum (value, self->when_busy);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_label_finalize (GObject *object)
{
  GstNcfmLabel *self = GST_NCFM_LABEL (object);
  gst_ncfm_label_stop (GST_BASE_TRANSFORM (self));
  g_free (self->weights);
  g_free (self->classes);
  g_free (self->device);
  g_mutex_clear (&self->mailbox_lock);
  g_cond_clear (&self->mailbox_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_label_class_init (GstNcfmLabelClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *base_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_label_set_property;
  gobject_class->get_property = gst_ncfm_label_get_property;
  gobject_class->finalize = gst_ncfm_label_finalize;

  /**
   * GstNcfmLabel:weights:
   *
   * The classifier: a model file (safetensors with the `ncfm.arch`
   * metadata, as ncfmtrain and ncfm_model_save() write).  Required.
   */
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_string ("weights", "Weights", "Model file of the classifier whose arg-max "
          "becomes the label (required)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmLabel:min-confidence:
   *
   * Softmax probability the arg-max needs; images below get label -1.
   */
  g_object_class_install_property (gobject_class, PROP_MIN_CONFIDENCE,
      g_param_spec_double ("min-confidence", "Minimum confidence",
          "Softmax probability of the arg-max below which an image is dropped (label -1)",
          0.0, 1.0, DEFAULT_MIN_CONFIDENCE, PARAM_FLAGS));
  /**
   * GstNcfmLabel:classes:
   *
   * Comma-separated class ids or class names of the stream ("0,3" or
   * "Sneaker,Bag"): images whose arg-max is another class get label -1.
   * Unset: every class.
   */
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes", "Comma-separated class ids or names to keep; "
          "other arg-max classes are dropped (unset: all)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmLabel:device:
   *
   * Where the weights are checked at start: "auto", "cpu" or "cuda:N"
   * (unset: $NCFM_DEVICE, or auto).  The model then runs where the input
   * tensors are.
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device", "Device the weights are loaded on at start: "
          "auto, cpu or cuda:N (unset: $NCFM_DEVICE or auto); the model follows the input",
          NULL, PARAM_FLAGS));
  /**
   * GstNcfmLabel:when-busy:
   *
   * What a batch arriving while the classifier is busy does: "wait" (the
   * upstream thread labels it, a slow model paces a live source) or "drop"
   * (the element's own thread labels; a batch not yet taken when the next
   * one arrives is dropped and counted in the "ncfm-label" message's
   * `dropped-busy`).
   */
  g_object_class_install_property (gobject_class, PROP_WHEN_BUSY,
      g_param_spec_enum ("when-busy", "When busy", "What a batch arriving while the classifier "
          "is busy does: wait (paces the source) or drop (labelled in a thread of its own; "
          "the waiting batch is dropped and counted)", GST_TYPE_NCFM_LABEL_WHEN_BUSY,
          DEFAULT_WHEN_BUSY, PARAM_FLAGS));
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_LABEL_WHEN_BUSY, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM classifier labeller",
      "Filter/Tensor", "Labels image batches with a trained classifier's arg-max; images below "
      "min-confidence or outside the classes get label -1", "gst-ncfm developers");

  base_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_label_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_label_stop);
  base_class->set_caps = GST_DEBUG_FUNCPTR (gst_ncfm_label_set_caps);
  base_class->transform_ip = GST_DEBUG_FUNCPTR (gst_ncfm_label_transform_ip);
  base_class->passthrough_on_same_caps = FALSE;
}

static void
gst_ncfm_label_init (GstNcfmLabel *self)
{
  self->min_confidence = DEFAULT_MIN_CONFIDENCE;
  self->when_busy = DEFAULT_WHEN_BUSY;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  g_mutex_init (&self->mailbox_lock);
  g_cond_init (&self->mailbox_cond);
  /* wrapped for when-busy=drop; with wait they call straight through */
  GstPad *sinkpad = GST_BASE_TRANSFORM_SINK_PAD (self);
  self->base_chain = GST_PAD_CHAINFUNC (sinkpad);
  self->base_event = GST_PAD_EVENTFUNC (sinkpad);
  gst_pad_set_chain_function (sinkpad, GST_DEBUG_FUNCPTR (gst_ncfm_label_chain));
  gst_pad_set_event_function (sinkpad, GST_DEBUG_FUNCPTR (gst_ncfm_label_sink_event));
}
