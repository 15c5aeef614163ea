/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmgather
 * @title: ncfmgather
 * @short_description: per-class batches out of a labelled stream, never stalling it
 *
 * Keeps a bounded reservoir of images per class (#NcfmReservoir: reservoir
 * sampling, #GstNcfmGather:capacity images per class, a uniform sample of
 * everything the class has shown) and emits per-class batches drawn from it:
 * class c gets a batch of #GstNcfmGather:batch-size distinct images once it
 * has that many stored and #GstNcfmGather:min-new images arrived since its
 * last batch; ready classes take turns.  The output is what ncfmdatasetsrc
 * mode=per-class delivers (F32 images [B, C, H, W] and I32 labels [B], all
 * c, with an #NcfmBatchMeta carrying the input's class names and mean/std
 * and class id c), so `ncfmaugment ! extractor ! ncfmcf ! ncfmdistill`
 * follows.  Images labelled -1 ("no label": ncfmtensorize unlabeled=true,
 * or dropped by ncfmlabel) are skipped.
 *
 * The two sides run apart: the sink side only inserts images into the
 * reservoir (a copy, under a short lock) and never waits for downstream;
 * the source pad runs its own streaming task that draws the batches and
 * pushes them.  A live source is thus never paced by the distiller: images
 * that arrive while a batch is pushed are reservoir-sampled (stored,
 * replacing a stored one, or discarded), never queued, and memory stays
 * within capacity x classes x image size.  At EOS every class with new
 * images gets one last (possibly smaller) batch, then EOS goes on.
 *
 * With #GstNcfmGather:location the reservoir is loaded at the first buffer
 * when the file exists (its classes, image shape and capacity must match
 * the stream and the properties) and written (atomically) at EOS and when
 * the element stops, so a restarted camera run resumes with it.
 *
 * An element message "ncfm-gather" reports, at most once a second and at
 * EOS: `buffers` (batches in), `samples`, `unlabeled`, `stored`, `replaced`, `discarded`,
 * `while-busy` (samples that arrived while a batch was being pushed),
 * `batches` (guint64), `realtime-factor` (gdouble: stream time of the
 * input per wall-clock time since the first buffer; about 1 for a live
 * source that is not held up), `lag` (gint64 ns: the clock's running time
 * minus the last input's, when a clock runs), `reservoir-bytes` (guint64)
 * and per class `class-stored` and `class-batches` (arrays of guint64).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true num-buffers=300 ! videoconvert ! ncfmtensorize unlabeled=true classes=10 width=28 height=28 channels=1 dataset=fashion-mnist batch-size=8 ! ncfmlabel weights=model.safetensors ! ncfmgather batch-size=16 capacity=128 location=reservoir.safetensors ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=256 ! ncfmdistill location=camera-synset.safetensors ipc=1
 * ]| Ten seconds of a live source into per-class batches for the distiller.
 */
#include "gstncfmgather.h"

#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmclassifier.h"
#include "gstncfmgather-private.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY (gst_ncfm_gather_debug);
#define GST_CAT_DEFAULT gst_ncfm_gather_debug

#define DEFAULT_CAPACITY 256
#define MAX_CAPACITY (1u << 24)
#define DEFAULT_BATCH_SIZE 64
#define MAX_BATCH_SIZE (1u << 20)
#define DEFAULT_MIN_NEW 16
#define DEFAULT_SEED 0

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_BATCH_SIZE,
  PROP_MIN_NEW,
  PROP_SEED,
  PROP_LOCATION,
  PROP_DEVICE,
};


static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

#define gst_ncfm_gather_parent_class parent_class
G_DEFINE_FINAL_TYPE (GstNcfmGather, gst_ncfm_gather, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmgather, "ncfmgather", GST_RANK_NONE,
    GST_TYPE_NCFM_GATHER,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_gather_debug, "ncfmgather", 0,
        "ncfm per-class reservoirs and batches"));

