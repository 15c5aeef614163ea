/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-trainer
 * @title: NcfmTrainer
 * @short_description: one supervised step of a classifier
 *
 * An #NcfmTrainer trains a model as a classifier, one batch per
 * ncfm_trainer_step(): optional DSA of the batch (an #NcfmAugment, drawn
 * per step), optional CutMix (ncfm_augment_cutmix()), targets = the hard
 * labels, or soft ones (the softmax of a teacher on the very images the
 * model sees, else the CutMix mix lam * onehot(y) + (1 - lam) *
 * onehot(y[perm])), softmax cross-entropy (ncfm_ops_cross_entropy()), the
 * backward pass into the model's parameter gradients and an
 * #NcfmOptimizer step.  Every random draw comes from the step's seed, so a
 * run is reproducible; ncfm_trainer_step_seed() derives the seed of step i
 * of a run as ncfmtrain does.
 *
 * The scratch tensors of the last two batch sizes are kept (an epoch whose
 * last batch is short alternates two sizes).  A trainer may be shared
 * between threads (its steps are serialised by its lock); the model and
 * optimizer must not be used elsewhere during a step.
 *
 * ncfm_classifier_check_labels() and ncfm_classifier_label_rank() are the
 * label checks and the top-k scoring the training and evaluation passes
 * share.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-trainer.h"

#include <string.h>

#include "ncfm-ops.h"

/* What one batch size needs: the activations and the loss tensors. */
typedef struct {
  gint64 n;                                /* 0: unused */
  guint64 last_use;
  NcfmActivations *acts, *teacher_acts;
  NcfmTensor *augmented, *mixed;           /* [n, C, H, W] */
  NcfmTensor *probs, *dlogits, *targets;   /* [n, K] */
  NcfmTensor *loss;                        /* [1] */
  gfloat *host_logits, *host_targets;      /* [n, K] */
  gint32 *host_labels;                     /* [n] */
} BatchSlot;

#define N_SLOTS 2

struct _NcfmTrainer {
  GObject parent;
  NcfmModel *model, *teacher;
  NcfmOptimizer *optimizer;
  NcfmAugment *augment;
  gfloat cutmix_prob;
  GMutex lock;                 /* the slots, during a step */
  NcfmActivations *augment_work;
  BatchSlot slots[N_SLOTS];
  guint64 uses;
};

G_DEFINE_FINAL_TYPE (NcfmTrainer, ncfm_trainer, G_TYPE_OBJECT)

static void
slot_clear (BatchSlot *b)
{
  g_clear_object (&b->acts);
  g_clear_object (&b->teacher_acts);
  g_clear_object (&b->augmented);
  g_clear_object (&b->mixed);
  g_clear_object (&b->probs);
  g_clear_object (&b->dlogits);
  g_clear_object (&b->targets);
  g_clear_object (&b->loss);
  g_clear_pointer (&b->host_logits, g_free);
  g_clear_pointer (&b->host_targets, g_free);
  g_clear_pointer (&b->host_labels, g_free);
  b->n = 0;
}

static void
ncfm_trainer_finalize (GObject *object)
{
  NcfmTrainer *self = NCFM_TRAINER (object);
  for (guint i = 0; i < N_SLOTS; i++)
    slot_clear (&self->slots[i]);
  g_clear_object (&self->model);
  g_clear_object (&self->teacher);
  g_clear_object (&self->optimizer);
  g_clear_object (&self->augment);
  g_clear_object (&self->augment_work);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_trainer_parent_class)->finalize (object);
}

static void
ncfm_trainer_class_init (NcfmTrainerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_trainer_finalize;
}

static void
ncfm_trainer_init (NcfmTrainer *self)
{
  g_mutex_init (&self->lock);
}

/**
 * ncfm_trainer_new:
 * @model: the model to train, in the mode it should train in (usually
 *   ncfm_model_set_training() %TRUE)
 * @optimizer: (nullable): the optimizer over @model's parameters
 *   (ncfm_optimizer_new_for_model()); %NULL: a step only computes the
 *   gradients
 * @teacher: (nullable): a model whose softmax outputs become the targets
 *   (soft cross-entropy); it must take @model's images and have its classes
 * @augment: (nullable): DSA applied to each batch before CutMix
 * @cutmix_prob: probability of CutMix per batch, in [0, 1] (0: never)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the trainer, or %NULL with @error set when the
 *   teacher does not fit @model or @cutmix_prob is out of range
 */
