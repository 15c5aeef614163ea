/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-distiller
 * @title: NcfmDistiller
 * @short_description: the optimisation step of NCFM on a synthetic set
 *
 * Owns an #NcfmSynset and the scratch of its class step.  One class step
 * (ncfm_distiller_step_class()): the stored images of the class ->
 * multi-formation decode -> normalisation with the set's mean/std -> the
 * batch's augmentation replayed (shared mode) -> the model -> features ->
 * NCFD (or MMD) against the real per-class statistics at the frequencies t
 * (+ calibration: calib * the cross-entropy of a trained model) -> the
 * gradient back through the same chain -> AdamW on the class's images ->
 * clamp to [0, 1].  With a learned sampler and the NCFD, dL/dt (synthetic
 * and real parts) goes to the sampler, where it adds up, and
 * ncfm_distiller_end_step() takes its ascent step once the gradients of
 * ncfm_distiller_set_sampler_step_every() class steps are in (by default
 * every batch).
 *
 * A class step whose loss, gradient on the images or dL/dt is not finite
 * changes nothing (images, AdamW state, psi) and is counted
 * (ncfm_distiller_get_nonfinite_steps(), ncfm_distiller_get_nonfinite_run()).
 *
 * Not thread-safe: one thread steps a distiller.  The sampler may be shared
 * with the thread that draws from it (it locks itself); a device shared
 * with other threads must be locked by the caller around the steps.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-distiller.h"

#include <math.h>

#include "ncfm-ops.h"

struct _NcfmDistiller {
  GObject parent;
  NcfmSynset *synset;
  NcfmDevice *device;
  NcfmMetric metric;
  gfloat lr, weight_decay, calib;
  NcfmNcfd *ncfd;
  NcfmTensor *dec_labels;      /* I32 [ipc * factor^2] */
  gint dec_labels_class;       /* the class dec_labels holds, -1 before the first step */
  NcfmTensor *xn, *xa, *gx;    /* the class step's image-sized scratch */
  NcfmActivations *dec_work, *acts, *aug_work, *calib_acts;
  NcfmTensor *calib_probs, *calib_loss, *calib_dlogits;
  NcfmSampler *psi_pending;    /* the sampler dL/dt went to since its last ascent */
  guint psi_pending_steps;     /* the class steps whose dL/dt it holds */
  guint psi_step_every;        /* class steps per ascent (ncfm_distiller_set_sampler_step_every) */
  guint64 nonfinite_steps;
  guint nonfinite_run;
};

G_DEFINE_FINAL_TYPE (NcfmDistiller, ncfm_distiller, G_TYPE_OBJECT)

static void
ncfm_distiller_finalize (GObject *object)
{
  NcfmDistiller *self = NCFM_DISTILLER (object);
  g_clear_object (&self->synset);
  g_clear_object (&self->psi_pending);
  g_clear_object (&self->device);
  g_clear_object (&self->ncfd);
  g_clear_object (&self->dec_labels);
  g_clear_object (&self->xn);
  g_clear_object (&self->xa);
  g_clear_object (&self->gx);
  g_clear_object (&self->dec_work);
  g_clear_object (&self->acts);
  g_clear_object (&self->aug_work);
  g_clear_object (&self->calib_acts);
  g_clear_object (&self->calib_probs);
  g_clear_object (&self->calib_loss);
  g_clear_object (&self->calib_dlogits);
  G_OBJECT_CLASS (ncfm_distiller_parent_class)->finalize (object);
}

static void
ncfm_distiller_class_init (NcfmDistillerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_distiller_finalize;
}

static void
ncfm_distiller_init (NcfmDistiller *self)
{
  self->dec_labels_class = -1;
  self->psi_step_every = 1;
  self->dec_work = ncfm_activations_new ();
  self->acts = ncfm_activations_new ();
  self->aug_work = ncfm_activations_new ();
  self->calib_acts = ncfm_activations_new ();
}

static void
set_metadata_float (NcfmSynset *synset, const gchar *key, gfloat v)
{
  g_autofree gchar *s = g_strdup_printf ("%g", v);
  ncfm_synset_set_metadata (synset, key, s);
}