/* ---- the sink side: images into the reservoir ---- */

/* The first buffer: its meta gives the classes; the reservoir is made or loaded. */
static gboolean
setup_reservoir (GstNcfmGather *self, GstBuffer *buf)
{
  g_autoptr (GError) error = NULL;
  const NcfmBatchMeta *meta = gst_buffer_get_ncfm_batch_meta (buf);
  if (!meta || !meta->num_classes) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The input carries no NcfmBatchMeta: ncfmgather "
            "needs the classes of the stream (put it after ncfmtensorize, ncfmlabel or "
            "ncfmdatasetsrc)"), (NULL));
    return FALSE;
  }
  g_autoptr (NcfmReservoir) r = NULL;
  if (self->s_location && g_file_test (self->s_location, G_FILE_TEST_EXISTS)) {
    if (!(r = ncfm_reservoir_new_from_file (self->s_location, &error))) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot resume the reservoir %s (property "
              "location): %s", self->s_location, error->message), (NULL));
      return FALSE;
    }
    guint rc, rh, rw;
    ncfm_reservoir_get_sample_shape (r, &rc, &rh, &rw);
    if (ncfm_reservoir_get_num_classes (r) != meta->num_classes || rc != self->c
        || rh != self->h || rw != self->w || ncfm_reservoir_get_capacity (r) != self->s_capacity) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("The reservoir %s (property location) holds "
              "%u classes of [%u,%u,%u] with capacity %u, but the stream has %u classes of "
              "[%u,%u,%u] and property capacity is %u", self->s_location,
              ncfm_reservoir_get_num_classes (r), rc, rh, rw, ncfm_reservoir_get_capacity (r),
              meta->num_classes, self->c, self->h, self->w, self->s_capacity), (NULL));
      return FALSE;
    }
    GST_INFO_OBJECT (self, "resuming the reservoir %s", self->s_location);
  } else {
    r = ncfm_reservoir_new (meta->num_classes, self->s_capacity, self->c, self->h, self->w,
        self->s_seed);
  }
  g_mutex_lock (&self->lock);
  self->reservoir = g_steal_pointer (&r);
  self->class_names = g_strdupv (meta->class_names);
  self->channels = meta->channels;
  memcpy (self->mean, meta->mean, sizeof self->mean);
  memcpy (self->std, meta->std, sizeof self->std);
    g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* The input batch on the host, in host_images; NULL (error posted) when it does not fit. */
static const gint32 *
download_batch (GstNcfmGather *self, GstBuffer *buf, guint *n, gint32 **labels_out)
{
  g_autoptr (NcfmTensor) images = NULL, labels = NULL;
  if (!gst_ncfm_buffer_import_image_batch (GST_ELEMENT (self), buf, &self->in_info,
          &self->import_device, &images, &labels))
    return NULL;
  *n = (guint) ncfm_tensor_get_dim (images, 0);
  const gsize floats = (gsize) ncfm_tensor_get_numel (images);
  if (floats > self->host_capacity) {
    self->host_images = g_renew (gfloat, self->host_images, floats);
    self->host_capacity = floats;
  }
  *labels_out = g_new (gint32, MAX (*n, 1u));
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (ncfm_tensor_get_device (images));
  ncfm_tensor_download (images, self->host_images, floats * sizeof (gfloat));
  ncfm_tensor_download (labels, *labels_out, *n * sizeof (gint32));
  return *labels_out;
}

