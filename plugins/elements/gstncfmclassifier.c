/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmclassifier.c: the input checks of the classifier sinks, one
 * supervised step of a classifier, and top-k ranks.
 *
 * The step: optional CutMix of the batch (ncfm_augment_cutmix), targets =
 * the hard labels, or soft ones (the teacher's softmax on the same images,
 * else the CutMix mix lam * onehot(y) + (1 - lam) * onehot(y[perm])), softmax
 * cross-entropy, and the backward pass into the model's parameter
 * gradients.  The optimizer update is the caller's. */
#include "gstncfmclassifier.h"

#include <string.h>

#include "gstncfmcaps.h"
#include "gstncfmtensormemory.h"

/**
 * gst_ncfm_image_batch_caps:
 * @element: the element that posts the error
 * @caps: the sink caps
 * @channels: (out): C
 * @height: (out): H
 * @width: (out): W
 *
 * Returns: %TRUE if @caps are labelled image batches (float32 [B, C, H, W]
 *   and int32 [B])
 */
gboolean
gst_ncfm_image_batch_caps (GstElement *element, GstCaps *caps, guint *channels, guint *height,
    guint *width)
{
  g_autoptr (GError) error = NULL;
  GstNcfmTensorsInfo info;
  if (!gst_ncfm_tensors_info_from_caps (&info, caps, &error)) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("%s", error->message),
        ("%" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  const GstNcfmTensorInfo *img = &info.tensors[0], *lab = &info.tensors[1];
  if (info.n_tensors != 2 || img->dtype != NCFM_DTYPE_F32 || lab->dtype != NCFM_DTYPE_I32
      || img->n_dims != 4 || lab->n_dims != 1 || img->shape[1] < 1 || img->shape[1] > G_MAXINT
      || img->shape[2] > G_MAXINT || img->shape[3] > G_MAXINT) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (&info);
    g_autofree gchar *types = gst_ncfm_tensors_info_types (&info);
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("caps fields dimensions \"%s\" and types "
            "\"%s\": %s takes labelled image batches, W:H:C:B,B of float32,int32", dims, types,
            GST_ELEMENT_NAME (element)), ("%" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  *channels = (guint) img->shape[1];
  *height = (guint) img->shape[2];
  *width = (guint) img->shape[3];
  return TRUE;
}

/**
 * gst_ncfm_load_weights:
 * @element: the element that posts the error
 * @path: a weights file
 * @property: the property that named it
 *
 * Returns: (transfer full) (nullable): the file, which remembers its path;
 *   %NULL (an error posted) if it cannot be read or holds a NaN or infinity
 */
NcfmSafetensors *
gst_ncfm_load_weights (GstElement *element, const gchar *path, const gchar *property)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, &error);
  if (file)
    g_object_set_data_full (G_OBJECT (file), "ncfm-path", g_strdup (path), g_free);
  if (!file || !ncfm_safetensors_check_finite (file, &error)) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ, ("Cannot use the weights %s (property "
            "%s): %s", path, property, error->message), (NULL));
    return NULL;
  }
  return g_steal_pointer (&file);
}

/**
 * gst_ncfm_model_for_stream:
 * @element: the element that posts the error
 * @device: where the model runs
 * @file: weights from gst_ncfm_load_weights()
 * @property: the property that named the file
 * @channels: C of the stream
 * @height: H of the stream
 * @width: W of the stream
 * @num_classes: the stream's classes; 0 skips that check
 *
 * Returns: (transfer full) (nullable): the model of @file, if it takes the
 *   stream's images and classes
 */
NcfmModel *
gst_ncfm_model_for_stream (GstElement *element, NcfmDevice *device, NcfmSafetensors *file,
    const gchar *property, guint channels, guint height, guint width, guint num_classes)
{
  g_autoptr (GError) error = NULL;
  const gchar *path = g_object_get_data (G_OBJECT (file), "ncfm-path");
  g_autoptr (NcfmModel) m = ncfm_model_new_from_safetensors (device, file, &error);
  if (!m) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("Cannot build a model from %s (property "
            "%s): %s", path, property, error->message), (NULL));
    return NULL;
  }
  guint c, h, w;
  ncfm_model_get_input_shape (m, &c, &h, &w);
  if (c != channels || h != height || w != width) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("The model of %s (property %s) takes images "
            "of [%u,%u,%u] (C,H,W) but the stream has [%u,%u,%u]", path, property, c, h, w,
            channels, height, width), (NULL));
    return NULL;
  }
  if (num_classes && ncfm_model_get_num_classes (m) != num_classes) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("The model of %s (property %s) has %u classes "
            "but the stream has %u", path, property, ncfm_model_get_num_classes (m),
            num_classes), (NULL));
    return NULL;
  }
  return g_steal_pointer (&m);
}

