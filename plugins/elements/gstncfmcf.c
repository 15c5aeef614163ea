/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmcf
 * @title: ncfmcf
 * @short_description: per-class characteristic-function statistics of feature batches
 *
 * Draws fresh frequencies for every feature batch and attaches an
 * #NcfmCFMeta holding them (t), the per-class CF statistics of the batch's real
 * features at t (sums of cos and sin of <t, x>, counts; #NcfmCFStats), the
 * class ids present, the features and labels, and a reference to the
 * sampler, which the distiller sends dL/dt back to when it is learned.
 *
 * - in: memory 0 features, float32 [B, d], memory 1 labels, int32 [B], as
 *   ncfmconvnet emits them: `other/tensors, format=static, num_tensors=2,
 *   dimensions="d:B,B", types="float32,int32"`;
 * - out: the same caps and the same memories (shared, not copied): the
 *   element only adds the meta.  Every meta of the input is kept.
 *
 * Frequencies (#GstNcfmCF:sampler): gaussian draws t = sigma N(0, I) from a
 * counter-based stream seeded by #GstNcfmCF:seed, buffer k (its offset, or
 * its count without one) taking draw k of it (the same seed gives the same
 * t for the same batch); learned draws noise eps [M/16, d] from that stream and
 * runs it through psi (three Linear -> BatchNorm -> LeakyReLU/Tanh blocks,
 * tiled 16 times), psi being trained by the consumer by gradient ascent;
 * structured draws orthogonal blocks of rows from fast Hadamard transforms
 * and random signs (SORF, ncfm_sampler_new_structured()) from that seed.
 * t holds each distinct frequency once: [M, d] for gaussian, psi's M/16
 * outputs [M/16, d] for learned (its M frequencies are those repeated 16
 * times, and matching at each distinct one once is the same objective, the
 * same loss and the same gradient for psi, at 1/16 of the cost; see
 * ncfm_sampler_sample_distinct()).
 * The sampler is created on the first buffer, on the device of the input
 * tensors, for the feature dimension d of that buffer; a later buffer of
 * another d or on another device is an error.
 *
 * Labels must lie in [0, K): K is #GstNcfmCF:num-classes, or when that is
 * 0 the num_classes of the buffer's #NcfmBatchMeta.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=256 ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=1024 ! fakesink
 * ]| Real CF statistics of one epoch of augmented Fashion-MNIST features.
 */
#include "gstncfmcf.h"

#include <ncfm.h>
#include <string.h>

#include "gstncfmcaps.h"
#include "gstncfmcfmeta.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_cf_debug);
#define GST_CAT_DEFAULT gst_ncfm_cf_debug

#define DEFAULT_NUM_FREQS 4096
#define MIN_NUM_FREQS 16
#define MAX_NUM_FREQS (1u << 20)
#define DEFAULT_SAMPLER NCFM_SAMPLER_GAUSSIAN
#define DEFAULT_SIGMA 1.0f
#define DEFAULT_SAMPLER_LR 1e-3f
#define DEFAULT_SAMPLER_MOMENTUM 0.5f
#define DEFAULT_SAMPLER_WEIGHT_DECAY 5e-4f
#define DEFAULT_SEED 0
#define DEFAULT_NORMALIZE TRUE
#define DEFAULT_NUM_CLASSES 0
#define DEFAULT_DEVICE NULL
#define LEARNED_TILES 16

enum {
  PROP_0,
  PROP_NUM_FREQS,
  PROP_SAMPLER,
  PROP_SIGMA,
  PROP_SAMPLER_LR,
  PROP_SAMPLER_MOMENTUM,
  PROP_SAMPLER_WEIGHT_DECAY,
  PROP_SEED,
  PROP_NORMALIZE,
  PROP_NUM_CLASSES,
  PROP_DEVICE,
};

struct _GstNcfmCF {
  GstBaseTransform parent;

