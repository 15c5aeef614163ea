/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-labeller
 * @title: NcfmLabeller
 * @short_description: labels for unlabelled images from a trained classifier
 *
 * An #NcfmLabeller runs a classifier (any #NcfmModel, in evaluation mode)
 * on a batch of images and gives every image the arg-max class of its
 * logits, with the softmax probability of that class as its confidence.
 * An image keeps its label when the confidence reaches the minimum
 * (ncfm_labeller_set_min_confidence()) and its class is in the subset
 * (ncfm_labeller_set_classes(); all classes by default); otherwise its
 * label is -1, "no label".  The arg-max is taken over all the model's
 * classes: an image the model sees as an excluded class is left unlabelled,
 * not given the best of the allowed ones.
 *
 * A labeller is used by one thread at a time.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-labeller.h"

#include <math.h>

#include "ncfm-activations.h"
#include "ncfm-device.h"

struct _NcfmLabeller {
  GObject parent;
  NcfmModel *model;
  NcfmActivations *acts;
  guint k;
  gdouble min_confidence;
  gboolean *allowed;    /* [K] */
};

G_DEFINE_FINAL_TYPE (NcfmLabeller, ncfm_labeller, G_TYPE_OBJECT)

static void
ncfm_labeller_finalize (GObject *object)
{
  NcfmLabeller *self = NCFM_LABELLER (object);
  g_clear_object (&self->model);
  g_clear_object (&self->acts);
  g_free (self->allowed);
  G_OBJECT_CLASS (ncfm_labeller_parent_class)->finalize (object);
}

static void
ncfm_labeller_class_init (NcfmLabellerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_labeller_finalize;
}

static void
ncfm_labeller_init (NcfmLabeller *self)
{
  (void) self;
}

/**
 * ncfm_labeller_new:
 * @model: the classifier; it is put in evaluation mode
 *
 * Returns: (transfer full): a labeller that keeps every arg-max (minimum
 *   confidence 0, all classes)
 */
NcfmLabeller *
ncfm_labeller_new (NcfmModel *model)
{
  g_return_val_if_fail (NCFM_IS_MODEL (model), NULL);
  NcfmLabeller *self = g_object_new (NCFM_TYPE_LABELLER, NULL);
  self->model = g_object_ref (model);
  ncfm_model_set_training (model, FALSE);
  self->acts = ncfm_activations_new ();
  self->k = ncfm_model_get_num_classes (model);
  self->allowed = g_new (gboolean, MAX (self->k, 1u));
  for (guint i = 0; i < self->k; i++)
    self->allowed[i] = TRUE;
  return self;
}

/**
 * ncfm_labeller_get_model:
 * @self: a #NcfmLabeller
 *
 * Returns: (transfer none): the classifier
 */
NcfmModel *
ncfm_labeller_get_model (NcfmLabeller *self)
{
  g_return_val_if_fail (NCFM_IS_LABELLER (self), NULL);
  return self->model;
}

/**
 * ncfm_labeller_set_min_confidence:
 * @self: a #NcfmLabeller
 * @min_confidence: the softmax probability in [0, 1] an arg-max needs to be kept
 */
void
ncfm_labeller_set_min_confidence (NcfmLabeller *self, gdouble min_confidence)
{
  g_return_if_fail (NCFM_IS_LABELLER (self));
  g_return_if_fail (min_confidence >= 0.0 && min_confidence <= 1.0);
  self->min_confidence = min_confidence;
}

gdouble
ncfm_labeller_get_min_confidence (NcfmLabeller *self)
{
  g_return_val_if_fail (NCFM_IS_LABELLER (self), 0.0);
  return self->min_confidence;
}

/**
 * ncfm_labeller_set_classes:
 * @self: a #NcfmLabeller
 * @classes: (array length=n_classes) (nullable): the classes whose labels are kept
 * @n_classes: their number; 0 keeps every class
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error (%NCFM_ERROR_ARGUMENT) when a class
 *   is not below the model's number of classes (the subset is then unchanged)
 */