/* What one batch size needs: the model's activations and the loss tensors.
 * An epoch whose last batch is short alternates two sizes; two slots keep
 * both allocated (reallocating a full batch's activations costs ~5 %). */
typedef struct {
  gint64 n;                                /* 0: unused */
  guint64 last_use;
  NcfmActivations *acts, *teacher_acts;
  NcfmTensor *mixed;                       /* [n, C, H, W] */
  NcfmTensor *probs, *dlogits, *targets;   /* [n, K] */
  NcfmTensor *loss;                        /* [1] */
  gfloat *host_logits, *host_targets;      /* [n, K] */
} BatchSlot;

#define N_SLOTS 2

struct _GstNcfmTrainStep {
  NcfmModel *model, *teacher;
  gfloat cutmix_prob;
  BatchSlot slots[N_SLOTS];
  guint64 uses;
};

/**
 * gst_ncfm_train_step_new:
 * @model: the model to train (referenced)
 * @teacher: (nullable): a model whose softmax outputs become the targets
 *   (soft cross-entropy); it must have @model's classes and input shape
 * @cutmix_prob: probability of CutMix per batch (0: never)
 *
 * Returns: (transfer full): the step's state
 */
GstNcfmTrainStep *
gst_ncfm_train_step_new (NcfmModel *model, NcfmModel *teacher, gfloat cutmix_prob)
{
  GstNcfmTrainStep *self = g_new0 (GstNcfmTrainStep, 1);
  self->model = g_object_ref (model);
  self->teacher = teacher ? g_object_ref (teacher) : NULL;
  self->cutmix_prob = cutmix_prob;
  return self;
}

static void
slot_clear (BatchSlot *b)
{
  g_clear_object (&b->acts);
  g_clear_object (&b->teacher_acts);
  g_clear_object (&b->mixed);
  g_clear_object (&b->probs);
  g_clear_object (&b->dlogits);
  g_clear_object (&b->targets);
  g_clear_object (&b->loss);
  g_clear_pointer (&b->host_logits, g_free);
  g_clear_pointer (&b->host_targets, g_free);
  b->n = 0;
}

void
gst_ncfm_train_step_free (GstNcfmTrainStep *self)
{
  if (!self)
    return;
  for (guint i = 0; i < N_SLOTS; i++)
    slot_clear (&self->slots[i]);
  g_clear_object (&self->model);
  g_clear_object (&self->teacher);
  g_free (self);
}

