/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmtrainsettings.c: the properties of ncfmtrain (their specs, docs,
 * defaults) over one GstNcfmTrainSettings struct. */
#include "gstncfmtrainsettings.h"

#define DEFAULT_ARCH GST_NCFM_TRAIN_ARCH_CONVNET
#define DEFAULT_DEPTH 0   /* the architecture's: */
#define CONVNET_DEPTH 3
#define RESNET_DEPTH 10
#define DEFAULT_WIDTH 0
#define CONVNET_WIDTH 128
#define RESNET_WIDTH 32
#define DEFAULT_NORM NCFM_NORM_INSTANCE
#define DEFAULT_NUM_CLASSES 0
#define DEFAULT_OPTIMIZER NCFM_OPTIMIZER_SGD
#define DEFAULT_LR 0.0f
#define DEFAULT_SGD_LR 0.01f
#define DEFAULT_ADAMW_LR 0.001f
#define DEFAULT_MOMENTUM 0.9f
#define DEFAULT_WEIGHT_DECAY 5e-4f
#define DEFAULT_SCHEDULE NCFM_SCHEDULE_POOL
#define DEFAULT_STEPS 0
#define DEFAULT_CUTMIX 0.0f
#define DEFAULT_SEED 0
#define DEFAULT_PROGRESS_EVERY 10

enum {
  PROP_0,
  PROP_ARCH,
  PROP_DEPTH,
  PROP_WIDTH,
  PROP_NORM,
  PROP_NUM_CLASSES,
  PROP_INIT_WEIGHTS,
  PROP_TEACHER,
  PROP_OPTIMIZER,
  PROP_LR,
  PROP_MOMENTUM,
  PROP_WEIGHT_DECAY,
  PROP_SCHEDULE,
  PROP_STEPS,
  PROP_CUTMIX,
  PROP_SEED,
  PROP_LOCATION,
  PROP_INIT_LOCATION,
  PROP_PROGRESS_EVERY,
};
G_STATIC_ASSERT (PROP_PROGRESS_EVERY == GST_NCFM_TRAIN_SETTINGS_N_PROPS);

#define DEFINE_ENUM(fn, name, ...) \
  static GType fn (void) { \
    static GType type = 0; \
    static const GEnumValue values[] = { __VA_ARGS__, { 0, NULL, NULL } }; \
    if (g_once_init_enter (&type)) \
      g_once_init_leave (&type, g_enum_register_static (name, values)); \
    return type; \
  }

DEFINE_ENUM (gst_ncfm_train_arch_get_type, "GstNcfmTrainArch",
    { GST_NCFM_TRAIN_ARCH_CONVNET, "ConvNet-D (depth x conv-norm-ReLU-avgpool)", "convnet" },
    { GST_NCFM_TRAIN_ARCH_RESNET_AP, "ResNet-AP (residual, average-pool downsampling)",
      "resnet-ap" })
DEFINE_ENUM (gst_ncfm_train_norm_get_type, "GstNcfmTrainNorm",
    { NCFM_NORM_NONE, "No normalisation layer", "none" },
    { NCFM_NORM_INSTANCE, "Instance norm (GroupNorm, one group per channel)", "instancenorm" },
    { NCFM_NORM_BATCH, "BatchNorm2d", "batchnorm" })
DEFINE_ENUM (gst_ncfm_train_optimizer_get_type, "GstNcfmTrainOptimizer",
    { NCFM_OPTIMIZER_SGD, "SGD with momentum and weight decay (pool pretraining)", "sgd" },
    { NCFM_OPTIMIZER_ADAMW, "AdamW (evaluation protocol)", "adamw" })
DEFINE_ENUM (gst_ncfm_train_schedule_get_type, "GstNcfmTrainSchedule",
    { NCFM_SCHEDULE_CONSTANT, "Constant learning rate", "constant" },
    { NCFM_SCHEDULE_POOL, "x0.2 at 2/3 and 5/6 of the steps (pool pretraining)", "pool" },
    { NCFM_SCHEDULE_EVALUATION, "Halved at 20, 40, 60 and 80 % of the steps (evaluation)",
      "evaluation" })

