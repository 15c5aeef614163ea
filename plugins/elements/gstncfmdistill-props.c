/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-props.c: ncfmdistill's properties: their specs, defaults,
 * get/set, and the copy the streaming thread works with from start. */
#include "gstncfmdistill-private.h"

#define DEFAULT_LOCATION NULL
#define DEFAULT_DATASET NCFM_DEFAULT_DATASET
#define DEFAULT_IPC 10
#define DEFAULT_FACTOR 2
#define MAX_FACTOR 8
#define DEFAULT_INIT NCFM_SYNSET_INIT_MIX
#define DEFAULT_LR 0.01f
#define DEFAULT_ALPHA 0.5f
#define DEFAULT_BETA 0.5f
#define DEFAULT_METRIC NCFM_METRIC_NCFD
#define DEFAULT_SAVE_EVERY 100
#define DEFAULT_SEED 0
#define DEFAULT_WEIGHT_DECAY 5e-4f
#define DEFAULT_CALIB 0.0f
#define DEFAULT_PREVIEW_EVERY 10
#define DEFAULT_MAX_NONFINITE_STEPS 10
#define DEFAULT_ALLOW_DATASET_CHANGE FALSE
#define DEFAULT_PREVIEW_FPS_N 1
#define DEFAULT_PREVIEW_FPS_D 1
#define DEFAULT_CHECK_EVERY 50
#define DEFAULT_SAMPLER_STEP_EVERY 1


enum {
  PROP_0,
  PROP_LOCATION,
  PROP_DATASET,
  PROP_IPC,
  PROP_FACTOR,
  PROP_INIT,
  PROP_LR,
  PROP_ALPHA,
  PROP_BETA,
  PROP_METRIC,
  PROP_SAVE_EVERY,
  PROP_SEED,
  PROP_WEIGHT_DECAY,
  PROP_CALIB,
  PROP_PREVIEW_EVERY,
  PROP_MAX_NONFINITE_STEPS,
  PROP_ALLOW_DATASET_CHANGE,
  PROP_PREVIEW_FPS,
  PROP_CHECK_EVERY,
  PROP_SAMPLER_STEP_EVERY,
};

#define GST_TYPE_NCFM_DISTILL_INIT (gst_ncfm_distill_init_get_type ())
static GType
gst_ncfm_distill_init_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_SYNSET_INIT_NOISE, "Uniform noise in [0, 1)", "noise" },
    { NCFM_SYNSET_INIT_REAL, "A real image of the class per stored image", "real" },
    { NCFM_SYNSET_INIT_MIX, "Every tile a downsampled real image of the class", "mix" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmDistillInit", values));
  return type;
}

#define GST_TYPE_NCFM_DISTILL_METRIC (gst_ncfm_distill_metric_get_type ())
static GType
gst_ncfm_distill_metric_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_METRIC_NCFD, "Neural characteristic function discrepancy (NCFM)", "ncfd" },
    { NCFM_METRIC_MMD, "Squared distance of the class mean features (DM)", "mmd" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmDistillMetric", values));
  return type;
}

