/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmtensorize-batch.c: ncfmtensorize's samples and batches.
 *
 * A sample is a rectangle of a frame: copied to the host as planar uint8
 * (the only per-pixel work on the host, a byte shuffle out of the packed
 * format) and handed to libncfm's NcfmFrameBatch, which scales, resizes,
 * mixes grey out of RGB and normalises on the device.  A finished batch is
 * queued as a buffer with its labels and meta. */
#include "gstncfmtensorize-batch.h"

#include <math.h>
#include <string.h>

#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_EXTERN (gst_ncfm_tensorize_debug);
#define GST_CAT_DEFAULT gst_ncfm_tensorize_debug

/* Normalisation presets (property dataset): the names libncfm knows the
 * method card's mean/std of (ncfm_dataset_known_stats); "none" is 0 / 1. */
static const gchar *const presets[] = {
  [GST_NCFM_TENSORIZE_DATASET_NONE] = "none",
  [GST_NCFM_TENSORIZE_DATASET_FASHION_MNIST] = "fashion-mnist",
  [GST_NCFM_TENSORIZE_DATASET_MNIST] = "mnist",
  [GST_NCFM_TENSORIZE_DATASET_CIFAR10] = "cifar10",
  [GST_NCFM_TENSORIZE_DATASET_CIFAR100] = "cifar100",
  [GST_NCFM_TENSORIZE_DATASET_IMAGENET] = "imagenet",
};

struct _GstNcfmBatcher {
  GstNcfmBatchConfig cfg;
  guint k;                    /* classes */
  NcfmDevice *dev;
  NcfmFrameBatch *images;     /* the batch being filled */
  gint32 *labels;             /* its labels, host [B] */
  GstClockTime pts, dts, duration;  /* of the last frame */
  guint64 n_batches;
  GQueue ready;               /* finished batches, oldest first */
  /* the sample's crop on the host (planar u8), grown on demand */
  guint8 *host;
  gsize host_size;
};

/* Sets a settings error; returns FALSE. */
static gboolean G_GNUC_PRINTF (2, 3)
settings_error (GError **error, const gchar *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree gchar *message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, message);
  return FALSE;
}

/* Comma-separated class names: none empty, none repeated (case-insensitively). */
static gchar **
parse_class_names (const gchar *text, GError **error)
{
  g_auto (GStrv) names = g_strsplit (text, ",", -1);
  for (guint i = 0; names[i]; i++) {
    g_strstrip (names[i]);
    if (!*names[i]) {
      settings_error (error, "Invalid class-names \"%s\": name %u is empty (property "
          "class-names)", text, i);
      return NULL;
    }
    for (guint j = 0; j < i; j++) {
      if (g_ascii_strcasecmp (names[i], names[j]) == 0) {
        settings_error (error, "Invalid class-names \"%s\": \"%s\" is listed twice, as "
            "names %u and %u (property class-names)", text, names[i], j, i);
        return NULL;
      }
    }
  }
  return g_steal_pointer (&names);
}

/* A comma-separated list of exactly `n` finite floats (positive ones for std) into `out`. */
static gboolean
parse_floats (const gchar *property, const gchar *text, guint n, gboolean positive,
    gfloat *out, GError **error)
{
  g_auto (GStrv) tokens = g_strsplit (text, ",", -1);
  const guint count = g_strv_length (tokens);
  if (count != n)
    return settings_error (error, "Invalid %s \"%s\": %u value%s for %u channel%s (properties "
        "%s and channels)", property, text, count, count == 1 ? "" : "s", n, n == 1 ? "" : "s",
        property);
  for (guint i = 0; i < n; i++) {
    const gchar *token = g_strstrip (tokens[i]);
    gchar *end = NULL;
    const gdouble v = g_ascii_strtod (token, &end);
    if (!*token || *end || !isfinite (v) || (positive && v <= 0))
      return settings_error (error, "Invalid %s \"%s\": \"%s\" is not a %s (property %s)",
          property, text, token, positive ? "positive number" : "number", property);
    out[i] = (gfloat) v;
  }
  return TRUE;
}

