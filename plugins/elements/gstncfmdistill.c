/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmdistill
 * @title: ncfmdistill
 * @short_description: the synthetic-set optimizer of NCFM dataset distillation
 *
 * A sink that keeps a synthetic set of #GstNcfmDistill:ipc stored images per
 * class and, for every incoming buffer of real features carrying an
 * #NcfmCFMeta (ncfmcf), takes one optimisation step on the stored images of
 * every class present in the buffer:
 *
 * stored images (pixel space [0, 1]) -> multi-formation decode
 * (#GstNcfmDistill:factor) -> normalisation with the stream's mean/std (the
 * #NcfmBatchMeta's, else the dataset's) -> the buffer's augmentation replayed
 * (#NcfmAugmentMeta, shared mode only) -> the ConvNet of the buffer's
 * #NcfmModelMeta -> features -> NCFD (or MMD) against the meta's real
 * per-class statistics at the meta's frequencies t.  The gradient flows back
 * through the same chain (no parameter gradients) to an AdamW step on the
 * stored images of the class (per-class AdamW state), which are then clamped
 * to [0, 1].
 *
 * When the meta's sampler is the learned one (ncfmcf sampler=learned) and
 * the metric is ncfd, dL/dt (synthetic and real parts) is sent to the
 * sampler under its lock (any draw still alive can be taken back, also when
 * ncfmcf has drawn again since), and one ascent step is taken per buffer
 * (per #GstNcfmDistill:sampler-step-every class steps).
 *
 * After every buffer the element posts an element message "ncfm-progress"
 * with fields step (guint64), loss (gdouble, the mean of the buffer's class
 * losses), class-ids and class-losses (GstValueArray of guint / gdouble),
 * images-per-second (gdouble, real images consumed per second since the
 * first buffer), nonfinite-steps (guint64, the class steps skipped so far
 * because their loss or gradient was not finite; they are not in class-ids)
 * and nonfinite-run (guint, how many of them in a row up to now; see
 * #GstNcfmDistill:max-nonfinite-steps).
 *
 * Nothing non-finite reaches the file: every save first checks the set
 * (ncfm_synset_validate(): finite pixels in [0, 1], finite AdamW and psi
 * state) and on a fault posts an error naming the step, class and tensor
 * without writing; a file found at start is checked the same way before
 * resuming from it.
 *
 * The set is saved atomically to #GstNcfmDistill:location every
 * #GstNcfmDistill:save-every steps and at EOS, in the synset format that
 * #NcfmDataset reads: `images` F32 [K * ipc, C, H, W] in [0, 1], `labels` I64,
 * plus `adamw.m`, `adamw.v` (F32, the images' shape) and `adamw.step` (I64
 * [K]), and metadata ncfm.format, ncfm.format_version, ncfm.class_names,
 * ncfm.mean, ncfm.std, ncfm.factor, ncfm.dataset, ncfm.ipc, ncfm.step and the
 * hyperparameters (ncfm.lr, ncfm.alpha, ncfm.beta, ncfm.metric, ncfm.init,
 * ncfm.seed).  When the file exists at start, the run resumes from it
 * (images, AdamW state, step); a file whose ipc, factor, image shape or
 * class count disagrees with the properties and the dataset, or that was
 * distilled from another dataset (see #GstNcfmDistill:allow-dataset-change),
 * is an error naming the property and both values, and the file is left
 * untouched.  The dataset's absolute path is saved as ncfm.dataset_path.
 *
 * The initial images come from ncfm_multiformation_init() on the dataset of
 * #GstNcfmDistill:dataset (read at start, also for init=noise: it fixes the
 * classes and geometry).
 *
 * The src pad emits preview frames (`video/x-raw, format=RGB`, framerate
 * #GstNcfmDistill:preview-fps): the stored images as a grid, one row per
 * class, for the first buffer, every #GstNcfmDistill:preview-every steps
 * and at EOS, so that `ncfmdistill ! videoconvert ! autovideosink` shows
 * the distillation live, `ncfmdistill ! pngenc ! multifilesink` keeps
 * snapshots and `ncfmdistill ! videoconvert ! vp8enc ! webmmux ! filesink`
 * records it.  Frames carry the step as their offset, a timestamp and a
 * duration (see #GstNcfmDistill:preview-fps).  With the src pad linked, the
 * element's change to PAUSED returns NO_PREROLL, as a live source does: the
 * preview frames come from the steps, which only run in PLAYING, so a sink
 * behind an encoder that waits for several frames (x264enc) could never
 * preroll.
 *
 * With #GstNcfmDistill:calib above 0 and an extractor that comes from a
 * model pool, each class step also descends the cross-entropy of the pool
 * member's trained model on the synthetic images (the calibration of the
 * reference implementation).
 *
 * Class shards: when the stream's #NcfmBatchMeta says it is class shard r
 * of N (ncfmdatasetsrc class-shard=true with shard-count N > 1, or
 * shard-count=0 under mpirun/srun), the element holds and steps only the
 * classes c with c mod N = r and writes them to #GstNcfmDistill:location
 * with "%r" replaced by r, in the shard format that `ncfm-synset merge`
 * joins (all class names, the shard's images and AdamW state, adamw.step 0
 * for the other classes, ncfm.class_shard "r/N").  Steps count the whole
 * run's batches (the source keeps them numbered as in a run over every
 * class), so the shards' ncfm.step agree at the end of every round and at
 * EOS, and the merge of the shards is byte for byte the set one process
 * writes with the same seeds (Gaussian sampler).  A shard resumes from its
 * own file only (another shard's or a whole set is refused, naming both);
 * on resume it skips the batches below the file's step, which the file
 * already holds, so rerunning a stopped or failed job ends as an
 * uninterrupted one.  With the learned sampler each shard trains its own
 * psi on its classes and saves it in its file; the merged set keeps psi
 * only when every shard's is identical (otherwise it holds none and a run
 * resumed from it starts psi afresh), and differs from a one-process run.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m ncfmdatasetsrc epochs=3 batch-size=256 ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=256 ! ncfmdistill location=/tmp/fm-synset.safetensors ipc=1
 * ]| Distils Fashion-MNIST to one image per class.
 * |[
 * mpirun -np 2 gst-launch-1.0 ncfmdatasetsrc epochs=3 class-shard=true shard-count=0 ! ncfmaugment ! ncfmconvnet width=32 ! ncfmcf num-freqs=256 ! ncfmdistill location=/tmp/fm-%r.safetensors ipc=1 && ncfm-synset merge /tmp/fm-0.safetensors /tmp/fm-1.safetensors -o /tmp/fm-synset.safetensors
 * ]| The same with the classes divided between two ranks.
 */
#include "gstncfmdistill-private.h"

#include <string.h>

#include "gstncfmaugmentmeta.h"
#include "gstncfmcfmeta.h"
#include "gstncfmcaps.h"
#include "gstncfmmeta.h"
#include "gstncfmmodelmeta.h"

GST_DEBUG_CATEGORY (gst_ncfm_distill_debug);
#define GST_CAT_DEFAULT gst_ncfm_distill_debug



#define gst_ncfm_distill_parent_class parent_class
G_DEFINE_TYPE (GstNcfmDistill, gst_ncfm_distill, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (ncfmdistill, "ncfmdistill", GST_RANK_NONE, GST_TYPE_NCFM_DISTILL);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw, format = (string) RGB, "
        "width = (int) [ 1, MAX ], height = (int) [ 1, MAX ], "
        "framerate = (fraction) [ 1/3600, 1000/1 ]"));

/* ---- state ---- */

static void
clear_state (GstNcfmDistill *self)
{
  g_clear_object (&self->distiller);
  g_clear_object (&self->synset);
  g_clear_object (&self->psi);
  g_clear_object (&self->device);
  g_clear_object (&self->resume);
  g_clear_object (&self->ds);
  g_clear_pointer (&self->ds_name, g_free);
  g_clear_pointer (&self->ds_class_names, g_free);
  g_clear_pointer (&self->ds_path, g_free);
  g_clear_pointer (&self->s_location, g_free);
  g_clear_pointer (&self->set_lock, ncfm_file_lock_release);
  self->shard_index = 0;
  self->shard_count = 1;
  self->shard_round = 0;
  gst_ncfm_distill_dp_clear (self);
  self->step = 0;
  self->saved_step = G_MAXUINT64;
  self->previewed_step = G_MAXUINT64;
  self->n_real = 0;
  self->failed = FALSE;
  self->t0 = 0;
  self->warned_per_sample = FALSE;
  self->warned_no_trained = FALSE;
}

static gboolean
gst_ncfm_distill_start (GstBaseSink *sink)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (sink);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dataset = NULL;

  clear_state (self);
  dataset = gst_ncfm_distill_copy_properties (self);

  if (!self->s_location || !*self->s_location) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No location set for the synthetic set"),
        ("property location is required"));
    return FALSE;
  }
  /* held from here; released by any failure below (a failed start gets no
   * stop); a per-shard location ("%r") is claimed at the first buffer, and so
   * is a rank's above 0 (data parallel: only rank 0 writes) */
  const gboolean per_shard = gst_ncfm_distill_location_per_shard (self);
  g_autoptr (NcfmFileLock) claim = NULL;
  if (!per_shard && !gst_ncfm_distill_dp_defer_claim (self)
      && !(claim = gst_ncfm_distill_claim_location (self)))
    return FALSE;
  if (!dataset || !*dataset) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No dataset set"), ("property dataset"));
    return FALSE;
  }
  self->ds = ncfm_dataset_load (dataset, NCFM_DATASET_FORMAT_AUTO, "train", 0,
      NCFM_DATASET_FLAGS_NONE, NULL, &error);
  if (!self->ds) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot read the dataset %s: %s", dataset,
            error->message), ("property dataset"));
    return FALSE;
  }
  self->k = ncfm_dataset_get_num_classes (self->ds);
  self->ds_name = g_strdup (ncfm_dataset_get_name (self->ds));
  self->ds_path = gst_ncfm_distill_dataset_path (dataset);
  self->ds_class_names = gst_ncfm_distill_class_names_json (self->ds);
  self->c = ncfm_dataset_get_channels (self->ds);
  self->h = ncfm_dataset_get_height (self->ds);
  self->w = ncfm_dataset_get_width (self->ds);
  if (self->c > NCFM_MAX_CHANNELS || self->k == 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Dataset %s has %u channels and %u classes; "
            "1 to %d channels and at least one class are supported", dataset, self->c,
            self->k, NCFM_MAX_CHANNELS), ("property dataset"));
    return FALSE;
  }
  if (self->h % self->s_factor || self->w % self->s_factor) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property factor %u does not divide the "
            "dataset's %ux%u images", self->s_factor, self->h, self->w), ("property factor"));
    return FALSE;
  }
  if (!per_shard && !gst_ncfm_distill_open_resume (self))
    return FALSE;
  self->set_lock = g_steal_pointer (&claim);
  return TRUE;
}