NcfmTrainer *
ncfm_trainer_new (NcfmModel *model, NcfmOptimizer *optimizer, NcfmModel *teacher,
    NcfmAugment *augment, gfloat cutmix_prob, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (model), NULL);
  g_return_val_if_fail (!optimizer || NCFM_IS_OPTIMIZER (optimizer), NULL);
  g_return_val_if_fail (!teacher || NCFM_IS_MODEL (teacher), NULL);
  g_return_val_if_fail (!augment || NCFM_IS_AUGMENT (augment), NULL);
  if (!(cutmix_prob >= 0.0f && cutmix_prob <= 1.0f)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "trainer: CutMix probability %g is outside [0, 1]", (double) cutmix_prob);
    return NULL;
  }
  if (teacher) {
    guint c, h, w, tc, th, tw;
    ncfm_model_get_input_shape (model, &c, &h, &w);
    ncfm_model_get_input_shape (teacher, &tc, &th, &tw);
    const guint k = ncfm_model_get_num_classes (model);
    const guint tk = ncfm_model_get_num_classes (teacher);
    if (c != tc || h != th || w != tw || k != tk
        || ncfm_model_get_device (model) != ncfm_model_get_device (teacher)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "trainer: the teacher takes "
          "[%u,%u,%u] images on %s and has %u classes, the model [%u,%u,%u] on %s and %u", tc,
          th, tw, ncfm_device_get_name (ncfm_model_get_device (teacher)), tk, c, h, w,
          ncfm_device_get_name (ncfm_model_get_device (model)), k);
      return NULL;
    }
  }
  NcfmTrainer *self = g_object_new (NCFM_TYPE_TRAINER, NULL);
  self->model = g_object_ref (model);
  self->optimizer = optimizer ? g_object_ref (optimizer) : NULL;
  self->teacher = teacher ? g_object_ref (teacher) : NULL;
  self->augment = augment ? g_object_ref (augment) : NULL;
  self->augment_work = augment ? ncfm_activations_new () : NULL;
  self->cutmix_prob = cutmix_prob;
  return self;
}

/**
 * ncfm_trainer_get_model:
 * @self: the trainer
 *
 * Returns: (transfer none): the model it trains
 */
NcfmModel *
ncfm_trainer_get_model (NcfmTrainer *self)
{
  g_return_val_if_fail (NCFM_IS_TRAINER (self), NULL);
  return self->model;
}

/**
 * ncfm_trainer_step_seed:
 * @seed: the run's seed
 * @step: the 0-based index of the step
 *
 * The seed of step @step of a run seeded with @seed, as ncfmtrain draws it:
 * ncfm_mix64 (@seed ^ ncfm_mix64 (@step)).
 *
 * Returns: the seed to give ncfm_trainer_step()
 */
guint64
ncfm_trainer_step_seed (guint64 seed, guint64 step)
{
  return ncfm_mix64 (seed ^ ncfm_mix64 (step));
}

/* The slot of this batch size: a used one, else the least recently used, refilled. */
static BatchSlot *
slot_for (NcfmTrainer *self, NcfmTensor *images, GError **error)
{
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  BatchSlot *b = &self->slots[0];
  for (guint i = 0; i < N_SLOTS; i++) {
    if (self->slots[i].n == n) {
      b = &self->slots[i];
      break;
    }
    if (self->slots[i].last_use < b->last_use)
      b = &self->slots[i];
  }
  b->last_use = ++self->uses;
  if (b->n == n)
    return b;
  slot_clear (b);
  NcfmDevice *dev = ncfm_model_get_device (self->model);
  const guint k = ncfm_model_get_num_classes (self->model);
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (images, &nd);
  const gint64 nk[2] = { n, k }, one[1] = { 1 };
  if ((self->augment && !(b->augmented = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, nd, error)))
      || (self->cutmix_prob > 0.0f
          && !(b->mixed = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, nd, error)))
      || !(b->probs = ncfm_tensor_new (dev, NCFM_DTYPE_F32, nk, 2, error))
      || !(b->dlogits = ncfm_tensor_new (dev, NCFM_DTYPE_F32, nk, 2, error))
      || !(b->targets = ncfm_tensor_new (dev, NCFM_DTYPE_F32, nk, 2, error))
      || !(b->loss = ncfm_tensor_new (dev, NCFM_DTYPE_F32, one, 1, error))) {
    slot_clear (b);
    return NULL;
  }
  b->acts = ncfm_activations_new ();
  b->teacher_acts = self->teacher ? ncfm_activations_new () : NULL;
  b->host_logits = g_new (gfloat, n * k);
  b->host_targets = g_new (gfloat, n * k);
  b->host_labels = g_new (gint32, n);
  b->n = n;
  return b;
}