gboolean
gst_ncfm_batch_config_init (GstNcfmBatchConfig *cfg, const GstNcfmBatchSettings *s,
    GError **error)
{
  memset (cfg, 0, sizeof *cfg);
  if (s->channels != 1 && s->channels != 3)
    return settings_error (error, "Invalid channels %u: 1 (grey) or 3 (RGB) (property "
        "channels)", s->channels);
  if ((guint) s->dataset >= G_N_ELEMENTS (presets))
    return settings_error (error, "Unknown dataset %u (property dataset)", s->dataset);

  g_auto (GStrv) names = NULL;
  if (s->class_names && *s->class_names) {
    if (!(names = parse_class_names (s->class_names, error)))
      return FALSE;
    const guint n = g_strv_length (names);
    if (s->classes && s->classes != n)
      return settings_error (error, "classes is %u but class-names lists %u names "
          "(properties classes and class-names)", s->classes, n);
  } else {
    /* no names: the class ids themselves, as for datasets without names */
    const guint n = s->classes ? s->classes : GST_NCFM_TENSORIZE_CLASSES_WITHOUT_NAMES;
    names = g_new0 (gchar *, n + 1);
    for (guint i = 0; i < n; i++)
      names[i] = g_strdup_printf ("%u", i);
  }
  const guint k = g_strv_length (names);
  if (s->roi_only && !s->use_roi)
    return settings_error (error, "roi-only takes only regions of interest but use-roi is off "
        "(properties roi-only and use-roi)");
  if (!s->unlabeled && s->label >= k)
    return settings_error (error, "Invalid label %u: there are %u classes, 0 .. %u (property "
        "label; the classes come from classes or class-names)", s->label, k, k - 1);

  guint preset_channels = 0;
  gfloat pmean[3] = { 0.0f, 0.0f, 0.0f }, pstd[3] = { 1.0f, 1.0f, 1.0f };
  if (s->dataset != GST_NCFM_TENSORIZE_DATASET_NONE
      && !ncfm_dataset_known_stats (presets[s->dataset], &preset_channels, pmean, pstd))
    return settings_error (error, "No mean/std known for dataset %s (property dataset)",
        presets[s->dataset]);
  if (preset_channels && preset_channels != s->channels && (!s->mean || !s->std))
    return settings_error (error, "dataset %s has %u-channel mean/std but channels is %u "
        "(properties dataset and channels; or set mean and std)", presets[s->dataset],
        preset_channels, s->channels);
  for (guint ch = 0; ch < s->channels; ch++) {
    cfg->mean[ch] = pmean[preset_channels ? ch : 0];
    cfg->std[ch] = pstd[preset_channels ? ch : 0];
  }
  if ((s->mean && !parse_floats ("mean", s->mean, s->channels, FALSE, cfg->mean, error))
      || (s->std && !parse_floats ("std", s->std, s->channels, TRUE, cfg->std, error)))
    return FALSE;

  cfg->width = s->width;
  cfg->height = s->height;
  cfg->channels = s->channels;
  cfg->batch_size = s->batch_size;
  cfg->label = s->unlabeled ? -1 : (gint32) s->label;
  cfg->use_roi = s->use_roi;
  cfg->unlabeled = s->unlabeled;
  cfg->roi_only = s->roi_only;
  cfg->aspect_crop = s->aspect_crop;
  cfg->class_names = g_steal_pointer (&names);
  return TRUE;
}

GstNcfmBatcher *
gst_ncfm_batcher_new (NcfmDevice *device, const GstNcfmBatchConfig *config, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  g_return_val_if_fail (config->class_names, NULL);
  g_autoptr (NcfmFrameBatch) images = ncfm_frame_batch_new (device, config->batch_size,
      config->channels, config->height, config->width, config->mean, config->std,
      config->channels, error);
  if (!images)
    return NULL;
  GstNcfmBatcher *self = g_new0 (GstNcfmBatcher, 1);
  self->images = g_steal_pointer (&images);
  self->cfg = *config;
  self->cfg.class_names = g_strdupv (config->class_names);
  self->k = g_strv_length (self->cfg.class_names);
  self->dev = g_object_ref (device);
  self->labels = g_new0 (gint32, config->batch_size);
  self->pts = self->dts = self->duration = GST_CLOCK_TIME_NONE;
  g_queue_init (&self->ready);
  return self;
}

void
gst_ncfm_batcher_free (GstNcfmBatcher *self)
{
  if (!self)
    return;
  g_queue_clear_full (&self->ready, (GDestroyNotify) gst_buffer_unref);
  g_clear_object (&self->images);
  g_clear_object (&self->dev);
  g_free (self->host);
  g_free (self->labels);
  g_strfreev (self->cfg.class_names);
  g_free (self);
}