static GstFlowReturn
gst_ncfm_gather_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstNcfmGather *self = GST_NCFM_GATHER (parent);
  (void) pad;
  g_autoptr (GstBuffer) owned = buf;
  g_mutex_lock (&self->lock);
  GstFlowReturn ret = self->eos ? GST_FLOW_EOS : self->srcresult;
  const gboolean ready = self->reservoir != NULL;
  g_mutex_unlock (&self->lock);
  if (ret != GST_FLOW_OK)
    return ret;
  if (!ready && !setup_reservoir (self, buf))
    return GST_FLOW_ERROR;
  guint n = 0;
  g_autofree gint32 *labels = NULL;
  if (!download_batch (self, buf, &n, &labels))
    return GST_FLOW_ERROR;

  const gsize chw = (gsize) self->c * self->h * self->w;
  const guint k = ncfm_reservoir_get_num_classes (self->reservoir);
  for (guint i = 0; i < n; i++) {
    if (labels[i] >= (gint32) k) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Label %d of image %u is not a class of the "
              "stream (%u classes)", labels[i], i, k), (NULL));
      return GST_FLOW_ERROR;
    }
  }
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < n; i++) {
    if (labels[i] < 0) {
      self->stats.unlabeled++;
      continue;
    }
    const NcfmReservoirOutcome o = ncfm_reservoir_add (self->reservoir, (guint) labels[i],
        self->host_images + i * chw, chw);
    gst_ncfm_gather_stats_count (&self->stats, o, self->busy);
  }
  self->stats.samples += n;
  self->dirty = TRUE;
  if (GST_BUFFER_PTS_IS_VALID (buf))
    self->last_pts = GST_BUFFER_PTS (buf);
  gst_ncfm_gather_stats_frame (&self->stats, GST_ELEMENT (self), self->sinkpad, buf);
  if (ncfm_reservoir_next_ready (self->reservoir, self->s_batch_size, self->s_min_new, 0) >= 0)
    g_cond_signal (&self->cond);
  gst_ncfm_gather_post_stats (self, FALSE);
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

/* Our caps: the input's images and labels with B = batch-size, on our device. */
static gboolean
set_caps (GstNcfmGather *self, GstCaps *caps)
{
  g_autoptr (GError) error = NULL;
  guint c, h, w;
  if (!gst_ncfm_image_batch_caps (GST_ELEMENT (self), caps, &c, &h, &w)
      || !gst_ncfm_tensors_info_from_caps (&self->in_info, caps, &error))
    return FALSE;
  const gint64 images[4] = { self->s_batch_size, c, h, w };
  const gint64 labels[1] = { self->s_batch_size };
  GstNcfmTensorsInfo out;
  gst_ncfm_tensors_info_init (&out, ncfm_device_is_cuda (self->dev));
  gst_ncfm_tensors_info_add (&out, NCFM_DTYPE_F32, images, 4, NULL);
  gst_ncfm_tensors_info_add (&out, NCFM_DTYPE_I32, labels, 1, NULL);
  g_mutex_lock (&self->lock);
  if (self->reservoir && (c != self->c || h != self->h || w != self->w)) {
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The images changed from [%u,%u,%u] to "
            "[%u,%u,%u] (C,H,W) in the stream", self->c, self->h, self->w, c, h, w), (NULL));
    return FALSE;
  }
  self->c = c;
  self->h = h;
  self->w = w;
  g_free (self->batch_images);
  self->batch_images = g_new (gfloat, (gsize) self->s_batch_size * c * h * w);
  g_mutex_unlock (&self->lock);
  g_autoptr (GstCaps) outcaps = gst_ncfm_tensors_info_to_caps (&out);
  GST_DEBUG_OBJECT (self, "caps out %" GST_PTR_FORMAT, outcaps);
  return gst_pad_store_sticky_event (self->srcpad, gst_event_new_caps (outcaps)) == GST_FLOW_OK;
}