  /* properties, under the object lock; read once in start() */
  guint num_freqs, num_classes;
  NcfmSamplerKind sampler_kind;
  gfloat sigma, lr, momentum, weight_decay;
  guint64 seed;
  gboolean normalize;
  gchar *device;

  /* from start() to stop(), streaming thread only (started is read under the lock) */
  gboolean started;
  NcfmDevice *want_device;      /* NULL: follow the input */
  NcfmSampler *sampler;         /* made on the first buffer; shared with the metas */
  NcfmSampler *noise_source;    /* learned: the N(0, 1) stream of psi's noise */
  NcfmComm *comm;               /* data parallel: the ranks, from the first buffer */
  guint64 n_buffers;
};

#define GST_TYPE_NCFM_CF_SAMPLER (gst_ncfm_cf_sampler_get_type ())
static GType
gst_ncfm_cf_sampler_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_SAMPLER_GAUSSIAN, "Gaussian: t = sigma N(0, I), fresh per buffer", "gaussian" },
    { NCFM_SAMPLER_LEARNED, "Learned: t = psi(eps), psi trained by the distiller by ascent",
      "learned" },
    { NCFM_SAMPLER_STRUCTURED, "Structured orthogonal (SORF): orthogonal blocks from fast "
      "Hadamard transforms, sigma chi_d row norms, fresh per buffer", "structured" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmCFSampler", values));
  return type;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

G_DEFINE_FINAL_TYPE (GstNcfmCF, gst_ncfm_cf, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmcf, "ncfmcf", GST_RANK_NONE, GST_TYPE_NCFM_CF,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_cf_debug, "ncfmcf", 0,
        "ncfm characteristic-function statistics"));

/* Features [B, d] float32 + labels [B] int32, or FALSE with @error naming the caps field. */
static gboolean
check_input_info (const GstNcfmTensorsInfo *in, GError **error)
{
  const GstNcfmTensorInfo *f = &in->tensors[0], *l = &in->tensors[1];
  if (in->n_tensors != 2 || f->dtype != NCFM_DTYPE_F32 || l->dtype != NCFM_DTYPE_I32) {
    g_autofree gchar *types = gst_ncfm_tensors_info_types (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field types is \"%s\", expected \"float32,int32\" (features and labels)", types);
    return FALSE;
  }
  if (f->n_dims != 2 || l->n_dims != 1 || l->shape[0] != f->shape[0] || f->shape[1] < 1) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (in);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions is \"%s\", expected \"d:B,B\" (features [B,d], labels [B])", dims);
    return FALSE;
  }
  return TRUE;
}

/* The output caps are the input caps: caps a CF cannot take fail here with a
 * message naming the field, before the base class turns them into not-negotiated. */
static gboolean
gst_ncfm_cf_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstNcfmCF *self = GST_NCFM_CF (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstNcfmTensorsInfo in;
    g_autoptr (GError) error = NULL;
    gst_event_parse_caps (event, &caps);
    if (!gst_ncfm_tensors_info_from_caps (&in, caps, &error) || !check_input_info (&in, &error)) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Cannot compute CFs: %s", error->message),
          ("input caps %" GST_PTR_FORMAT, caps));
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_TRANSFORM_CLASS (gst_ncfm_cf_parent_class)->sink_event (trans, event);
}