guint
gst_ncfm_batcher_pending (GstNcfmBatcher *self)
{
  return ncfm_frame_batch_get_count (self->images);
}

GstBuffer *
gst_ncfm_batcher_pop (GstNcfmBatcher *self)
{
  return g_queue_pop_head (&self->ready);
}

void
gst_ncfm_batcher_discard (GstNcfmBatcher *self, gboolean ready_too)
{
  ncfm_frame_batch_discard (self->images);
  if (ready_too)
    g_queue_clear_full (&self->ready, (GDestroyNotify) gst_buffer_unref);
}

/* The batch so far as one buffer on the ready queue: normalised, with its labels and meta. */
gboolean
gst_ncfm_batcher_flush (GstNcfmBatcher *self, GError **error)
{
  /* the device is shared with the downstream elements' threads */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->dev);
  const GstNcfmBatchConfig *cfg = &self->cfg;
  const guint n = ncfm_frame_batch_get_count (self->images);
  if (!n)
    return TRUE;
  g_autoptr (NcfmTensor) images = ncfm_frame_batch_finish (self->images, error);
  if (!images)
    return FALSE;
  const gint64 lshape[1] = { n };
  g_autoptr (NcfmTensor) labels = ncfm_tensor_new_from_data (self->dev, NCFM_DTYPE_I32, lshape,
      1, (const guint8 *) self->labels, n * sizeof (gint32), error);
  if (!labels)
    return FALSE;
  /* consumers run on their own streams: the batch must be complete when pushed */
  ncfm_device_synchronize (self->dev);

  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (images));
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (labels));
  NcfmBatchMeta *meta = gst_buffer_add_ncfm_batch_meta (buf,
      (const gchar *const *) cfg->class_names, cfg->channels, cfg->mean, cfg->std);
  meta->class_id = self->labels[0];
  for (guint i = 1; i < n; i++)
    if (self->labels[i] != self->labels[0])
      meta->class_id = -1;
  meta->position = self->n_batches;
  GST_BUFFER_PTS (buf) = self->pts;
  GST_BUFFER_DTS (buf) = self->dts;
  GST_BUFFER_DURATION (buf) = self->duration;
  GST_BUFFER_OFFSET (buf) = self->n_batches;
  GST_BUFFER_OFFSET_END (buf) = self->n_batches + 1;
  GST_LOG ("batch %" G_GUINT64_FORMAT ": %u samples, class %d", self->n_batches, n,
      meta->class_id);
  g_queue_push_tail (&self->ready, buf);
  self->n_batches++;
  return TRUE;
}

/* Copies region r of the frame to the host as planar uint8 [cin, r.h, r.w]:
 * R, G, B planes (grey repeated three times when cin is 3), or the grey plane. */
static void
crop_planar (const GstVideoFrame *frame, const GstVideoRectangle *r, guint cin, guint8 *dst)
{
  const gboolean grey = GST_VIDEO_INFO_IS_GRAY (&frame->info);
  for (guint ch = 0; ch < cin; ch++) {
    const guint comp = grey ? 0 : ch;  /* RGB formats: components 0, 1, 2 are R, G, B */
    const guint8 *base = GST_VIDEO_FRAME_COMP_DATA (frame, comp);
    const gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, comp);
    const gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, comp);
    for (gint y = 0; y < r->h; y++) {
      const guint8 *row = base + (gsize) (r->y + y) * stride + (gsize) r->x * ps;
      guint8 *out = dst + ((gsize) ch * r->h + y) * r->w;
      for (gint x = 0; x < r->w; x++)
        out[x] = row[(gsize) x * ps];
    }
  }
}

/* Region r of the frame as the next sample of the batch, with `label`. */
static gboolean
add_sample (GstNcfmBatcher *self, const GstVideoFrame *frame, const GstVideoRectangle *r,
    gint32 label, GError **error)
{
  const GstNcfmBatchConfig *cfg = &self->cfg;
  const gboolean grey = GST_VIDEO_INFO_IS_GRAY (&frame->info);
  const guint cin = cfg->channels == 1 && grey ? 1 : 3;  /* 3 for 1 channel: libncfm mixes luma */
  const gsize n = (gsize) cin * r->w * r->h;
  if (n > self->host_size) {
    self->host = g_realloc (self->host, n);
    self->host_size = n;
  }
  crop_planar (frame, r, cin, self->host);
  const guint count = ncfm_frame_batch_get_count (self->images);
  if (!ncfm_frame_batch_add (self->images, self->host, n, cin, (guint) r->h, (guint) r->w, error))
    return FALSE;
  self->labels[count] = label;
  return count + 1 < cfg->batch_size || gst_ncfm_batcher_flush (self, error);
}