/* The CutMix targets lam * onehot(y[i]) + (1 - lam) * onehot(y[perm[i]]) into b->targets. */
static gboolean
upload_mixed_targets (BatchSlot *b, const gint32 *perm, gfloat lam, guint k, GError **error)
{
  const gsize n = (gsize) b->n;
  memset (b->host_targets, 0, n * k * sizeof (gfloat));
  for (gsize i = 0; i < n; i++) {
    b->host_targets[i * k + b->host_labels[i]] += lam;
    b->host_targets[i * k + b->host_labels[perm[i]]] += 1.0f - lam;
  }
  return ncfm_tensor_set_data (b->targets, (const guint8 *) b->host_targets,
      n * k * sizeof (gfloat), error);
}

/* The images the model sees: @images after DSA and CutMix (@perm and @lam
 * describe the mix; lam 1: none). */
static NcfmTensor *
transform_batch (NcfmTrainer *self, BatchSlot *b, NcfmTensor *images, guint64 seed,
    gint32 **perm, gfloat *lam, GError **error)
{
  NcfmTensor *x = images;
  *lam = 1.0f;
  if (self->augment) {
    /* DSA draws from its own stream: without it the CutMix draws stay ncfmtrain's */
    g_autoptr (NcfmAugmentParams) params = ncfm_augment_draw (self->augment, ncfm_mix64 (~seed),
        b->n, ncfm_tensor_get_dim (images, 2), ncfm_tensor_get_dim (images, 3), error);
    if (!params || !ncfm_augment_params_apply (params, x, b->augmented, self->augment_work,
            error))
      return NULL;
    x = b->augmented;
  }
  if (self->cutmix_prob > 0.0f) {
    if (!ncfm_augment_cutmix (x, b->mixed, seed, self->cutmix_prob, perm, NULL, lam, error))
      return NULL;
    x = b->mixed;
  }
  return x;
}

/* The batch's labels, on the host and checked against the model's classes. */
static gboolean
fetch_labels (NcfmTrainer *self, BatchSlot *b, NcfmTensor *labels, GError **error)
{
  if (ncfm_tensor_get_dtype (labels) != NCFM_DTYPE_I32 || ncfm_tensor_get_numel (labels) != b->n
      || ncfm_tensor_get_device (labels) != ncfm_model_get_device (self->model)) {
    g_autofree gchar *d = ncfm_tensor_describe (labels);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "trainer: labels must be I32 [%"
        G_GINT64_FORMAT "] on the model's device, got %s", b->n, d);
    return FALSE;
  }
  ncfm_tensor_download (labels, b->host_labels, (gsize) b->n * sizeof (gint32));
  return ncfm_classifier_check_labels (b->host_labels, (guint) b->n,
      ncfm_model_get_num_classes (self->model), error);
}

static gboolean
check_images (NcfmTrainer *self, NcfmTensor *images, GError **error)
{
  guint c, h, w;
  ncfm_model_get_input_shape (self->model, &c, &h, &w);
  if (ncfm_tensor_get_dtype (images) == NCFM_DTYPE_F32 && ncfm_tensor_get_n_dims (images) == 4
      && ncfm_tensor_get_dim (images, 0) > 0 && ncfm_tensor_get_dim (images, 1) == c
      && ncfm_tensor_get_dim (images, 2) == h && ncfm_tensor_get_dim (images, 3) == w
      && ncfm_tensor_get_device (images) == ncfm_model_get_device (self->model))
    return TRUE;
  g_autofree gchar *d = ncfm_tensor_describe (images);
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "trainer: images must be F32 [N, %u, %u, "
      "%u] on %s, got %s", c, h, w, ncfm_device_get_name (ncfm_model_get_device (self->model)),
      d);
  return FALSE;
}