/* The sampler of the stream, made on the first buffer for its dim and device. */
static gboolean
ensure_sampler (GstNcfmCF *self, NcfmDevice *dev, guint dim)
{
  g_autoptr (GError) error = NULL;
  if (self->sampler) {
    if (ncfm_sampler_get_dim (self->sampler) != dim) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Feature dimension changed from %u to %u (caps field dimensions): the %s sampler "
              "draws t for d = %u", ncfm_sampler_get_dim (self->sampler), dim,
              ncfm_sampler_kind_to_string (self->sampler_kind),
              ncfm_sampler_get_dim (self->sampler)), (NULL));
      return FALSE;
    }
    if (!gst_ncfm_same_device (ncfm_sampler_get_device (self->sampler), dev)) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("The input tensors moved from %s to %s; the sampler stays where it was made "
              "(property device)", ncfm_device_get_name (ncfm_sampler_get_device (self->sampler)),
              ncfm_device_get_name (dev)), (NULL));
      return FALSE;
    }
    return TRUE;
  }
  g_autoptr (NcfmSampler) sampler = NULL;
  if (self->sampler_kind == NCFM_SAMPLER_LEARNED) {
    sampler = ncfm_sampler_new_learned (dev, self->num_freqs, dim, self->seed, &error);
    if (sampler && !ncfm_sampler_set_optimizer (sampler, self->lr, self->momentum,
            self->weight_decay, &error))
      g_clear_object (&sampler);
    if (sampler) {
      /* psi's own noise stream, drawn separately so that the meta can carry it */
      self->noise_source = ncfm_sampler_new_gaussian (dev, self->num_freqs / LEARNED_TILES, dim,
          1.0f, self->seed, &error);
      if (!self->noise_source)
        g_clear_object (&sampler);
    }
  } else if (self->sampler_kind == NCFM_SAMPLER_STRUCTURED) {
    sampler = ncfm_sampler_new_structured (dev, self->num_freqs, dim, self->sigma, self->seed,
        &error);
  } else {
    sampler = ncfm_sampler_new_gaussian (dev, self->num_freqs, dim, self->sigma, self->seed,
        &error);
  }
  if (!sampler) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot make the %s sampler: %s",
            ncfm_sampler_kind_to_string (self->sampler_kind), error->message),
        ("properties num-freqs, sampler, sigma; feature dimension %u", dim));
    return FALSE;
  }
  self->sampler = g_steal_pointer (&sampler);
  GST_INFO_OBJECT (self, "%s sampler: M %u, d %u, seed %" G_GUINT64_FORMAT " on %s",
      ncfm_sampler_kind_to_string (self->sampler_kind), self->num_freqs, dim, self->seed,
      ncfm_device_get_name (dev));
  return TRUE;
}

/* Draw @index of the stream (for psi from the noise of the noise source),
 * under the sampler's lock. */
static NcfmFreqDraw *
draw_frequencies (GstNcfmCF *self, guint64 index, gboolean data_parallel, GError **error)
{
  NcfmFreqDraw *draw = NULL;
  ncfm_sampler_lock (self->sampler);
  ncfm_sampler_seek_draw (self->noise_source ? self->noise_source : self->sampler, index);
  if (self->noise_source) {
    g_autoptr (NcfmTensor) noise = ncfm_sampler_sample (self->noise_source, error);
    draw = noise ? ncfm_sampler_draw (self->sampler, noise, TRUE, error) : NULL;
  } else if (data_parallel) {   /* every rank draws its share of t: the same t for less */
    draw = ncfm_sampler_draw_shared (self->sampler, self->comm, error);
  } else {
    draw = ncfm_sampler_draw (self->sampler, NULL, TRUE, error);
  }
  ncfm_sampler_unlock (self->sampler);
  return draw;
}

/* K: num-classes, else the batch meta's. */
static guint
resolve_num_classes (GstNcfmCF *self, GstBuffer *buf)
{
  if (self->num_classes)
    return self->num_classes;
  NcfmBatchMeta *batch = gst_buffer_get_ncfm_batch_meta (buf);
  return batch ? batch->num_classes : 0;
}

/* Memory of a non-ncfm element is refused, saying why: what follows needs ncfm metas. */
static gboolean
refuse_foreign_memory (GstNcfmCF *self, GstBuffer *buf)
{
  for (guint i = 0; i < gst_buffer_n_memory (buf); i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (gst_is_ncfm_tensor_memory (mem))
      continue;
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Input buffer memory %u is %s memory, not "
            "NcfmTensor memory: ncfmcf takes features from an ncfm extractor (ncfmconvnet, "
            "ncfmresnet) because ncfmdistill needs the ncfm metas that a non-ncfm element "
            "cannot attach: the NcfmModelMeta (the model that computed the features) and the "
            "NcfmCFMeta, which holds the feature tensors themselves", i,
            mem->allocator ? mem->allocator->mem_type : "unknown"),
        ("give the images to ncfmconvnet or ncfmresnet instead: they take system memory"));
    return TRUE;
  }
  return FALSE;
}