static gboolean
gst_ncfm_distill_stop (GstBaseSink *sink)
{
  clear_state (GST_NCFM_DISTILL (sink));
  return TRUE;
}

/* Resuming: the learned sampler continues from the file's psi state. */
static gboolean
resume_psi (GstNcfmDistill *self, NcfmSafetensors *st, NcfmCFMeta *cf)
{
  g_autoptr (GError) error = NULL;
  const gboolean saved = ncfm_safetensors_get_metadata (st, "psi.kind") != NULL;
  const gboolean learned = cf->sampler
      && ncfm_sampler_get_kind (cf->sampler) == NCFM_SAMPLER_LEARNED;
  if (!saved || !learned) {
    if (saved != learned)
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s %s a learned sampler but the stream's "
              "is %s: %s", self->s_location, saved ? "holds" : "does not hold",
              learned ? "learned" : "not", saved ? "its psi state is not used" :
              "psi starts afresh"), ("ncfmcf property sampler"));
    return TRUE;
  }
  /* the device lock first, then the sampler's, as ncfmcf takes them */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (ncfm_sampler_get_device (cf->sampler));
  ncfm_cf_meta_lock_sampler (cf);
  const gboolean ok = ncfm_sampler_load_state (cf->sampler, st, "psi.", &error);
  ncfm_cf_meta_unlock_sampler (cf);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot continue the learned sampler saved "
            "in %s: %s", self->s_location, error->message),
        ("ncfmcf properties num-freqs and sampler, and the extractor's feature size, must match "
            "the run that wrote the file"));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "psi continues from %s", self->s_location);
  return TRUE;
}