static gboolean
run_step (NcfmTrainer *self, NcfmTensor *images, NcfmTensor *labels, guint64 seed, gfloat lr,
    gdouble *loss, guint *correct, GError **error)
{
  const guint k = ncfm_model_get_num_classes (self->model);
  BatchSlot *b;
  if (!check_images (self, images, error) || !(b = slot_for (self, images, error))
      || !fetch_labels (self, b, labels, error))
    return FALSE;
  g_autofree gint32 *perm = NULL;
  gfloat lam;
  NcfmTensor *x = transform_batch (self, b, images, seed, &perm, &lam, error);
  if (!x)
    return FALSE;

  NcfmTensor *hard = NULL, *soft = NULL;
  if (self->teacher) {
    /* the teacher's softmax on the very images the student sees */
    if (!ncfm_model_forward (self->teacher, x, b->teacher_acts, error)
        || !ncfm_ops_cross_entropy (ncfm_activations_get_logits (b->teacher_acts), labels, NULL,
            b->targets, b->loss, error))
      return FALSE;
    soft = b->targets;
  } else if (lam < 1.0f) {
    if (!upload_mixed_targets (b, perm, lam, k, error))
      return FALSE;
    soft = b->targets;
  } else {
    hard = labels;
  }

  if (!ncfm_model_forward (self->model, x, b->acts, error))
    return FALSE;
  NcfmTensor *logits = ncfm_activations_get_logits (b->acts);
  if (!ncfm_ops_cross_entropy (logits, hard, soft, b->probs, b->loss, error)
      || !ncfm_ops_cross_entropy_backward (b->probs, hard, soft, b->dlogits, error)
      || !ncfm_model_backward (self->model, b->acts, NULL, b->dlogits, TRUE, error)
      || (self->optimizer && !ncfm_optimizer_step (self->optimizer, lr, error)))
    return FALSE;

  gfloat l = 0.0f;
  ncfm_tensor_download (b->loss, &l, sizeof l);
  ncfm_tensor_download (logits, b->host_logits, (gsize) b->n * k * sizeof (gfloat));
  guint c = 0;
  for (gint64 i = 0; i < b->n; i++)
    c += ncfm_classifier_label_rank (b->host_logits + (gsize) i * k, k, b->host_labels[i]) == 0;
  if (loss)
    *loss = l;
  if (correct)
    *correct = c;
  return TRUE;
}

/**
 * ncfm_trainer_step:
 * @self: the trainer
 * @images: F32 [N, C, H, W] on the model's device, of the model's image
 *   shape (not modified)
 * @labels: I32 [N] on the model's device, each in [0, K)
 * @seed: the seed of this step's DSA and CutMix draws
 *   (ncfm_trainer_step_seed())
 * @lr: the learning rate of the optimizer step
 * @loss: (out) (optional): the batch's mean (soft) cross-entropy, before the
 *   update
 * @correct: (out) (optional): images whose top-1 prediction (before the
 *   update) is their label (the label before any CutMix)
 * @error: return location for a #GError
 *
 * One training step: forward, backward (the model's parameter gradients
 * are overwritten) and, with an optimizer, its update.
 *
 * Returns: (skip): %TRUE, or %FALSE with @error set (a label outside the
 *   model's classes, images of another shape or device)
 */
gboolean
ncfm_trainer_step (NcfmTrainer *self, NcfmTensor *images, NcfmTensor *labels, guint64 seed,
    gfloat lr, gdouble *loss, guint *correct, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TRAINER (self), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (images) && NCFM_IS_TENSOR (labels), FALSE);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  return run_step (self, images, labels, seed, lr, loss, correct, error);
}

/**
 * ncfm_classifier_check_labels:
 * @labels: (array length=n): class ids
 * @n: their number
 * @num_classes: the model's classes K
 * @error: return location for a #GError
 *
 * Returns: %TRUE if every label is in [0, K); else %FALSE with @error
 *   (%NCFM_ERROR_ARGUMENT) naming the first label at fault and its image
 */
gboolean
ncfm_classifier_check_labels (const gint32 *labels, guint n, guint num_classes, GError **error)
{
  for (guint i = 0; i < n; i++) {
    if (labels[i] < 0 || (guint) labels[i] >= num_classes) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "label %d of image %u of the batch is not one of the model's %u classes", labels[i],
          i, num_classes);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * ncfm_classifier_label_rank:
 * @logits: (array length=num_classes): one row of K logits
 * @num_classes: K
 * @label: the true class, in [0, K)
 *
 * The number of classes ranked before @label: those with a larger logit,
 * and those with an equal one and a smaller index (argmax takes the first
 * maximum).  Top-k is correct when the rank is below k.  A NaN logit ranks
 * before everything (a NaN at @label gives rank K): a diverged model
 * scores nothing.
 *
 * Returns: the rank, 0 for a correct top-1 prediction
 */
guint
ncfm_classifier_label_rank (const gfloat *logits, guint num_classes, gint32 label)
{
  g_return_val_if_fail (label >= 0 && (guint) label < num_classes, num_classes);
  const gfloat v = logits[label];
  guint rank = 0;
  for (guint j = 0; j < num_classes; j++)
    rank += !(logits[j] < v) && (logits[j] != v || j < (guint) label);
  return rank;
}