static const gchar *
enum_nick (GType type, gint value)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *v = g_enum_get_value (klass, value);
  return v ? v->value_nick : "?";
}

const gchar *
gst_ncfm_train_optimizer_nick (NcfmOptimizerKind kind)
{
  return enum_nick (gst_ncfm_train_optimizer_get_type (), kind);
}

const gchar *
gst_ncfm_train_schedule_nick (NcfmSchedule schedule)
{
  return enum_nick (gst_ncfm_train_schedule_get_type (), schedule);
}

void
gst_ncfm_train_settings_init (GstNcfmTrainSettings *s)
{
  *s = (GstNcfmTrainSettings) {
    .arch = DEFAULT_ARCH, .depth = DEFAULT_DEPTH, .width = DEFAULT_WIDTH,
    .num_classes = DEFAULT_NUM_CLASSES, .progress_every = DEFAULT_PROGRESS_EVERY,
    .norm = DEFAULT_NORM, .optimizer = DEFAULT_OPTIMIZER, .lr = DEFAULT_LR,
    .momentum = DEFAULT_MOMENTUM, .weight_decay = DEFAULT_WEIGHT_DECAY, .cutmix = DEFAULT_CUTMIX,
    .schedule = DEFAULT_SCHEDULE, .steps = DEFAULT_STEPS, .seed = DEFAULT_SEED,
  };
}

void
gst_ncfm_train_settings_clear (GstNcfmTrainSettings *s)
{
  g_clear_pointer (&s->init_weights, g_free);
  g_clear_pointer (&s->teacher, g_free);
  g_clear_pointer (&s->location, g_free);
  g_clear_pointer (&s->init_location, g_free);
}

void
gst_ncfm_train_settings_copy (GstNcfmTrainSettings *dst, const GstNcfmTrainSettings *src)
{
  gst_ncfm_train_settings_clear (dst);
  *dst = *src;
  dst->init_weights = g_strdup (src->init_weights);
  dst->teacher = g_strdup (src->teacher);
  dst->location = g_strdup (src->location);
  dst->init_location = g_strdup (src->init_location);
}

/* The learning rate, with 0 meaning the optimizer's default of the method. */
gfloat
gst_ncfm_train_settings_get_lr (const GstNcfmTrainSettings *s)
{
  if (s->lr > 0.0f)
    return s->lr;
  return s->optimizer == NCFM_OPTIMIZER_ADAMW ? DEFAULT_ADAMW_LR : DEFAULT_SGD_LR;
}

/* depth and width, with 0 meaning the architecture's default */
guint
gst_ncfm_train_settings_get_depth (const GstNcfmTrainSettings *s)
{
  if (s->depth)
    return s->depth;
  return s->arch == GST_NCFM_TRAIN_ARCH_RESNET_AP ? RESNET_DEPTH : CONVNET_DEPTH;
}

guint
gst_ncfm_train_settings_get_width (const GstNcfmTrainSettings *s)
{
  if (s->width)
    return s->width;
  return s->arch == GST_NCFM_TRAIN_ARCH_RESNET_AP ? RESNET_WIDTH : CONVNET_WIDTH;
}

/* the #NcfmModel architecture by its registered name
 * (ncfm_model_new_for_architecture()): the arch property's nick */
const gchar *
gst_ncfm_train_settings_get_arch_name (const GstNcfmTrainSettings *s)
{
  return enum_nick (gst_ncfm_train_arch_get_type (), s->arch);
}

static gchar **
string_field (GstNcfmTrainSettings *s, guint prop_id)
{
  switch (prop_id) {
    case PROP_INIT_WEIGHTS: return &s->init_weights;
    case PROP_TEACHER: return &s->teacher;
    case PROP_LOCATION: return &s->location;
    case PROP_INIT_LOCATION: return &s->init_location;
    default: return NULL;
  }
}