/* The set of the properties and the dataset, its images initialised or
 * resumed from the file found at start; NULL (an error posted) on failure. */
static NcfmSynset *
make_synset (GstNcfmDistill *self, NcfmCFMeta *cf, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSynset) set = ncfm_synset_new_class_shard (self->ds, self->s_ipc,
      self->s_factor, self->shard_index, self->shard_count, dev, &error);
  if (!set) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot allocate the synthetic set: %s",
            error->message), ("property ipc"));
    return NULL;
  }
  ncfm_synset_set_dataset_path (set, self->ds_path);
  if (self->resume) {
    if (!ncfm_synset_load_state (set, self->resume, &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot resume from %s: %s (not "
              "overwriting it)", self->s_location, error->message), ("property location"));
      return NULL;
    }
    if (!resume_psi (self, self->resume, cf))
      return NULL;
    self->step = self->saved_step = ncfm_synset_get_step (set);
    g_clear_object (&self->resume);
  } else if (!ncfm_synset_init_images (set, self->ds, self->s_init, self->s_seed, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot initialise the synthetic set: %s",
            error->message), ("properties init, ipc, factor, dataset"));
    return NULL;
  }
  /* a resumed set records this run's settings, as a new one does */
  g_autofree gchar *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, self->s_seed);
  ncfm_synset_set_metadata (set, "ncfm.init", ncfm_synset_init_to_string (self->s_init));
  ncfm_synset_set_metadata (set, "ncfm.seed", seed);
  return g_steal_pointer (&set);
}