/* Data parallel (the source's batch meta: shard_count > 1 without
 * class_shard, each rank holding a slice of every class): *data_parallel set
 * and the ranks joined.  The ranks then share the Gaussian draw of t and sum
 * the statistics, so that every rank's distiller steps on the whole batch.  The learned sampler is refused there: the real part of its dL/dt
 * is a sum over each rank's own samples (through their phases), which would
 * need a reduction of its own. */
static gboolean
join_ranks (GstNcfmCF *self, GstBuffer *buf, gboolean *data_parallel)
{
  NcfmBatchMeta *batch = gst_buffer_get_ncfm_batch_meta (buf);
  g_autoptr (GError) error = NULL;
  *data_parallel = batch && !batch->class_shard && batch->shard_count > 1;
  if (!*data_parallel)
    return TRUE;
  if (self->sampler_kind == NCFM_SAMPLER_LEARNED) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property sampler is learned but the stream "
            "is data parallel (slice %u of %u of every class): psi's gradient from the real "
            "features is not summed over the ranks", batch->shard_index, batch->shard_count),
        ("use sampler=gaussian, or class shards (ncfmdatasetsrc class-shard=true)"));
    return FALSE;
  }
  if (!self->comm) {
    self->comm = ncfm_data_parallel_comm_new (batch->shard_index, batch->shard_count, &error);
    if (!self->comm) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot sum the CF statistics over the "
              "ranks: %s", error->message), ("the source's sharding: ncfmdatasetsrc "
              "properties shard-index, shard-count, class-shard"));
      return FALSE;
    }
  }
  return TRUE;
}