static void
gst_ncfm_distill_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION: g_free (self->location); self->location = g_value_dup_string (value); break;
    case PROP_DATASET: g_free (self->dataset); self->dataset = g_value_dup_string (value); break;
    case PROP_IPC: self->ipc = g_value_get_uint (value); break;
    case PROP_FACTOR: self->factor = g_value_get_uint (value); break;
    case PROP_INIT: self->init = g_value_get_enum (value); break;
    case PROP_LR: self->lr = g_value_get_float (value); break;
    case PROP_ALPHA: self->alpha = g_value_get_float (value); break;
    case PROP_BETA: self->beta = g_value_get_float (value); break;
    case PROP_METRIC: self->metric = g_value_get_enum (value); break;
    case PROP_SAVE_EVERY: self->save_every = g_value_get_uint (value); break;
    case PROP_SEED: self->seed = g_value_get_uint64 (value); break;
    case PROP_WEIGHT_DECAY: self->weight_decay = g_value_get_float (value); break;
    case PROP_CALIB: self->calib = g_value_get_float (value); break;
    case PROP_PREVIEW_EVERY: self->preview_every = g_value_get_uint (value); break;
    case PROP_MAX_NONFINITE_STEPS: self->max_nonfinite_steps = g_value_get_uint (value); break;
    case PROP_ALLOW_DATASET_CHANGE: self->allow_dataset_change = g_value_get_boolean (value); break;
    case PROP_CHECK_EVERY: self->check_every = g_value_get_uint (value); break;
    case PROP_SAMPLER_STEP_EVERY: self->sampler_step_every = g_value_get_uint (value); break;
    case PROP_PREVIEW_FPS:
      self->preview_fps_n = gst_value_get_fraction_numerator (value);
      self->preview_fps_d = gst_value_get_fraction_denominator (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_distill_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION: g_value_set_string (value, self->location); break;
    case PROP_DATASET: g_value_set_string (value, self->dataset); break;
    case PROP_IPC: g_value_set_uint (value, self->ipc); break;
    case PROP_FACTOR: g_value_set_uint (value, self->factor); break;
    case PROP_INIT: g_value_set_enum (value, self->init); break;
    case PROP_LR: g_value_set_float (value, self->lr); break;
    case PROP_ALPHA: g_value_set_float (value, self->alpha); break;
    case PROP_BETA: g_value_set_float (value, self->beta); break;
    case PROP_METRIC: g_value_set_enum (value, self->metric); break;
    case PROP_SAVE_EVERY: g_value_set_uint (value, self->save_every); break;
    case PROP_SEED: g_value_set_uint64 (value, self->seed); break;
    case PROP_WEIGHT_DECAY: g_value_set_float (value, self->weight_decay); break;
    case PROP_CALIB: g_value_set_float (value, self->calib); break;
    case PROP_PREVIEW_EVERY: g_value_set_uint (value, self->preview_every); break;
    case PROP_MAX_NONFINITE_STEPS: g_value_set_uint (value, self->max_nonfinite_steps); break;
    case PROP_ALLOW_DATASET_CHANGE: g_value_set_boolean (value, self->allow_dataset_change); break;
    case PROP_CHECK_EVERY: g_value_set_uint (value, self->check_every); break;
    case PROP_SAMPLER_STEP_EVERY: g_value_set_uint (value, self->sampler_step_every); break;
    case PROP_PREVIEW_FPS:
      gst_value_set_fraction (value, self->preview_fps_n, self->preview_fps_d);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

void
gst_ncfm_distill_install_properties (GObjectClass *gobject_class)
{
  gobject_class->set_property = gst_ncfm_distill_set_property;
  gobject_class->get_property = gst_ncfm_distill_get_property;
  /**
   * GstNcfmDistill:location:
   *
   * The synthetic set (.safetensors, synset format); required.  Resumed
   * from when it exists at start, written atomically every
   * #GstNcfmDistill:save-every steps and at EOS.  When the stream is a
   * class shard (ncfmdatasetsrc class-shard=true over several ranks), each
   * rank writes its own shard file: "%r" in the location is replaced by the
   * shard index (set-%r.safetensors gives set-0.safetensors, ...), and a
   * class-shard stream without "%r" here is an error.
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Synthetic set file (.safetensors; resumed from if it exists); with a class-shard "
          "stream, %r is replaced by the shard index (one file per rank)", DEFAULT_LOCATION,
          PARAM_FLAGS));
  /**
   * GstNcfmDistill:dataset:
   *
   * The real dataset (any format #NcfmDataset reads, train split): its
   * classes and geometry define the set and init=real/mix draws its images.
   */
  g_object_class_install_property (gobject_class, PROP_DATASET,
      g_param_spec_string ("dataset", "Dataset",
          "Real dataset location (classes, geometry, init images)", DEFAULT_DATASET,
          PARAM_FLAGS));
  /**
   * GstNcfmDistill:ipc:
   *
   * Stored images per class.
   */
  g_object_class_install_property (gobject_class, PROP_IPC,
      g_param_spec_uint ("ipc", "Images per class", "Stored synthetic images per class", 1,
          100000, DEFAULT_IPC, PARAM_FLAGS));
  /**
   * GstNcfmDistill:factor:
   *
   * Multi-formation factor rho: each stored image decodes to rho x rho
   * images (1 = none).  It must divide the image height and width.  The
   * default 2 is the method's.
   */
  g_object_class_install_property (gobject_class, PROP_FACTOR,
      g_param_spec_uint ("factor", "Factor",
          "Multi-formation tiles per side (1 = none; must divide H and W)", 1, MAX_FACTOR,
          DEFAULT_FACTOR, PARAM_FLAGS));
  /**
   * GstNcfmDistill:init:
   *
   * How the stored images start (ignored when resuming).
   */
  g_object_class_install_property (gobject_class, PROP_INIT,
      g_param_spec_enum ("init", "Init", "How the stored images start",
          GST_TYPE_NCFM_DISTILL_INIT, DEFAULT_INIT, PARAM_FLAGS));
  /**
   * GstNcfmDistill:lr:
   *
   * AdamW learning rate on the stored pixels (betas 0.9/0.999, eps 1e-8,
   * decoupled weight decay #GstNcfmDistill:weight-decay).
   */
  g_object_class_install_property (gobject_class, PROP_LR,
      g_param_spec_float ("lr", "Learning rate", "AdamW learning rate on the images", 0.0f,
          1.0f, DEFAULT_LR, PARAM_FLAGS));
  /**
   * GstNcfmDistill:alpha:
   *
   * NCFD weight of the amplitude term.
   */
  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_float ("alpha", "Alpha", "NCFD weight of the amplitude term", 0.0f, 1.0f,
          DEFAULT_ALPHA, PARAM_FLAGS));
  /**
   * GstNcfmDistill:beta:
   *
   * NCFD weight of the phase term.
   */
  g_object_class_install_property (gobject_class, PROP_BETA,
      g_param_spec_float ("beta", "Beta", "NCFD weight of the phase term", 0.0f, 1.0f,
          DEFAULT_BETA, PARAM_FLAGS));
  /**
   * GstNcfmDistill:metric:
   *
   * ncfd (NCFM) or mmd (squared distance of class mean features, DM).
   */
  g_object_class_install_property (gobject_class, PROP_METRIC,
      g_param_spec_enum ("metric", "Metric", "Matching loss",
          GST_TYPE_NCFM_DISTILL_METRIC, DEFAULT_METRIC, PARAM_FLAGS));
  /**
   * GstNcfmDistill:save-every:
   *
   * Steps (buffers) between saves; 0 saves only at EOS.
   */
  g_object_class_install_property (gobject_class, PROP_SAVE_EVERY,
      g_param_spec_uint ("save-every", "Save every",
          "Steps between saves of the set (0 = only at EOS)", 0, G_MAXUINT, DEFAULT_SAVE_EVERY,
          PARAM_FLAGS));
  /**
   * GstNcfmDistill:seed:
   *
   * Seed of the initial images.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the initial images", 0, G_MAXUINT64,
          DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmDistill:weight-decay:
   *
   * AdamW's decoupled weight decay on the stored pixels.
   */
  g_object_class_install_property (gobject_class, PROP_WEIGHT_DECAY,
      g_param_spec_float ("weight-decay", "Weight decay", "AdamW weight decay on the images",
          0.0f, 1.0f, DEFAULT_WEIGHT_DECAY, PARAM_FLAGS));
  /**
   * GstNcfmDistill:calib:
   *
   * Weight of the calibration term: the cross-entropy of the pool member's
   * trained model (the #NcfmModelMeta's trained model; an extractor with a
   * model pool) on the augmented synthetic images against their class,
   * added to the matching loss of every class step.  0 turns it off.
   */
  g_object_class_install_property (gobject_class, PROP_CALIB,
      g_param_spec_float ("calib", "Calibration",
          "Weight of the cross-entropy through the trained pool member (0 = off)", 0.0f,
          1000.0f, DEFAULT_CALIB, PARAM_FLAGS));
  /**
   * GstNcfmDistill:preview-every:
   *
   * Steps between preview frames on the src pad (an RGB grid of the stored
   * images, one row per class).  A frame is also pushed for the first
   * buffer and at EOS.  0 = only those two.
   */
  g_object_class_install_property (gobject_class, PROP_PREVIEW_EVERY,
      g_param_spec_uint ("preview-every", "Preview every",
          "Steps between preview frames on the src pad (0 = first and last only)", 0,
          G_MAXUINT, DEFAULT_PREVIEW_EVERY, PARAM_FLAGS));
  /**
   * GstNcfmDistill:max-nonfinite-steps:
   *
   * A class step whose loss, gradient on the images or (learned sampler)
   * dL/dt is not finite is skipped: the class's images, their AdamW state and
   * psi stay as they were, a warning is logged and the ncfm-progress message
   * counts it.  This many skipped class steps in a row are an error (the
   * file keeps its last good save); 0 never errors.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_NONFINITE_STEPS,
      g_param_spec_uint ("max-nonfinite-steps", "Max non-finite steps",
          "Class steps in a row skipped for a non-finite loss or gradient before an error "
          "(0 = never)", 0, G_MAXUINT, DEFAULT_MAX_NONFINITE_STEPS, PARAM_FLAGS));
  /**
   * GstNcfmDistill:allow-dataset-change:
   *
   * Resuming a set distilled from another dataset (another ncfm.dataset
   * name or path, or other class names) is an error unless this is set; then
   * the set continues on the new dataset, whose name the next save records.
   */
  g_object_class_install_property (gobject_class, PROP_ALLOW_DATASET_CHANGE,
      g_param_spec_boolean ("allow-dataset-change", "Allow dataset change",
          "Resume a set distilled from another dataset (of the same shape)",
          DEFAULT_ALLOW_DATASET_CHANGE, PARAM_FLAGS));
  /**
   * GstNcfmDistill:preview-fps:
   *
   * Frame rate of the preview stream (the caps' framerate, each frame's
   * duration).  A frame's timestamp is the later of one frame after the
   * previous frame and the pipeline's running time when it is pushed: a
   * display sink shows frames as they come, and a file recorded faster than
   * real time gets every preview frame, one frame duration apart.
   */
  g_object_class_install_property (gobject_class, PROP_PREVIEW_FPS,
      gst_param_spec_fraction ("preview-fps", "Preview frame rate",
          "Frame rate of the preview stream on the src pad (frames at least 1/preview-fps "
          "apart)", 1, 3600, 1000, 1, DEFAULT_PREVIEW_FPS_N, DEFAULT_PREVIEW_FPS_D,
          PARAM_FLAGS));
  /**
   * GstNcfmDistill:check-every:
   *
   * Data parallel only (ncfmdatasetsrc shard-count > 1 without
   * class-shard): every rank keeps its own copy of the set and takes the
   * same steps, so the copies must stay equal.  The ranks compare a
   * checksum of their copies after the first step, every this many steps
   * and at EOS, and stop with an error naming the step and the ranks when
   * they differ (the file keeps its last save).  0 = after the first step
   * and at EOS only.
   */
  g_object_class_install_property (gobject_class, PROP_CHECK_EVERY,
      g_param_spec_uint ("check-every", "Check every",
          "Data parallel: steps between the ranks' comparisons of their copies of the set "
          "(0 = first step and EOS only)", 0, G_MAXUINT, DEFAULT_CHECK_EVERY, PARAM_FLAGS));
  /**
   * GstNcfmDistill:sampler-step-every:
   *
   * The learned sampler (ncfmcf sampler=learned, metric ncfd) only: psi's
   * gradient ascent takes one step per this many class steps, on the SUM of
   * their gradients (momentum and weight decay applied once per step); psi
   * draws with the same weights until then.  1 (the default): a step after
   * every buffer.  0: once per round, as many class steps as the stream's
   * classes this element steps (ncfmdatasetsrc mode=per-class: one step per
   * epoch of the source; a class shard counts its own classes).  A buffer of
   * several classes (mode=mixed) steps at its end once the count is reached.
   * Gradients of a window not complete at a save are not in the file: a
   * resumed run starts a fresh window (save-every a multiple of the window
   * keeps per-class runs exact).
   */
  g_object_class_install_property (gobject_class, PROP_SAMPLER_STEP_EVERY,
      g_param_spec_uint ("sampler-step-every", "Sampler step every",
          "Learned sampler: class steps whose summed gradient psi ascends in one step "
          "(1 = every buffer, 0 = once per round of the classes)", 0,
          NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY, DEFAULT_SAMPLER_STEP_EVERY, PARAM_FLAGS));
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_DISTILL_INIT, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_DISTILL_METRIC, 0);
}