/* On the first buffer: the stored images (init or resumed) on the stream's
 * device and their distiller. */
static gboolean
ensure_state (GstNcfmDistill *self, GstBuffer *buf, NcfmCFMeta *cf, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  if (self->synset) {
    if (dev != self->device) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The input moved from %s to %s",
              ncfm_device_get_name (self->device), ncfm_device_get_name (dev)), (NULL));
      return FALSE;
    }
    return TRUE;
  }
  NcfmModelMeta *mm = gst_buffer_get_ncfm_model_meta (buf);
  if (mm && (mm->in_channels != self->c || mm->height != self->h || mm->width != self->w)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The model takes [%u,%u,%u] images but the "
            "dataset (property dataset) has [%u,%u,%u]", mm->in_channels, mm->height, mm->width,
            self->c, self->h, self->w), (NULL));
    return FALSE;
  }
  if (cf->num_classes != self->k) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The stream has %u classes but the dataset "
            "(property dataset) has %u", cf->num_classes, self->k), (NULL));
    return FALSE;
  }
  if (!gst_ncfm_distill_shard_begin (self, buf) || !gst_ncfm_distill_dp_setup (self, buf))
    return FALSE;
  g_autoptr (NcfmSynset) set = make_synset (self, cf, dev);
  if (!set)
    return FALSE;
  /* the stream's normalisation, else the dataset's */
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  if (bm && bm->channels == self->c)
    ncfm_synset_set_normalization (set, bm->mean, bm->std, self->c);
  self->distiller = ncfm_distiller_new (set, self->s_metric, self->s_alpha, self->s_beta,
      &error);
  if (!self->distiller) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        ("properties alpha, beta"));
    return FALSE;
  }
  ncfm_distiller_set_optimizer (self->distiller, self->s_lr, self->s_weight_decay);
  ncfm_distiller_set_calibration (self->distiller, self->s_calib);
  const guint every = gst_ncfm_distill_sampler_step_every (self, set, bm);
  if (!ncfm_distiller_set_sampler_step_every (self->distiller, every, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property sampler-step-every %u: %s",
            self->s_sampler_step_every, error->message), ("0 counts the stream's classes "
            "that this element steps"));
    return FALSE;
  }
  /* the real images were needed for the initial set only */
  g_clear_object (&self->ds);
  self->device = g_object_ref (dev);
  self->synset = g_steal_pointer (&set);
  self->t0 = g_get_monotonic_time ();
  return TRUE;
}