/**
 * ncfm_distiller_new:
 * @synset: the set to optimise (a reference is kept)
 * @metric: what the synthetic features are matched on
 * @alpha: NCFD weight of the amplitude term
 * @beta: NCFD weight of the phase term
 * @error: return location for a #GError
 *
 * A distiller with AdamW lr 0.01, weight decay 5e-4 and no calibration
 * (see ncfm_distiller_set_optimizer(), ncfm_distiller_set_calibration()).
 * The hyperparameters go into the set's metadata (ncfm.lr, ncfm.alpha, ...).
 *
 * Returns: (transfer full): the distiller, or %NULL if @alpha or @beta are
 *   out of range
 */
NcfmDistiller *
ncfm_distiller_new (NcfmSynset *synset, NcfmMetric metric, gfloat alpha, gfloat beta,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (synset), NULL);
  NcfmDevice *dev = ncfm_synset_get_device (synset);
  g_autoptr (NcfmNcfd) ncfd = ncfm_ncfd_new (dev, metric, alpha, beta, error);
  if (!ncfd)
    return NULL;
  guint ipc = 0, factor = 0;
  ncfm_synset_get_shape (synset, NULL, &ipc, NULL, NULL, NULL, &factor);
  const gint64 n = (gint64) ipc * factor * factor;
  g_autoptr (NcfmTensor) labels = ncfm_tensor_new (dev, NCFM_DTYPE_I32, &n, 1, error);
  if (!labels)
    return NULL;
  NcfmDistiller *self = g_object_new (NCFM_TYPE_DISTILLER, NULL);
  self->synset = g_object_ref (synset);
  self->device = g_object_ref (dev);
  self->metric = metric;
  self->ncfd = g_steal_pointer (&ncfd);
  self->dec_labels = g_steal_pointer (&labels);
  set_metadata_float (synset, "ncfm.alpha", alpha);
  set_metadata_float (synset, "ncfm.beta", beta);
  ncfm_synset_set_metadata (synset, "ncfm.metric", ncfm_metric_to_string (metric));
  ncfm_distiller_set_optimizer (self, 0.01f, 5e-4f);
  ncfm_distiller_set_calibration (self, 0.0f);
  return self;
}

/**
 * ncfm_distiller_set_optimizer:
 * @self: a #NcfmDistiller
 * @lr: AdamW learning rate on the stored pixels
 * @weight_decay: AdamW's decoupled weight decay
 */
void
ncfm_distiller_set_optimizer (NcfmDistiller *self, gfloat lr, gfloat weight_decay)
{
  g_return_if_fail (NCFM_IS_DISTILLER (self));
  self->lr = lr;
  self->weight_decay = weight_decay;
  set_metadata_float (self->synset, "ncfm.lr", lr);
  set_metadata_float (self->synset, "ncfm.weight_decay", weight_decay);
}

/**
 * ncfm_distiller_set_calibration:
 * @self: a #NcfmDistiller
 * @calib: weight of the cross-entropy of the trained model given to
 *   ncfm_distiller_step_class() (0: off)
 */
void
ncfm_distiller_set_calibration (NcfmDistiller *self, gfloat calib)
{
  g_return_if_fail (NCFM_IS_DISTILLER (self));
  self->calib = calib;
  set_metadata_float (self->synset, "ncfm.calib", calib);
}

/**
 * ncfm_distiller_set_sampler_step_every:
 * @self: a #NcfmDistiller
 * @class_steps: class steps whose dL/dpsi one ascent step of a learned
 *   sampler takes (1, the default: every batch; the number of classes: once
 *   per round of per-class batches)
 * @error: return location for a #GError
 *
 * The learned sampler's gradients of @class_steps class steps add up (the
 * sum, not the mean: one ascent on the sum moves psi as far as
 * @class_steps ascents of the same lr would to first order, and it is the
 * gradient of the summed class losses, the objective psi maximises), then
 * ncfm_distiller_end_step() takes ONE ascent step on them: momentum and
 * weight decay are applied once.  The ascent comes at the end of the batch
 * that completes the count, so a batch of several classes may take more
 * than @class_steps gradients in.  Until then psi draws with unchanged
 * weights.  A class step skipped for a non-finite value does not count.
 *
 * Returns: %TRUE, or %FALSE with @error set (and nothing changed) when
 *   @class_steps is 0 or above 1048576
 */