void
gst_ncfm_distill_init_properties (GstNcfmDistill *self)
{
  self->dataset = g_strdup (DEFAULT_DATASET);
  self->ipc = DEFAULT_IPC;
  self->factor = DEFAULT_FACTOR;
  self->init = DEFAULT_INIT;
  self->lr = DEFAULT_LR;
  self->alpha = DEFAULT_ALPHA;
  self->beta = DEFAULT_BETA;
  self->metric = DEFAULT_METRIC;
  self->save_every = DEFAULT_SAVE_EVERY;
  self->seed = DEFAULT_SEED;
  self->weight_decay = DEFAULT_WEIGHT_DECAY;
  self->calib = DEFAULT_CALIB;
  self->preview_every = DEFAULT_PREVIEW_EVERY;
  self->max_nonfinite_steps = DEFAULT_MAX_NONFINITE_STEPS;
  self->allow_dataset_change = DEFAULT_ALLOW_DATASET_CHANGE;
  self->preview_fps_n = DEFAULT_PREVIEW_FPS_N;
  self->preview_fps_d = DEFAULT_PREVIEW_FPS_D;
  self->check_every = DEFAULT_CHECK_EVERY;
  self->sampler_step_every = DEFAULT_SAMPLER_STEP_EVERY;
}

/* The property values the streaming thread uses from start to stop (s_*);
 * returns the dataset property. */