static gboolean
learned_sampler (GstNcfmDistill *self, NcfmCFMeta *cf)
{
  return self->s_metric == NCFM_METRIC_NCFD && cf->sampler
      && ncfm_sampler_get_kind (cf->sampler) == NCFM_SAMPLER_LEARNED;
}

/* The metas every buffer needs, and the synthetic set in place for them. */
static gboolean
buffer_metas (GstNcfmDistill *self, GstBuffer *buf, NcfmCFMeta **cf, NcfmModelMeta **mm)
{
  *cf = gst_buffer_get_ncfm_cf_meta (buf);
  *mm = gst_buffer_get_ncfm_model_meta (buf);
  if (!*cf || !*mm || !NCFM_IS_MODEL ((*mm)->model)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Buffer without %s", !*cf ? "an NcfmCFMeta: "
            "ncfmdistill takes the output of ncfmcf behind an ncfm extractor (ncfmconvnet, "
            "ncfmresnet), whose metas a non-ncfm element cannot attach (put ncfmcf upstream)"
            : "an NcfmModelMeta (put an extractor such as ncfmconvnet upstream)"), (NULL));
    return FALSE;
  }
  return ensure_state (self, buf, *cf, ncfm_tensor_get_device ((*cf)->features));
}

/* The first buffer: the set is initialised (or resumed) and its first preview
 * pushed now, so that a sink behind the src pad can preroll too. */
static GstFlowReturn
gst_ncfm_distill_preroll (GstBaseSink *sink, GstBuffer *buf)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (sink);
  NcfmCFMeta *cf;
  NcfmModelMeta *mm;
  if (!buffer_metas (self, buf, &cf, &mm))
    return GST_FLOW_ERROR;
  /* the device is shared with the upstream elements, which may run in other threads */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (ncfm_tensor_get_device (cf->features));
  /* preroll comes again after every PLAYING -> PAUSED: one first frame only */
  if (self->previewed_step != G_MAXUINT64)
    return GST_FLOW_OK;
  gst_ncfm_distill_queue_preview (self);
  return GST_FLOW_OK;
}

/* A skipped class step (non-finite loss or gradient), counted by the
 * distiller: logged; FALSE (an error posted) when it makes
 * max-nonfinite-steps in a row. */
static gboolean
report_nonfinite (GstNcfmDistill *self, guint c, gdouble loss)
{
  const guint run = ncfm_distiller_get_nonfinite_run (self->distiller);
  GST_WARNING_OBJECT (self, "step %" G_GUINT64_FORMAT ", class %u: non-finite loss (%g) or "
      "gradient, step skipped (%u in a row, %" G_GUINT64_FORMAT " in all)", self->step + 1, c,
      loss, run, ncfm_distiller_get_nonfinite_steps (self->distiller));
  if (!self->s_max_nonfinite_steps || run < self->s_max_nonfinite_steps)
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Step %" G_GUINT64_FORMAT ", class %u: %u class "
          "steps in a row had a non-finite loss or gradient (property max-nonfinite-steps); %s "
          "keeps its last good save", self->step + 1, c, run, self->s_location),
      ("lower lr, or the learned sampler's sampler-lr or sigma of ncfmcf"));
  return FALSE;
}

static void
append_value (GValue *array, GType type, guint c, gdouble loss)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  if (type == G_TYPE_UINT)
    g_value_set_uint (&v, c);
  else
    g_value_set_double (&v, loss);
  gst_value_array_append_and_take_value (array, &v);
}

/* The trained model for calibration, NULL when there is none (warned once)
 * or calib is 0; FALSE (an error posted) when it does not fit the set. */