static GstFlowReturn
gst_ncfm_cf_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstNcfmCF *self = GST_NCFM_CF (trans);
  g_autoptr (GError) error = NULL;
  if (refuse_foreign_memory (self, buf))
    return GST_FLOW_ERROR;
  NcfmTensor *features = gst_ncfm_buffer_get_tensor (GST_ELEMENT (self), buf, 0, NCFM_DTYPE_F32, 2,
      "F32 [B,d] feature");
  NcfmTensor *labels = features ? gst_ncfm_buffer_get_tensor (GST_ELEMENT (self), buf, 1,
      NCFM_DTYPE_I32, 1, "I32 [B] label") : NULL;
  if (!labels)
    return GST_FLOW_ERROR;
  NcfmDevice *dev = ncfm_tensor_get_device (features);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (self->want_device && !gst_ncfm_same_device (self->want_device, dev)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The input tensors are on %s but property device asks for %s", ncfm_device_get_name (dev),
            ncfm_device_get_name (self->want_device)),
        ("set device=auto to follow the input, or move the upstream element to that device"));
    return GST_FLOW_ERROR;
  }
  const guint k = resolve_num_classes (self, buf);
  if (!k) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("The number of classes is unknown: set property num-classes or give the buffers an "
            "NcfmBatchMeta (ncfmdatasetsrc, ncfmtensorize)"), (NULL));
    return GST_FLOW_ERROR;
  }
  const gint64 dim = ncfm_tensor_get_dim (features, 1);
  if (dim < 1 || dim > G_MAXINT || !ensure_sampler (self, dev, (guint) dim))
    return GST_FLOW_ERROR;

  /* draw k of the stream for batch k (its offset): a batch's frequencies do
   * not depend on which batches came before (class shards) */
  const guint64 index = GST_BUFFER_OFFSET_IS_VALID (buf) ? GST_BUFFER_OFFSET (buf)
      : self->n_buffers;
  gboolean data_parallel = FALSE;
  if (!join_ranks (self, buf, &data_parallel))
    return GST_FLOW_ERROR;
  g_autoptr (NcfmFreqDraw) draw = draw_frequencies (self, index, data_parallel, &error);
  NcfmTensor *t = draw ? ncfm_freq_draw_get_t (draw) : NULL;
  g_autoptr (NcfmCFStats) stats = t ? ncfm_cf_stats_new (dev, k,
      ncfm_sampler_get_distinct_freqs (self->sampler), (guint) dim, self->normalize, &error) : NULL;
  if (!stats) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot draw the frequencies or allocate the CF statistics: %s",
            error->message), ("properties num-freqs, num-classes"));
    return GST_FLOW_ERROR;
  }
  if (!ncfm_cf_stats_accumulate_draw (stats, features, labels, draw, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot compute the CF statistics: %s",
            error->message), ("%u classes (property num-classes or the batch meta)", k));
    return GST_FLOW_ERROR;
  }
  if (data_parallel && !ncfm_cf_stats_allreduce (stats, self->comm, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Buffer %" G_GUINT64_FORMAT ": cannot sum the "
            "CF statistics over the ranks: %s", self->n_buffers, error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: t and the sums must be complete when pushed */
  ncfm_device_synchronize (dev);

  GstMeta *old = gst_buffer_get_meta (buf, NCFM_CF_META_API_TYPE);
  if (old)  /* a second ncfmcf in a row: its statistics replace the first's */
    gst_buffer_remove_meta (buf, old);
  NcfmCFMeta *meta = gst_buffer_add_ncfm_cf_meta (buf, draw, stats, features, labels);
  meta->draw = index;
  GST_LOG_OBJECT (self, "buffer %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT " features, %u of %u "
      "classes present", self->n_buffers, ncfm_tensor_get_dim (features, 0), meta->n_class_ids, k);
  self->n_buffers++;
  return GST_FLOW_OK;
}

static gboolean
gst_ncfm_cf_start (GstBaseTransform *trans)
{
  GstNcfmCF *self = GST_NCFM_CF (trans);
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  g_autofree gchar *device = g_strdup (self->device ? self->device : g_getenv ("NCFM_DEVICE"));
  const guint m = self->num_freqs;
  const NcfmSamplerKind kind = self->sampler_kind;
  GST_OBJECT_UNLOCK (self);

  if (kind == NCFM_SAMPLER_LEARNED && (m % LEARNED_TILES != 0 || m < 2 * LEARNED_TILES)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Property num-freqs is %u; sampler=learned needs a multiple of %u of at least %u "
            "(psi tiles M/%u noise rows %u times)", m, LEARNED_TILES, 2 * LEARNED_TILES,
            LEARNED_TILES, LEARNED_TILES), (NULL));
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
  GST_OBJECT_LOCK (self);
  self->want_device = g_steal_pointer (&want);
  self->n_buffers = 0;
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_ncfm_cf_stop (GstBaseTransform *trans)
{
  GstNcfmCF *self = GST_NCFM_CF (trans);
  GST_OBJECT_LOCK (self);
  g_clear_object (&self->sampler);
  g_clear_object (&self->noise_source);
  g_clear_object (&self->want_device);
  g_clear_object (&self->comm);
  self->started = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static void
gst_ncfm_cf_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmCF *self = GST_NCFM_CF (object);
  GST_OBJECT_LOCK (self);
  if (self->started) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
    return;
  }
  switch (prop_id) {
    case PROP_NUM_FREQS: self->num_freqs = g_value_get_uint (value); break;
    case PROP_SAMPLER: self->sampler_kind = g_value_get_enum (value); break;
    case PROP_SIGMA: self->sigma = g_value_get_float (value); break;
    case PROP_SAMPLER_LR: self->lr = g_value_get_float (value); break;
    case PROP_SAMPLER_MOMENTUM: self->momentum = g_value_get_float (value); break;
    case PROP_SAMPLER_WEIGHT_DECAY: self->weight_decay = g_value_get_float (value); break;
    case PROP_SEED: self->seed = g_value_get_uint64 (value); break;
    case PROP_NORMALIZE: self->normalize = g_value_get_boolean (value); break;
    case PROP_NUM_CLASSES: self->num_classes = g_value_get_uint (value); break;
    case PROP_DEVICE: g_free (self->device); self->device = g_value_dup_string (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_cf_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmCF *self = GST_NCFM_CF (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_NUM_FREQS: g_value_set_uint (value, self->num_freqs); break;
    case PROP_SAMPLER: g_value_set_enum (value, self->sampler_kind); break;
    case PROP_SIGMA: g_value_set_float (value, self->sigma); break;
    case PROP_SAMPLER_LR: g_value_set_float (value, self->lr); break;
    case PROP_SAMPLER_MOMENTUM: g_value_set_float (value, self->momentum); break;
    case PROP_SAMPLER_WEIGHT_DECAY: g_value_set_float (value, self->weight_decay); break;
    case PROP_SEED: g_value_set_uint64 (value, self->seed); break;
    case PROP_NORMALIZE: g_value_set_boolean (value, self->normalize); break;
    case PROP_NUM_CLASSES: g_value_set_uint (value, self->num_classes); break;
    case PROP_DEVICE: g_value_set_string (value, self->device); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_cf_finalize (GObject *object)
{
  GstNcfmCF *self = GST_NCFM_CF (object);
  g_free (self->device);
  g_clear_object (&self->sampler);
  g_clear_object (&self->noise_source);
  g_clear_object (&self->want_device);
  g_clear_object (&self->comm);
  G_OBJECT_CLASS (gst_ncfm_cf_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
install_sampler_properties (GObjectClass *gobject_class)
{
  /**
   * GstNcfmCF:num-freqs:
   *
   * M, the frequencies drawn per buffer (1024 in the paper, 4096 in the
   * reference configs for CIFAR).  With sampler=learned a multiple of 16,
   * at least 32 (psi's M/16 noise rows are tiled 16 times).
   */
  g_object_class_install_property (gobject_class, PROP_NUM_FREQS,
      g_param_spec_uint ("num-freqs", "Number of frequencies",
          "Frequencies M drawn per buffer (learned: a multiple of 16, at least 32)",
          MIN_NUM_FREQS, MAX_NUM_FREQS, DEFAULT_NUM_FREQS, PARAM_FLAGS));
  /**
   * GstNcfmCF:sampler:
   *
   * Where t comes from: a fresh Gaussian draw, or the learned sampler psi
   * (trained by the distiller through #NcfmCFMeta's sampler).
   */
  g_object_class_install_property (gobject_class, PROP_SAMPLER,
      g_param_spec_enum ("sampler", "Sampler", "How the frequencies t are drawn",
          GST_TYPE_NCFM_CF_SAMPLER, DEFAULT_SAMPLER, PARAM_FLAGS));
  /**
   * GstNcfmCF:sigma:
   *
   * Standard deviation of every entry of a Gaussian t (1 in the method);
   * a structured t's row norms have that Gaussian's law; not used by the
   * learned sampler.
   */
  g_object_class_install_property (gobject_class, PROP_SIGMA,
      g_param_spec_float ("sigma", "Sigma", "Standard deviation of Gaussian frequencies",
          1e-6f, 1e6f, DEFAULT_SIGMA, PARAM_FLAGS));
  /**
   * GstNcfmCF:sampler-lr:
   *
   * Learning rate of psi's SGD (gradient ascent, stepped by the distiller:
   * after every buffer, or once per ncfmdistill sampler-step-every class
   * steps on the sum of their gradients).
   */
  g_object_class_install_property (gobject_class, PROP_SAMPLER_LR,
      g_param_spec_float ("sampler-lr", "Sampler learning rate",
          "Learning rate of the learned sampler psi (SGD ascent)", 0.0f, 1e3f,
          DEFAULT_SAMPLER_LR, PARAM_FLAGS));
  /**
   * GstNcfmCF:sampler-momentum:
   *
   * Momentum of psi's SGD.
   */
  g_object_class_install_property (gobject_class, PROP_SAMPLER_MOMENTUM,
      g_param_spec_float ("sampler-momentum", "Sampler momentum",
          "Momentum of the learned sampler's SGD", 0.0f, 1.0f, DEFAULT_SAMPLER_MOMENTUM,
          PARAM_FLAGS));
  /**
   * GstNcfmCF:sampler-weight-decay:
   *
   * Weight decay of psi's SGD.
   */
  g_object_class_install_property (gobject_class, PROP_SAMPLER_WEIGHT_DECAY,
      g_param_spec_float ("sampler-weight-decay", "Sampler weight decay",
          "Weight decay of the learned sampler's SGD", 0.0f, 1.0f,
          DEFAULT_SAMPLER_WEIGHT_DECAY, PARAM_FLAGS));
  /**
   * GstNcfmCF:seed:
   *
   * Seed of the frequency stream (and of psi's initialisation): the same
   * seed gives the same t for every buffer of every run.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the frequencies (and of psi's init)", 0,
          G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
}

static void
install_properties (GObjectClass *gobject_class)
{
  install_sampler_properties (gobject_class);
  /**
   * GstNcfmCF:normalize:
   *
   * L2-normalise every feature row before the CF, as the reference does.
   */
  g_object_class_install_property (gobject_class, PROP_NORMALIZE,
      g_param_spec_boolean ("normalize", "Normalize",
          "L2-normalise every feature row before the CF", DEFAULT_NORMALIZE, PARAM_FLAGS));
  /**
   * GstNcfmCF:num-classes:
   *
   * K, labels lie in [0, K).  0: the num_classes of the buffer's
   * #NcfmBatchMeta; a buffer without one is then an error.
   */
  g_object_class_install_property (gobject_class, PROP_NUM_CLASSES,
      g_param_spec_uint ("num-classes", "Number of classes",
          "Classes K of the statistics (0 = from the batch meta)", 0, 1000000,
          DEFAULT_NUM_CLASSES, PARAM_FLAGS));
  /**
   * GstNcfmCF:device:
   *
   * The CF is computed where the input tensors are.  "auto" follows the
   * input; "cpu" or "cuda:N" make an input on any other device an error.
   * Unset: $NCFM_DEVICE, or auto.
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "auto (follow the input), cpu or cuda:N (input elsewhere is an error; unset: "
          "$NCFM_DEVICE or auto)", DEFAULT_DEVICE, PARAM_FLAGS));
}

static void
gst_ncfm_cf_class_init (GstNcfmCFClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_ncfm_cf_set_property;
  gobject_class->get_property = gst_ncfm_cf_get_property;
  gobject_class->finalize = gst_ncfm_cf_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "NCFM characteristic functions", "Filter/Analyzer/Tensor",
      "Draws frequencies t per feature batch (Gaussian or the learned sampler psi) and "
      "attaches the per-class empirical characteristic-function statistics of the real "
      "features at t, with t and the sampler for the distiller; features pass unchanged",
      "gst-ncfm developers");

  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_cf_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_cf_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_ncfm_cf_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_ncfm_cf_transform_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_CF_SAMPLER, 0);
}

static void
gst_ncfm_cf_init (GstNcfmCF *self)
{
  self->num_freqs = DEFAULT_NUM_FREQS;
  self->sampler_kind = DEFAULT_SAMPLER;
  self->sigma = DEFAULT_SIGMA;
  self->lr = DEFAULT_SAMPLER_LR;
  self->momentum = DEFAULT_SAMPLER_MOMENTUM;
  self->weight_decay = DEFAULT_SAMPLER_WEIGHT_DECAY;
  self->seed = DEFAULT_SEED;
  self->normalize = DEFAULT_NORMALIZE;
  self->num_classes = DEFAULT_NUM_CLASSES;
  self->device = g_strdup (DEFAULT_DEVICE);
}