static gboolean
gst_ncfm_gather_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstNcfmGather *self = GST_NCFM_GATHER (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      const gboolean ok = set_caps (self, caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_EOS:
      g_mutex_lock (&self->lock);
      self->eos = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_FLUSH_START:
      gst_pad_push_event (self->srcpad, event);
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      return gst_pad_pause_task (self->srcpad);
    case GST_EVENT_FLUSH_STOP:
      gst_pad_push_event (self->srcpad, event);
      g_mutex_lock (&self->lock);
      self->flushing = self->eos = FALSE;
      self->srcresult = GST_FLOW_OK;
      g_mutex_unlock (&self->lock);
      return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_ncfm_gather_loop, self,
          NULL);
    default:
      break;
  }
  if (GST_EVENT_IS_STICKY (event)) {
    /* stream-start, segment, tags: they go out before the next batch */
    gst_pad_store_sticky_event (self->srcpad, event);
    gst_event_unref (event);
    return TRUE;
  }
  if (!GST_EVENT_IS_SERIALIZED (event))
    return gst_pad_event_default (pad, parent, event);
  GST_DEBUG_OBJECT (self, "dropping serialized event %s", GST_EVENT_TYPE_NAME (event));
  gst_event_unref (event);
  return TRUE;
}

/* Caps: anything image-batch-like in, our fixed caps out; allocation is not forwarded. */
static gboolean
gst_ncfm_gather_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstNcfmGather *self = GST_NCFM_GATHER (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = pad == self->srcpad ? gst_pad_get_current_caps (pad) : NULL;
      gst_query_parse_caps (query, &filter);
      if (!caps)
        caps = gst_pad_get_pad_template_caps (pad);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = both;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      return FALSE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ---- states ---- */

static gboolean
start (GstNcfmGather *self)
{
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  self->s_capacity = self->capacity;
  self->s_batch_size = self->batch_size;
  self->s_min_new = self->min_new;
  self->s_seed = self->seed;
  self->s_location = self->location && *self->location ? g_strdup (self->location) : NULL;
  g_autofree gchar *device = g_strdup (self->device);
  GST_OBJECT_UNLOCK (self);
  if (self->s_capacity < self->s_batch_size) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property capacity (%u) is below property "
            "batch-size (%u): a class could never fill a batch", self->s_capacity,
            self->s_batch_size), (NULL));
    return FALSE;
  }
  if (!(self->dev = ncfm_device_new (device, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot use device \"%s\" (property device): "
            "%s", device ? device : g_getenv ("NCFM_DEVICE"), error->message), (NULL));
    return FALSE;
  }
  gst_ncfm_gather_stats_init (&self->stats);
  self->last_pts = GST_CLOCK_TIME_NONE;
  self->next_class = 0;
  self->position = 0;
  self->dirty = FALSE;
  return TRUE;
}

static void
stop (GstNcfmGather *self)
{
  gst_ncfm_gather_save_reservoir (self);
  g_mutex_lock (&self->lock);
  g_clear_object (&self->reservoir);
  g_clear_pointer (&self->class_names, g_strfreev);
  g_clear_pointer (&self->batch_images, g_free);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->host_images, g_free);
  self->host_capacity = 0;
  g_clear_pointer (&self->s_location, g_free);
  g_clear_object (&self->import_device);
  g_clear_object (&self->dev);
}

static GstStateChangeReturn
gst_ncfm_gather_change_state (GstElement *element, GstStateChange transition)
{
  GstNcfmGather *self = GST_NCFM_GATHER (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start (self))
    return GST_STATE_CHANGE_FAILURE;
  const GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element,
      transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE))
    stop (self);
  return ret;
}

/* ---- properties ---- */

static guint *
uint_property (GstNcfmGather *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_CAPACITY: return &self->capacity;
    case PROP_BATCH_SIZE: return &self->batch_size;
    case PROP_MIN_NEW: return &self->min_new;
    default: return NULL;
  }
}

static gchar **
string_property (GstNcfmGather *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_LOCATION: return &self->location;
    case PROP_DEVICE: return &self->device;
    default: return NULL;
  }
}