gchar *
gst_ncfm_distill_copy_properties (GstNcfmDistill *self)
{
  GST_OBJECT_LOCK (self);
  self->s_location = g_strdup (self->location);
  gchar *dataset = g_strdup (self->dataset);
  self->s_ipc = self->ipc;
  self->s_factor = self->factor;
  self->s_save_every = self->save_every;
  self->s_init = self->init;
  self->s_lr = self->lr;
  self->s_weight_decay = self->weight_decay;
  self->s_calib = self->calib;
  self->s_preview_every = self->preview_every;
  self->s_alpha = self->alpha;
  self->s_beta = self->beta;
  self->s_metric = self->metric;
  self->s_seed = self->seed;
  self->s_max_nonfinite_steps = self->max_nonfinite_steps;
  self->s_allow_dataset_change = self->allow_dataset_change;
  self->s_preview_fps_n = self->preview_fps_n;
  self->s_preview_fps_d = self->preview_fps_d;
  self->s_check_every = self->check_every;
  self->s_sampler_step_every = self->sampler_step_every;
  GST_OBJECT_UNLOCK (self);
  return dataset;
}

/* Class steps per ascent of psi: sampler-step-every, its 0 resolved to the
 * class steps of one round of the stream here: the source's classes that
 * @set holds (a class shard's own), every class @set holds without a
 * loader. */
guint
gst_ncfm_distill_sampler_step_every (GstNcfmDistill *self, NcfmSynset *set, NcfmBatchMeta *bm)
{
  if (self->s_sampler_step_every)
    return self->s_sampler_step_every;
  guint n = 0, round = 0;
  const guint *classes = bm && bm->loader ? ncfm_loader_get_classes (bm->loader, &n) : NULL;
  if (classes) {
    for (guint i = 0; i < n; i++)
      round += ncfm_synset_holds_class (set, classes[i]);
  } else {
    for (guint c = 0; c < self->k; c++)
      round += ncfm_synset_holds_class (set, c);
  }
  return round;
}