/* The slot of this batch size: a used one, else the least recently used, refilled. */
static BatchSlot *
slot_for (GstNcfmTrainStep *self, NcfmTensor *images, GError **error)
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
  if ((self->cutmix_prob > 0.0f
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
  b->n = n;
  return b;
}

/* The CutMix targets lam * onehot(y[i]) + (1 - lam) * onehot(y[perm[i]]) into b->targets. */
static gboolean
upload_mixed_targets (BatchSlot *b, const gint32 *labels, const gint32 *perm, gfloat lam,
    guint k, GError **error)
{
  const gsize n = (gsize) b->n;
  memset (b->host_targets, 0, n * k * sizeof (gfloat));
  for (gsize i = 0; i < n; i++) {
    b->host_targets[i * k + labels[i]] += lam;
    b->host_targets[i * k + labels[perm[i]]] += 1.0f - lam;
  }
  return ncfm_tensor_set_data (b->targets, (const guint8 *) b->host_targets,
      n * k * sizeof (gfloat), error);
}

/**
 * gst_ncfm_train_step_run:
 * @self: the step state
 * @images: F32 [N, C, H, W] on the model's device (not modified)
 * @labels: I32 [N] on the model's device
 * @host_labels: the same labels in host memory, checked to be in [0, K)
 * @seed: the seed of this batch's CutMix draw
 * @loss: (out): the batch's mean (soft) cross-entropy
 * @correct: (out): images whose top-1 prediction is their label (the
 *   label before any CutMix)
 * @error: return location for a #GError
 *
 * Forward and backward of one batch; the parameter gradients of the
 * model are overwritten.  The model must be in training mode.
 *
 * Returns: %TRUE on success
 */
gboolean
gst_ncfm_train_step_run (GstNcfmTrainStep *self, NcfmTensor *images, NcfmTensor *labels,
    const gint32 *host_labels, guint64 seed, gdouble *loss, guint *correct, GError **error)
{
  NcfmBackend *be = ncfm_device_get_backend (ncfm_model_get_device (self->model));
  const guint k = ncfm_model_get_num_classes (self->model);
  BatchSlot *b = slot_for (self, images, error);
  if (!b)
    return FALSE;
  const int n = (int) b->n;

  NcfmTensor *x = images;
  gfloat lam = 1.0f;
  g_autofree gint32 *perm = NULL;
  if (self->cutmix_prob > 0.0f) {
    if (!ncfm_augment_cutmix (images, b->mixed, seed, self->cutmix_prob, &perm, NULL, &lam,
            error))
      return FALSE;
    x = b->mixed;
  }

  const int32_t *hard = NULL;
  const float *soft = NULL;
  if (self->teacher) {
    /* the teacher's softmax on the very images the student sees */
    if (!ncfm_model_forward (self->teacher, x, b->teacher_acts, error))
      return FALSE;
    be->ops->cross_entropy_forward (be, n, (int) k,
        ncfm_tensor_f32 (ncfm_activations_get_logits (b->teacher_acts)),
        ncfm_tensor_get_data (labels), NULL, ncfm_tensor_f32 (b->targets),
        ncfm_tensor_f32 (b->loss));
    soft = ncfm_tensor_f32 (b->targets);
  } else if (lam < 1.0f) {
    if (!upload_mixed_targets (b, host_labels, perm, lam, k, error))
      return FALSE;
    soft = ncfm_tensor_f32 (b->targets);
  } else {
    hard = ncfm_tensor_get_data (labels);
  }

  if (!ncfm_model_forward (self->model, x, b->acts, error))
    return FALSE;
  NcfmTensor *logits = ncfm_activations_get_logits (b->acts);
  be->ops->cross_entropy_forward (be, n, (int) k, ncfm_tensor_f32 (logits), hard, soft,
      ncfm_tensor_f32 (b->probs), ncfm_tensor_f32 (b->loss));
  be->ops->cross_entropy_backward (be, n, (int) k, ncfm_tensor_f32 (b->probs), hard, soft,
      ncfm_tensor_f32 (b->dlogits));
  if (!ncfm_model_backward (self->model, b->acts, NULL, b->dlogits, TRUE, error))
    return FALSE;

  gfloat l = 0.0f;
  ncfm_tensor_download (b->loss, &l, sizeof l);
  ncfm_tensor_download (logits, b->host_logits, (gsize) n * k * sizeof (gfloat));
  guint c = 0;
  for (int i = 0; i < n; i++)
    c += gst_ncfm_label_rank (b->host_logits + (gsize) i * k, k, host_labels[i]) == 0;
  *loss = l;
  *correct = c;
  return TRUE;
}

/**
 * gst_ncfm_check_labels:
 * @labels: host labels
 * @n: their number
 * @num_classes: the model's classes K
 * @error: return location for a #GError
 *
 * Returns: %TRUE if every label is in [0, K)
 */
gboolean
gst_ncfm_check_labels (const gint32 *labels, guint n, guint num_classes, GError **error)
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
 * gst_ncfm_label_rank:
 * @logits: one row of K logits
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
gst_ncfm_label_rank (const gfloat *logits, guint num_classes, gint32 label)
{
  const gfloat v = logits[label];
  guint rank = 0;
  for (guint j = 0; j < num_classes; j++)
    rank += !(logits[j] < v) && (logits[j] != v || j < (guint) label);
  return rank;
}