static void
gst_ncfm_gather_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmGather *self = GST_NCFM_GATHER (object);
  GST_OBJECT_LOCK (self);
  guint *u = uint_property (self, prop_id);
  gchar **str = string_property (self, prop_id);
  if (GST_STATE (self) > GST_STATE_READY) {
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
  } else if (u) {
    *u = g_value_get_uint (value);
  } else if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
  } else if (prop_id == PROP_SEED) {
    self->seed = g_value_get_uint64 (value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_gather_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmGather *self = GST_NCFM_GATHER (object);
  GST_OBJECT_LOCK (self);
  guint *u = uint_property (self, prop_id);
  gchar **str = string_property (self, prop_id);
  if (u)
    g_value_set_uint (value, *u);
  else if (str)
    g_value_set_string (value, *str);
  else if (prop_id == PROP_SEED)
    g_value_set_uint64 (value, self->seed);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_gather_finalize (GObject *object)
{
  GstNcfmGather *self = GST_NCFM_GATHER (object);
  stop (self);
  g_free (self->location);
  g_free (self->device);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_gather_class_init (GstNcfmGatherClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_ncfm_gather_set_property;
  gobject_class->get_property = gst_ncfm_gather_get_property;
  gobject_class->finalize = gst_ncfm_gather_finalize;

  /**
   * GstNcfmGather:capacity:
   *
   * Images kept per class (reservoir sampling); at least
   * #GstNcfmGather:batch-size.  Memory: capacity x classes x C x H x W floats.
   */
  g_object_class_install_property (gobject_class, PROP_CAPACITY,
      g_param_spec_uint ("capacity", "Capacity", "Images kept per class, a uniform sample of "
          "the stream (>= batch-size)", 1, MAX_CAPACITY, DEFAULT_CAPACITY, PARAM_FLAGS));
  /**
   * GstNcfmGather:batch-size:
   *
   * Images per output batch: the B of the caps.  Only last batches at EOS
   * are smaller.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size", "Images per per-class batch out",
          1, MAX_BATCH_SIZE, DEFAULT_BATCH_SIZE, PARAM_FLAGS));
  /**
   * GstNcfmGather:min-new:
   *
   * Images of a class that must arrive after its last batch before it gets
   * another: how much a batch must differ from the last one.
   */
  g_object_class_install_property (gobject_class, PROP_MIN_NEW, g_param_spec_uint ("min-new",
          "Minimum new images", "Images of a class arrived since its last batch before it "
          "emits again", 1, G_MAXUINT, DEFAULT_MIN_NEW, PARAM_FLAGS));
  /**
   * GstNcfmGather:seed:
   *
   * Seed of the reservoir's random choices (a resumed reservoir keeps its own).
   */
  g_object_class_install_property (gobject_class, PROP_SEED, g_param_spec_uint64 ("seed",
          "Seed", "Seed of the reservoir sampling and the batch draws (a resumed reservoir "
          "keeps its own)", 0, G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmGather:location:
   *
   * Reservoir file: loaded at the first buffer if it exists, written at EOS
   * and at stop (atomically).  Unset: the reservoir is not kept.
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location", "Reservoir file (safetensors) to resume "
          "from and save to at EOS and stop (unset: not kept)", NULL, PARAM_FLAGS));
  /**
   * GstNcfmGather:device:
   *
   * Device of the batches out: "auto", "cpu" or "cuda:N" (unset:
   * $NCFM_DEVICE, or auto).
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device", "Device of the batches out: auto, cpu or cuda:N "
          "(unset: $NCFM_DEVICE or auto)", NULL, PARAM_FLAGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM per-class gatherer",
      "Filter/Tensor", "Keeps a bounded reservoir of images per class and emits per-class "
      "batches from its own thread, so a live source is never stalled", "gst-ncfm developers");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_ncfm_gather_change_state);
}

static void
gst_ncfm_gather_init (GstNcfmGather *self)
{
  self->capacity = DEFAULT_CAPACITY;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->min_new = DEFAULT_MIN_NEW;
  self->seed = DEFAULT_SEED;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->srcresult = GST_FLOW_FLUSHING;

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_ncfm_gather_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_ncfm_gather_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_ncfm_gather_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_ncfm_gather_src_activate_mode));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_ncfm_gather_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