gboolean
ncfm_distiller_set_sampler_step_every (NcfmDistiller *self, guint class_steps, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), FALSE);
  if (class_steps < 1 || class_steps > NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sampler step every %u class steps: "
        "1 .. %u", class_steps, NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY);
    return FALSE;
  }
  self->psi_step_every = class_steps;
  return TRUE;
}

/**
 * ncfm_distiller_get_sampler_step_every:
 * @self: a #NcfmDistiller
 *
 * Returns: the class steps per ascent step of a learned sampler
 */
guint
ncfm_distiller_get_sampler_step_every (NcfmDistiller *self)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), 0);
  return self->psi_step_every;
}

/**
 * ncfm_distiller_get_synset:
 * @self: a #NcfmDistiller
 *
 * Returns: (transfer none): the set it optimises
 */
NcfmSynset *
ncfm_distiller_get_synset (NcfmDistiller *self)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), NULL);
  return self->synset;
}

/* calib * cross-entropy of the trained model's logits on the (augmented)
 * synthetic images x against their class; its gradient wrt x is added to
 * grad_images. */
static gboolean
calibrate (NcfmDistiller *self, NcfmModel *trained, NcfmTensor *x, NcfmTensor *grad_images,
    GError **error)
{
  if (!ncfm_model_forward (trained, x, self->calib_acts, error))
    return FALSE;
  NcfmTensor *logits = ncfm_activations_get_logits (self->calib_acts);
  const gint64 one = 1;
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (logits, &nd);
  if (!ncfm_tensor_ensure_f32 (self->device, &self->calib_probs, shape, nd, error)
      || !ncfm_tensor_ensure_f32 (self->device, &self->calib_dlogits, shape, nd, error)
      || !ncfm_tensor_ensure_f32 (self->device, &self->calib_loss, &one, 1, error)
      || !ncfm_ops_cross_entropy (logits, self->dec_labels, NULL, self->calib_probs,
          self->calib_loss, error)
      || !ncfm_ops_cross_entropy_backward (self->calib_probs, self->dec_labels, NULL,
          self->calib_dlogits, error)
      || !ncfm_ops_axpby (self->calib, self->calib_dlogits, 0.0f, self->calib_dlogits, error))
    return FALSE;
  if (!ncfm_model_backward (trained, self->calib_acts, NULL, self->calib_dlogits, FALSE, error))
    return FALSE;
  return ncfm_ops_axpby (1.0f, ncfm_activations_get_grad_images (self->calib_acts), 1.0f,
      grad_images, error);
}

/* The decoded images' labels: an upload only when the class changes. */
static gboolean
ensure_labels (NcfmDistiller *self, guint c, gint64 n, GError **error)
{
  if (self->dec_labels_class == (gint) c)
    return TRUE;
  g_autofree gint32 *l = g_new (gint32, n);
  for (gint64 i = 0; i < n; i++)
    l[i] = (gint32) c;
  if (!ncfm_tensor_set_data (self->dec_labels, (const guint8 *) l, n * sizeof (gint32), error))
    return FALSE;
  self->dec_labels_class = (gint) c;
  return TRUE;
}

/* The pending sampler's one ascent step on the gradients it holds. */
static void
ascend_pending (NcfmDistiller *self)
{
  ncfm_sampler_ascent_step (self->psi_pending);
  g_clear_object (&self->psi_pending);
  self->psi_pending_steps = 0;
}

/* dL/dt of the class (real part added) to the learned sampler; *skipped when
 * it is not finite. */