static gboolean
calibration_model (GstNcfmDistill *self, NcfmModelMeta *mm, NcfmModel **trained)
{
  *trained = NULL;
  if (self->s_calib <= 0.0f)
    return TRUE;
  if (mm->trained && NCFM_IS_MODEL (mm->trained)) {
    *trained = NCFM_MODEL (mm->trained);
    if (ncfm_model_get_num_classes (*trained) != self->k) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("calib: the pool's trained model has %u "
              "classes but the dataset (property dataset) has %u",
              ncfm_model_get_num_classes (*trained), self->k), ("property calib"));
      return FALSE;
    }
  } else if (!self->warned_no_trained) {
    GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("calib is %g but the extractor gives no "
            "trained model (it needs a model pool): no calibration", self->s_calib),
        ("property calib"));
    self->warned_no_trained = TRUE;
  }
  return TRUE;
}

/* The buffer's augmentation when it can be replayed (shared mode). */
static NcfmAugmentParams *
replayable_augmentation (GstNcfmDistill *self, GstBuffer *buf)
{
  NcfmAugmentMeta *am = gst_buffer_get_ncfm_augment_meta (buf);
  NcfmAugmentParams *params = am ? am->params : NULL;
  if (params && ncfm_augment_params_get_mode (params) != NCFM_AUGMENT_SHARED) {
    if (!self->warned_per_sample)
      GST_WARNING_OBJECT (self, "per-sample augmentation cannot be replayed on the synthetic "
          "batch: matching without augmentation (use ncfmaugment mode=shared)");
    self->warned_per_sample = TRUE;
    params = NULL;
  }
  return params;
}

/* The class steps of the buffer, under the device lock; FALSE (an error
 * posted) on failure. */
static gboolean
step_classes (GstNcfmDistill *self, GstBuffer *buf, NcfmCFMeta *cf, NcfmModelMeta *mm,
    GValue *ids, GValue *losses, gdouble *sum, guint *n_done)
{
  g_autoptr (GError) error = NULL;
  NcfmModel *trained = NULL;
  if (!calibration_model (self, mm, &trained))
    return FALSE;
  NcfmAugmentParams *params = replayable_augmentation (self, buf);
  /* the device is shared with the upstream elements, which may run in other
   * threads: held for the class steps and psi's step (then the device lock,
   * then the sampler's, as ncfmcf takes them); not for the save */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  for (guint i = 0; i < cf->n_class_ids; i++) {
    const guint c = cf->class_ids[i];
    gdouble loss = 0.0;
    gboolean skipped = FALSE;
    if (c >= self->k)
      continue;
    if (!gst_ncfm_distill_shard_holds (self, c))
      return FALSE;
    if (!ncfm_distiller_step_class (self->distiller, c, cf->stats, cf->freq_draw, cf->features,
            cf->labels, NCFM_MODEL (mm->model), trained, params, &loss, &skipped,
            &error)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Distillation step on class %u failed: %s", c,
              error->message), (NULL));
      return FALSE;
    }
    if (skipped && !report_nonfinite (self, c, loss))
      return FALSE;
    if (skipped)
      continue;
    append_value (ids, G_TYPE_UINT, c, 0.0);
    append_value (losses, G_TYPE_DOUBLE, 0, loss);
    *sum += loss;
    (*n_done)++;
  }
  if (learned_sampler (self, cf) && self->psi != cf->sampler)
    g_set_object (&self->psi, cf->sampler);
  ncfm_distiller_end_step (self->distiller);
  return TRUE;
}