void
gst_ncfm_train_settings_set (GstNcfmTrainSettings *s, guint prop_id, const GValue *value)
{
  gchar **str = string_field (s, prop_id);
  if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
    return;
  }
  switch (prop_id) {
    case PROP_ARCH: s->arch = g_value_get_enum (value); break;
    case PROP_DEPTH: s->depth = g_value_get_uint (value); break;
    case PROP_WIDTH: s->width = g_value_get_uint (value); break;
    case PROP_NORM: s->norm = g_value_get_enum (value); break;
    case PROP_NUM_CLASSES: s->num_classes = g_value_get_uint (value); break;
    case PROP_OPTIMIZER: s->optimizer = g_value_get_enum (value); break;
    case PROP_LR: s->lr = g_value_get_float (value); break;
    case PROP_MOMENTUM: s->momentum = g_value_get_float (value); break;
    case PROP_WEIGHT_DECAY: s->weight_decay = g_value_get_float (value); break;
    case PROP_SCHEDULE: s->schedule = g_value_get_enum (value); break;
    case PROP_STEPS: s->steps = g_value_get_uint64 (value); break;
    case PROP_CUTMIX: s->cutmix = g_value_get_float (value); break;
    case PROP_SEED: s->seed = g_value_get_uint64 (value); break;
    case PROP_PROGRESS_EVERY: s->progress_every = g_value_get_uint (value); break;
    default: g_assert_not_reached ();
  }
}