/* The class of a region type: its index in the class names (case-insensitive), or -1. */
static gint32
class_of (GstNcfmBatcher *self, const gchar *type)
{
  for (guint i = 0; type && i < self->k; i++)
    if (g_ascii_strcasecmp (type, self->cfg.class_names[i]) == 0)
      return (gint32) i;
  return -1;
}

/* The frame's regions of interest as samples; *n_regions counts them, taken or skipped. */
static gboolean
add_regions (GstNcfmBatcher *self, const GstVideoFrame *frame, guint *n_regions,
    guint *skipped, GError **error)
{
  const gint64 fw = GST_VIDEO_FRAME_WIDTH (frame), fh = GST_VIDEO_FRAME_HEIGHT (frame);
  gpointer state = NULL;
  GstMeta *meta;
  while ((meta = gst_buffer_iterate_meta_filtered (frame->buffer, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    const GstVideoRegionOfInterestMeta *roi = (const GstVideoRegionOfInterestMeta *) meta;
    const gchar *type = g_quark_to_string (roi->roi_type);
    /* unlabeled: a detector's region of any type, its class left to a labeller */
    const gint32 label = self->cfg.unlabeled ? -1 : class_of (self, type);
    (*n_regions)++;
    /* clipped to the frame */
    const gint64 x0 = MIN ((gint64) roi->x, fw), y0 = MIN ((gint64) roi->y, fh);
    const GstVideoRectangle r = { (gint) x0, (gint) y0, (gint) MIN ((gint64) roi->w, fw - x0),
      (gint) MIN ((gint64) roi->h, fh - y0) };
    if ((label < 0 && !self->cfg.unlabeled) || r.w <= 0 || r.h <= 0) {
      GST_DEBUG ("skipping region %d \"%s\" %ux%u at %u,%u: %s", roi->id, type, roi->w, roi->h,
          roi->x, roi->y, r.w > 0 && r.h > 0 ? "its type is not a class name" : "outside the frame");
      (*skipped)++;
      continue;
    }
    if (!add_sample (self, frame, &r, label, error))
      return FALSE;
  }
  return TRUE;
}

/* The whole frame, or with aspect_crop its centre at the output's aspect ratio. */
static GstVideoRectangle
whole_frame (const GstNcfmBatchConfig *cfg, const GstVideoFrame *frame)
{
  const gint fw = GST_VIDEO_FRAME_WIDTH (frame), fh = GST_VIDEO_FRAME_HEIGHT (frame);
  GstVideoRectangle r = { 0, 0, fw, fh };
  if (!cfg->aspect_crop)
    return r;
  /* fw / fh against W / H, in integers: the wider one loses its sides */
  const guint64 lhs = (guint64) fw * cfg->height, rhs = (guint64) fh * cfg->width;
  if (lhs > rhs) {
    r.w = MAX (1, (gint) ((rhs + cfg->height / 2) / cfg->height));
    r.x = (fw - r.w) / 2;
  } else if (lhs < rhs) {
    r.h = MAX (1, (gint) ((lhs + cfg->width / 2) / cfg->width));
    r.y = (fh - r.h) / 2;
  }
  return r;
}

gboolean
gst_ncfm_batcher_add_frame (GstNcfmBatcher *self, const GstVideoFrame *frame, guint *skipped,
    gboolean *frame_skipped, GError **error)
{
  self->pts = GST_BUFFER_PTS (frame->buffer);
  self->dts = GST_BUFFER_DTS (frame->buffer);
  self->duration = GST_BUFFER_DURATION (frame->buffer);
  guint n_regions = 0;
  *skipped = 0;
  *frame_skipped = FALSE;
  if (self->cfg.use_roi && !add_regions (self, frame, &n_regions, skipped, error))
    return FALSE;
  if (n_regions)
    return TRUE;
  if (self->cfg.roi_only) {
    /* nothing detected: not a sample of the fixed label */
    *frame_skipped = TRUE;
    return TRUE;
  }
  const GstVideoRectangle whole = whole_frame (&self->cfg, frame);
  return add_sample (self, frame, &whole, self->cfg.label, error);
}