static GstFlowReturn
gst_ncfm_distill_render (GstBaseSink *sink, GstBuffer *buf)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (sink);
  NcfmCFMeta *cf;
  NcfmModelMeta *mm;
  if (!buffer_metas (self, buf, &cf, &mm))
    return GST_FLOW_ERROR;
  if (gst_ncfm_distill_shard_done (self, buf))
    return GST_FLOW_OK;
  const guint64 prev_step = self->step;

  GValue ids = G_VALUE_INIT, losses = G_VALUE_INIT;
  gst_value_array_init (&ids, cf->n_class_ids);
  gst_value_array_init (&losses, cf->n_class_ids);
  gdouble sum = 0.0;
  guint n_done = 0;
  if (!step_classes (self, buf, cf, mm, &ids, &losses, &sum, &n_done)) {
    g_value_unset (&ids);
    g_value_unset (&losses);
    self->failed = TRUE;
    return GST_FLOW_ERROR;
  }
  self->step = gst_ncfm_distill_shard_step (self, buf);
  self->n_real += (guint64) ncfm_tensor_get_dim (cf->features, 0);
  const gdouble secs = (g_get_monotonic_time () - self->t0) / 1e6;
  const gdouble mean_loss = n_done ? sum / n_done : 0.0;
  GST_DEBUG_OBJECT (self, "step %" G_GUINT64_FORMAT ": loss %g over %u classes", self->step,
      mean_loss, n_done);
  GstStructure *s = gst_structure_new ("ncfm-progress",
      "step", G_TYPE_UINT64, self->step,
      "loss", G_TYPE_DOUBLE, mean_loss,
      "images-per-second", G_TYPE_DOUBLE, secs > 0 ? self->n_real / secs : 0.0,
      "nonfinite-steps", G_TYPE_UINT64, ncfm_distiller_get_nonfinite_steps (self->distiller),
      "nonfinite-run", G_TYPE_UINT, ncfm_distiller_get_nonfinite_run (self->distiller), NULL);
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "class-losses", &losses);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));

  if (!gst_ncfm_distill_dp_check (self, FALSE)
      || (self->s_save_every && self->step / self->s_save_every != prev_step / self->s_save_every
          && !gst_ncfm_distill_save (self))) {
    self->failed = TRUE;
    return GST_FLOW_ERROR;
  }
  if (self->s_preview_every
      && self->step / self->s_preview_every != prev_step / self->s_preview_every)
    gst_ncfm_distill_queue_preview (self);
  return GST_FLOW_OK;
}

static gboolean
gst_ncfm_distill_event (GstBaseSink *sink, GstEvent *event)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (sink);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS: {
      /* the final set, then the end of the preview stream (both take the
       * device lock where they need it) */
      const gboolean saved = !self->synset || self->failed
          || (gst_ncfm_distill_dp_check (self, TRUE)
              && (self->saved_step == self->step || gst_ncfm_distill_save (self)));
      if (saved)
        gst_ncfm_distill_queue_preview (self);
      if (!saved) {
        gst_event_unref (event);
        return FALSE;
      }
      gst_ncfm_distill_preview_eos (self);
      break;
    }
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP:
      gst_ncfm_distill_preview_flush (self, event);
      break;
    default:
      break;
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* With the preview linked, the pipeline does not wait for this sink to preroll (see
 * gst_ncfm_distill_preview_change_state). */
static GstStateChangeReturn
gst_ncfm_distill_change_state (GstElement *element, GstStateChange transition)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    gst_base_sink_set_async_enabled (GST_BASE_SINK (self), !gst_pad_is_linked (self->srcpad));
  const GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element,
      transition);
  return gst_ncfm_distill_preview_change_state (self, transition, ret);
}

/* ---- GObject ---- */


static void
gst_ncfm_distill_finalize (GObject *object)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (object);
  clear_state (self);
  gst_ncfm_distill_preview_finalize (self);
  g_free (self->location);
  g_free (self->dataset);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_ncfm_distill_class_init (GstNcfmDistillClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->finalize = gst_ncfm_distill_finalize;
  gst_ncfm_distill_install_properties (gobject_class);
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM distiller", "Sink/Tensor",
      "Optimises a synthetic set against the real CF statistics (NCFM) and saves it",
      "gst-ncfm");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_ncfm_distill_change_state);
  sink_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_distill_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_distill_stop);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_ncfm_distill_render);
  sink_class->preroll = GST_DEBUG_FUNCPTR (gst_ncfm_distill_preroll);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_ncfm_distill_event);
  GST_DEBUG_CATEGORY_INIT (gst_ncfm_distill_debug, "ncfmdistill", 0,
      "NCFM synthetic-set optimizer");
}

static void
gst_ncfm_distill_init (GstNcfmDistill *self)
{
  gst_ncfm_distill_init_properties (self);
  gst_ncfm_distill_preview_init (self, &src_template);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