void
gst_ncfm_train_settings_get (const GstNcfmTrainSettings *s, guint prop_id, GValue *value)
{
  gchar **str = string_field ((GstNcfmTrainSettings *) s, prop_id);
  if (str) {
    g_value_set_string (value, *str);
    return;
  }
  switch (prop_id) {
    case PROP_ARCH: g_value_set_enum (value, s->arch); break;
    case PROP_DEPTH: g_value_set_uint (value, s->depth); break;
    case PROP_WIDTH: g_value_set_uint (value, s->width); break;
    case PROP_NORM: g_value_set_enum (value, s->norm); break;
    case PROP_NUM_CLASSES: g_value_set_uint (value, s->num_classes); break;
    case PROP_OPTIMIZER: g_value_set_enum (value, s->optimizer); break;
    case PROP_LR: g_value_set_float (value, s->lr); break;
    case PROP_MOMENTUM: g_value_set_float (value, s->momentum); break;
    case PROP_WEIGHT_DECAY: g_value_set_float (value, s->weight_decay); break;
    case PROP_SCHEDULE: g_value_set_enum (value, s->schedule); break;
    case PROP_STEPS: g_value_set_uint64 (value, s->steps); break;
    case PROP_CUTMIX: g_value_set_float (value, s->cutmix); break;
    case PROP_SEED: g_value_set_uint64 (value, s->seed); break;
    case PROP_PROGRESS_EVERY: g_value_set_uint (value, s->progress_every); break;
    default: g_assert_not_reached ();
  }
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
install_string (GObjectClass *klass, guint id, const gchar *name, const gchar *nick,
    const gchar *blurb)
{
  g_object_class_install_property (klass, id, g_param_spec_string (name, nick, blurb, NULL,
          PARAM_FLAGS));
}

/* Installs the settings as properties 1 .. GST_NCFM_TRAIN_SETTINGS_N_PROPS of ncfmtrain. */
void
gst_ncfm_train_settings_install (GObjectClass *klass)
{
  /**
   * GstNcfmTrain:arch:
   *
   * The architecture built when #GstNcfmTrain:init-weights is unset.
   */
  g_object_class_install_property (klass, PROP_ARCH,
      g_param_spec_enum ("arch", "Architecture", "Model architecture (unless init-weights is set)",
          gst_ncfm_train_arch_get_type (), DEFAULT_ARCH, PARAM_FLAGS));
  /**
   * GstNcfmTrain:depth:
   *
   * ConvNet: blocks, 1 to 8 (3 for 28x28 and 32x32 images, 4 for 64x64, 5
   * for 128x128); ResNet-AP: 10 or 18.  0 takes the architecture's default
   * (ConvNet 3, ResNet-AP 10).
   */
  g_object_class_install_property (klass, PROP_DEPTH,
      g_param_spec_uint ("depth", "Depth",
          "ConvNet blocks (1-8) or ResNet-AP depth (10, 18); 0 = ConvNet 3, ResNet-AP 10", 0, 18,
          DEFAULT_DEPTH, PARAM_FLAGS));
  /**
   * GstNcfmTrain:width:
   *
   * ConvNet: channels of every convolution; ResNet-AP: channels of the
   * first stage.  0 takes the architecture's default (ConvNet 128,
   * ResNet-AP 32, the reference's CIFAR configuration).
   */
  g_object_class_install_property (klass, PROP_WIDTH,
      g_param_spec_uint ("width", "Width",
          "ConvNet channels, or ResNet-AP first-stage channels; 0 = ConvNet 128, ResNet-AP 32",
          0, 4096, DEFAULT_WIDTH, PARAM_FLAGS));
  /**
   * GstNcfmTrain:norm:
   *
   * The normalisation after each convolution.
   */
  g_object_class_install_property (klass, PROP_NORM,
      g_param_spec_enum ("norm", "Norm", "Normalisation after each convolution",
          gst_ncfm_train_norm_get_type (), DEFAULT_NORM, PARAM_FLAGS));
  /**
   * GstNcfmTrain:num-classes:
   *
   * Classifier outputs; 0 takes the class count of the stream's
   * #NcfmBatchMeta.  When both are known they must agree.
   */
  g_object_class_install_property (klass, PROP_NUM_CLASSES,
      g_param_spec_uint ("num-classes", "Classes",
          "Classifier outputs (0 = the class count of the stream)", 0, 100000,
          DEFAULT_NUM_CLASSES, PARAM_FLAGS));
  /**
   * GstNcfmTrain:init-weights:
   *
   * Start from these weights (a file of ncfm_model_save(), e.g. a
   * `premodel{k}_init.safetensors`); its metadata gives the architecture
   * and shape, so #GstNcfmTrain:arch, depth, width and norm are ignored.
   */
  install_string (klass, PROP_INIT_WEIGHTS, "init-weights", "Initial weights",
      "Start from this weights file (.safetensors; overrides arch, depth, width, norm)");
  /**
   * GstNcfmTrain:teacher:
   *
   * A trained model (weights file) whose softmax outputs on each batch
   * replace the labels as targets (soft cross-entropy).  It must have the
   * stream's classes and image shape.
   */
  install_string (klass, PROP_TEACHER, "teacher", "Teacher",
      "Weights file of a teacher whose softmax outputs become soft targets (unset: labels)");
  /**
   * GstNcfmTrain:optimizer:
   *
   * sgd: momentum #GstNcfmTrain:momentum, L2 weight decay (the pool
   * pretraining); adamw: betas 0.9/0.999, eps 1e-8, decoupled weight decay
   * (the evaluation protocol).
   */
  g_object_class_install_property (klass, PROP_OPTIMIZER,
      g_param_spec_enum ("optimizer", "Optimizer", "Parameter update rule",
          gst_ncfm_train_optimizer_get_type (), DEFAULT_OPTIMIZER, PARAM_FLAGS));
  /**
   * GstNcfmTrain:lr:
   *
   * The initial learning rate; 0 takes the optimizer's default of the
   * method (SGD 0.01, AdamW 0.001).
   */
  g_object_class_install_property (klass, PROP_LR,
      g_param_spec_float ("lr", "Learning rate",
          "Initial learning rate (0 = the optimizer's default: SGD 0.01, AdamW 0.001)", 0.0f,
          10.0f, DEFAULT_LR, PARAM_FLAGS));
  /**
   * GstNcfmTrain:momentum:
   *
   * SGD momentum (ignored by AdamW).
   */
  g_object_class_install_property (klass, PROP_MOMENTUM,
      g_param_spec_float ("momentum", "Momentum", "SGD momentum (ignored by AdamW)", 0.0f, 1.0f,
          DEFAULT_MOMENTUM, PARAM_FLAGS));
  /**
   * GstNcfmTrain:weight-decay:
   *
   * Weight decay of every parameter.
   */
  g_object_class_install_property (klass, PROP_WEIGHT_DECAY,
      g_param_spec_float ("weight-decay", "Weight decay", "Weight decay of every parameter",
          0.0f, 1.0f, DEFAULT_WEIGHT_DECAY, PARAM_FLAGS));
  /**
   * GstNcfmTrain:schedule:
   *
   * MultiStep learning-rate schedule over the #GstNcfmTrain:steps of the run.
   */
  g_object_class_install_property (klass, PROP_SCHEDULE,
      g_param_spec_enum ("schedule", "Schedule", "Learning-rate schedule over the run's steps",
          gst_ncfm_train_schedule_get_type (), DEFAULT_SCHEDULE, PARAM_FLAGS));
  /**
   * GstNcfmTrain:steps:
   *
   * The length of the run that places the schedule's milestones; 0 asks
   * upstream for its duration in buffers (ncfmdatasetsrc: batches per epoch
   * x epochs).  Unknown, the learning rate stays constant.  Training itself
   * runs until EOS.
   */
  g_object_class_install_property (klass, PROP_STEPS,
      g_param_spec_uint64 ("steps", "Steps",
          "Steps of the schedule (0 = the upstream duration in buffers)", 0, G_MAXUINT64,
          DEFAULT_STEPS, PARAM_FLAGS));
  /**
   * GstNcfmTrain:cutmix:
   *
   * Probability of CutMix per batch (the method trains with 0.5): a box of
   * a random other image of the batch pasted in, the targets mixed by area.
   */
  g_object_class_install_property (klass, PROP_CUTMIX,
      g_param_spec_float ("cutmix", "CutMix", "Probability of CutMix per batch (0 = off)", 0.0f,
          1.0f, DEFAULT_CUTMIX, PARAM_FLAGS));
  /**
   * GstNcfmTrain:seed:
   *
   * Seed of the initial weights and the CutMix draws.
   */
  g_object_class_install_property (klass, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the initial weights and of CutMix", 0,
          G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmTrain:location:
   *
   * Where the trained weights are written at EOS (atomically); unset: not saved.
   */
  install_string (klass, PROP_LOCATION, "location", "Location",
      "Trained weights file written at EOS (.safetensors)");
  /**
   * GstNcfmTrain:init-location:
   *
   * Where the weights before the first step are written (a pool's
   * `premodel{k}_init.safetensors`); unset: not saved.
   */
  install_string (klass, PROP_INIT_LOCATION, "init-location", "Initial weights location",
      "File for the weights before the first step (.safetensors)");
  /**
   * GstNcfmTrain:progress-every:
   *
   * Steps between "ncfm-train" messages; 0 posts one at EOS only.
   */
  g_object_class_install_property (klass, PROP_PROGRESS_EVERY,
      g_param_spec_uint ("progress-every", "Progress every",
          "Steps between ncfm-train progress messages (0 = only at EOS)", 0, G_MAXUINT,
          DEFAULT_PROGRESS_EVERY, PARAM_FLAGS));

  gst_type_mark_as_plugin_api (gst_ncfm_train_arch_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_ncfm_train_norm_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_ncfm_train_optimizer_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_ncfm_train_schedule_get_type (), 0);
}