static gboolean
psi_backward (NcfmDistiller *self, NcfmSampler *sampler, NcfmFreqDraw *draw,
    NcfmTensor *real_features, NcfmTensor *real_labels, guint c, gboolean *skipped,
    GError **error)
{
  if (!ncfm_ncfd_real_backward (self->ncfd, real_features, real_labels, FALSE, error))
    return FALSE;
  NcfmTensor *grad_t = ncfm_ncfd_get_grad_t (self->ncfd);
  *skipped = !ncfm_tensor_check_finite (grad_t, "class step", "dL/dt", NULL);
  if (*skipped)
    return TRUE;
  /* another sampler than the one holding gradients: the old one's window
   * ends here, its gradients are not left behind */
  if (self->psi_pending && self->psi_pending != sampler)
    ascend_pending (self);
  g_autoptr (GError) perr = NULL;
  if (ncfm_sampler_backward (sampler, draw, grad_t, &perr)) {
    g_set_object (&self->psi_pending, sampler);
    self->psi_pending_steps++;
  } else
    g_debug ("not training the sampler on draw %" G_GUINT64_FORMAT " (class %u): %s",
        ncfm_freq_draw_get_index (draw), c, perr->message);
  return TRUE;
}

static guint
factor_of (NcfmDistiller *self)
{
  guint factor = 0;
  ncfm_synset_get_shape (self->synset, NULL, NULL, NULL, NULL, NULL, &factor);
  return factor;
}

/* The class's decoded, normalised (and augmented) images through the model;
 * returns the tensor the model saw. */
static NcfmTensor *
forward (NcfmDistiller *self, guint c, NcfmModel *model, NcfmAugmentParams *params,
    const gfloat *mean, const gfloat *std, guint channels, GError **error)
{
  NcfmTensor *dec = ncfm_multiformation_decode (ncfm_synset_get_images (self->synset, c),
      factor_of (self), self->dec_work, error);
  if (!dec)
    return NULL;
  guint nd = 0;
  const gint64 *shape = ncfm_tensor_get_shape (dec, &nd);
  /* scratch kept across steps: every class decodes to the same shape */
  if (!ncfm_tensor_ensure_f32 (self->device, &self->xn, shape, nd, error)
      || !ncfm_tensor_ensure_f32 (self->device, &self->gx, shape, nd, error)
      || (params && !ncfm_tensor_ensure_f32 (self->device, &self->xa, shape, nd, error))
      || !ncfm_ops_normalize (dec, self->xn, mean, std, channels, error))
    return NULL;
  NcfmTensor *x = self->xn;
  if (params) {
    if (!ncfm_augment_params_apply (params, self->xn, self->xa, self->aug_work, error))
      return NULL;
    x = self->xa;
  }
  if (!ncfm_model_forward (model, x, self->acts, error))
    return NULL;
  return x;
}

/**
 * ncfm_distiller_step_class:
 * @self: a #NcfmDistiller
 * @c: the class
 * @stats: the real per-class CF statistics of the batch at @t
 * @draw: the batch's frequency draw (t, F32 [M', d]); a learned sampler's
 *   gets dL/dt (NCFD only)
 * @real_features: the batch's real features F32 [B, d] (for the real part of dL/dt)
 * @real_labels: their labels, I32 [B]
 * @model: the feature extractor the real features came from
 * @trained: (nullable): a trained model for the calibration term (used when
 *   the calibration weight is above 0)
 * @params: (nullable): the batch's augmentation (shared mode), replayed on
 *   the synthetic images
 * @loss: (out): the class's matching loss
 * @skipped: (out): set when the loss, the image gradient or dL/dt was not
 *   finite: nothing changed, the step is counted as non-finite
 * @error: return location for a #GError
 *
 * One optimisation step on the stored images of class @c (see the section
 * text).
 *
 * Returns: %TRUE on success (also for a skipped step); %FALSE on an error
 */