gboolean
ncfm_labeller_set_classes (NcfmLabeller *self, const guint *classes, guint n_classes,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_LABELLER (self), FALSE);
  for (guint i = 0; i < n_classes; i++) {
    if (classes[i] >= self->k) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "class %u is not a class of the "
          "model, which has %u (0 .. %u)", classes[i], self->k, self->k - 1);
      return FALSE;
    }
  }
  for (guint i = 0; i < self->k; i++)
    self->allowed[i] = n_classes == 0;
  for (guint i = 0; i < n_classes; i++)
    self->allowed[classes[i]] = TRUE;
  return TRUE;
}

/**
 * ncfm_labeller_accepts:
 * @self: a #NcfmLabeller
 * @class_id: an arg-max class
 * @confidence: its softmax probability
 *
 * Returns: whether an image with this arg-max and confidence keeps its label
 */
gboolean
ncfm_labeller_accepts (NcfmLabeller *self, guint class_id, gdouble confidence)
{
  g_return_val_if_fail (NCFM_IS_LABELLER (self), FALSE);
  return class_id < self->k && self->allowed[class_id] && confidence >= self->min_confidence;
}

/* Arg-max of one row of logits and its softmax probability (max-shifted, in double). */
static guint
argmax_softmax (const gfloat *logits, guint k, gfloat *confidence)
{
  guint best = 0;
  for (guint j = 1; j < k; j++)
    if (logits[j] > logits[best])
      best = j;
  gdouble sum = 0.0;
  for (guint j = 0; j < k; j++)
    sum += exp ((gdouble) logits[j] - (gdouble) logits[best]);
  *confidence = (gfloat) (1.0 / sum);
  return best;
}

/**
 * ncfm_labeller_label:
 * @self: a #NcfmLabeller
 * @images: F32 [N, C, H, W] on the model's device, normalised as the model
 *   was trained
 * @labels: (out) (array length=n) (transfer full): the label of each image:
 *   its arg-max class, or -1 when it is not accepted
 * @predicted: (out) (array length=n) (transfer full) (optional): the arg-max
 *   class of each image
 * @confidences: (out) (array length=n) (transfer full) (optional): the
 *   softmax probability of each arg-max
 * @n: (out): N
 * @error: return location for a #GError
 *
 * Runs the model on @images (it takes the device lock itself).
 *
 * Returns: %TRUE, or %FALSE with @error when the images do not fit the
 *   model (shape, device) or the forward pass fails
 */
gboolean
ncfm_labeller_label (NcfmLabeller *self, NcfmTensor *images, gint32 **labels,
    gint32 **predicted, gfloat **confidences, guint *n, GError **error)
{
  g_return_val_if_fail (NCFM_IS_LABELLER (self), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (images), FALSE);
  NcfmDevice *dev = ncfm_model_get_device (self->model);
  if (ncfm_tensor_get_device (images) != dev) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "the images are on %s, the model on %s",
        ncfm_device_get_name (ncfm_tensor_get_device (images)), ncfm_device_get_name (dev));
    return FALSE;
  }
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (!ncfm_model_forward (self->model, images, self->acts, error))
    return FALSE;
  NcfmTensor *logits = ncfm_activations_get_logits (self->acts);
  const guint count = (guint) ncfm_tensor_get_dim (logits, 0);
  g_autofree gfloat *host = g_new (gfloat, (gsize) MAX (count, 1u) * self->k);
  ncfm_tensor_download (logits, host, (gsize) count * self->k * sizeof (gfloat));
  g_autofree gint32 *out = g_new (gint32, MAX (count, 1u));
  g_autofree gint32 *best = g_new (gint32, MAX (count, 1u));
  g_autofree gfloat *conf = g_new (gfloat, MAX (count, 1u));
  for (guint i = 0; i < count; i++) {
    best[i] = (gint32) argmax_softmax (host + (gsize) i * self->k, self->k, &conf[i]);
    out[i] = ncfm_labeller_accepts (self, (guint) best[i], conf[i]) ? best[i] : -1;
  }
  *labels = g_steal_pointer (&out);
  if (predicted)
    *predicted = g_steal_pointer (&best);
  if (confidences)
    *confidences = g_steal_pointer (&conf);
  *n = count;
  return TRUE;
}