gboolean
ncfm_distiller_step_class (NcfmDistiller *self, guint c, NcfmCFStats *stats,
    NcfmFreqDraw *draw, NcfmTensor *real_features, NcfmTensor *real_labels, NcfmModel *model,
    NcfmModel *trained, NcfmAugmentParams *params, gdouble *loss, gboolean *skipped,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self) && NCFM_IS_CF_STATS (stats), FALSE);
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (draw) && NCFM_IS_MODEL (model), FALSE);
  g_autoptr (NcfmSampler) sampler = ncfm_freq_draw_dup_sampler (draw);
  g_return_val_if_fail (loss && skipped, FALSE);
  const gboolean learned = self->metric == NCFM_METRIC_NCFD && sampler
      && ncfm_sampler_get_kind (sampler) == NCFM_SAMPLER_LEARNED;
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  guint k = 0;
  const guint channels = ncfm_synset_get_normalization (self->synset, mean, std);
  ncfm_synset_get_shape (self->synset, &k, NULL, NULL, NULL, NULL, NULL);
  *skipped = FALSE;
  *loss = 0.0;
  if (c >= k) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "class %u of a set of %u classes", c, k);
    return FALSE;
  }

  NcfmTensor *x = forward (self, c, model, params, mean, std, channels, error);
  if (!x || !ensure_labels (self, c, ncfm_tensor_get_dim (x, 0), error)
      || !ncfm_ncfd_synthetic_draw (self->ncfd, stats, ncfm_activations_get_features (self->acts),
          self->dec_labels, draw, learned, error))
    return FALSE;
  *loss = ncfm_ncfd_get_class_loss (self->ncfd, c);
  /* a non-finite loss or gradient would poison the images, their AdamW
   * state and psi for good: the step is skipped and counted */
  *skipped = !isfinite (*loss);
  if (*skipped)
    goto skip;

  if (!ncfm_model_backward (model, self->acts, ncfm_ncfd_get_grad_syn_features (self->ncfd),
          NULL, FALSE, error))
    return FALSE;
  NcfmTensor *gimg = ncfm_activations_get_grad_images (self->acts);
  if (trained && self->calib > 0.0f && !calibrate (self, trained, x, gimg, error))
    return FALSE;
  if (params && !ncfm_augment_params_backward (params, gimg, self->gx, self->aug_work, error))
    return FALSE;
  if (!ncfm_ops_normalize_backward (params ? self->gx : gimg, self->gx, std, channels, error))
    return FALSE;
  NcfmTensor *g = ncfm_multiformation_backward (self->gx, factor_of (self), self->dec_work,
      error);
  if (!g)
    return FALSE;
  *skipped = !ncfm_tensor_check_finite (g, "class step", "image gradient", NULL);
  if (*skipped)
    goto skip;
  if (learned && !psi_backward (self, sampler, draw, real_features, real_labels, c, skipped,
          error))
    return FALSE;
  if (*skipped)
    goto skip;
  if (!ncfm_synset_adamw_step (self->synset, c, g, self->lr, self->weight_decay, error))
    return FALSE;
  self->nonfinite_run = 0;
  return TRUE;

skip:
  self->nonfinite_steps++;
  self->nonfinite_run++;
  return TRUE;
}

/**
 * ncfm_distiller_end_step:
 * @self: a #NcfmDistiller
 *
 * Ends the batch's step: when the learned sampler holds the dL/dt of at
 * least ncfm_distiller_get_sampler_step_every() class steps (by default:
 * when a class step of this batch sent one), its one ascent step; then the
 * set's step count grows by one.
 *
 * Returns: whether the sampler took a step
 */
gboolean
ncfm_distiller_end_step (NcfmDistiller *self)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), FALSE);
  const gboolean stepped = self->psi_pending != NULL
      && self->psi_pending_steps >= self->psi_step_every;
  if (stepped)
    ascend_pending (self);
  ncfm_synset_set_step (self->synset, ncfm_synset_get_step (self->synset) + 1);
  return stepped;
}

/**
 * ncfm_distiller_get_nonfinite_steps:
 * @self: a #NcfmDistiller
 *
 * Returns: the class steps skipped so far for a non-finite loss or gradient
 */
guint64
ncfm_distiller_get_nonfinite_steps (NcfmDistiller *self)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), 0);
  return self->nonfinite_steps;
}

/**
 * ncfm_distiller_get_nonfinite_run:
 * @self: a #NcfmDistiller
 *
 * Returns: of them, how many in a row up to the last class step
 */
guint
ncfm_distiller_get_nonfinite_run (NcfmDistiller *self)
{
  g_return_val_if_fail (NCFM_IS_DISTILLER (self), 0);
  return self->nonfinite_run;
}
