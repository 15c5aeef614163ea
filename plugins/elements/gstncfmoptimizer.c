/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmoptimizer.c: SGD / AdamW over the parameters of an NcfmModel with
 * the backend's optimizer ops (PyTorch torch.optim semantics), and the
 * MultiStep schedules.  Buffers such as BatchNorm running statistics (no
 * gradient) are not optimised. */
#include "gstncfmoptimizer.h"

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

typedef struct {
  NcfmTensor *param, *grad;   /* borrowed from the model, which outlives the optimizer */
  NcfmTensor *m, *v;          /* SGD: m is the momentum buffer; AdamW: both moments */
} Slot;

struct _GstNcfmOptimizer {
  NcfmModel *model;
  GstNcfmOptimizerKind kind;
  gfloat momentum, weight_decay;
  GArray *slots;
  gint step;                  /* steps taken (AdamW's bias correction is 1-based) */
};

static void
slot_clear (Slot *s)
{
  g_clear_object (&s->m);
  g_clear_object (&s->v);
}

static NcfmTensor *
zeros_like (NcfmTensor *t, GError **error)
{
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (t, &nd);
  NcfmTensor *z = ncfm_tensor_new (ncfm_tensor_get_device (t), NCFM_DTYPE_F32, shape, nd, error);
  if (z)
    ncfm_tensor_fill (z, 0.0f, NULL);
  return z;
}

/**
 * gst_ncfm_optimizer_new:
 * @model: the model; it must stay alive (and keep its parameter tensors)
 *   while the optimizer exists
 * @kind: SGD or AdamW
 * @momentum: SGD momentum (0: no buffer); ignored by AdamW
 * @weight_decay: L2 term of SGD, decoupled decay of AdamW
 * @error: return location for a #GError
 *
 * Returns: (transfer full): zeroed optimizer state for every parameter
 *   with a gradient, on the model's device
 */
GstNcfmOptimizer *
gst_ncfm_optimizer_new (NcfmModel *model, GstNcfmOptimizerKind kind, gfloat momentum,
    gfloat weight_decay, GError **error)
{
  g_autoptr (GstNcfmOptimizer) self = g_new0 (GstNcfmOptimizer, 1);
  self->model = g_object_ref (model);
  self->kind = kind;
  self->momentum = momentum;
  self->weight_decay = weight_decay;
  self->slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  g_array_set_clear_func (self->slots, (GDestroyNotify) slot_clear);
  for (guint i = 0; i < ncfm_model_get_n_parameters (model); i++) {
    const gchar *name = ncfm_model_get_parameter_name (model, i);
    Slot s = { ncfm_model_get_parameter (model, name), ncfm_model_get_gradient (model, name),
      NULL, NULL };
    if (!s.grad)
      continue;   /* a buffer */
    if (ncfm_tensor_get_dtype (s.param) != NCFM_DTYPE_F32) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "parameter %s is %s; only F32 parameters can be trained", name,
          ncfm_dtype_to_string (ncfm_tensor_get_dtype (s.param)));
      return NULL;
    }
    const gboolean need_m = kind == GST_NCFM_OPTIMIZER_ADAMW || momentum != 0.0f;
    if ((need_m && !(s.m = zeros_like (s.param, error)))
        || (kind == GST_NCFM_OPTIMIZER_ADAMW && !(s.v = zeros_like (s.param, error)))) {
      slot_clear (&s);
      return NULL;
    }
    g_array_append_val (self->slots, s);
  }
  return g_steal_pointer (&self);
}

/**
 * gst_ncfm_optimizer_step:
 * @self: the optimizer
 * @lr: the learning rate of this step
 *
 * One update of every parameter from the gradients of the model's last
 * backward pass (with parameter gradients).
 */
void
gst_ncfm_optimizer_step (GstNcfmOptimizer *self, gfloat lr)
{
  NcfmBackend *be = ncfm_device_get_backend (ncfm_model_get_device (self->model));
  self->step++;
  for (guint i = 0; i < self->slots->len; i++) {
    Slot *s = &g_array_index (self->slots, Slot, i);
    const size_t count = (size_t) ncfm_tensor_get_numel (s->param);
    if (self->kind == GST_NCFM_OPTIMIZER_ADAMW)
      be->ops->adamw_step (be, count, ncfm_tensor_f32 (s->param), ncfm_tensor_f32 (s->grad),
          ncfm_tensor_f32 (s->m), ncfm_tensor_f32 (s->v), lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS,
          self->weight_decay, self->step);
    else
      be->ops->sgd_step (be, count, ncfm_tensor_f32 (s->param), ncfm_tensor_f32 (s->grad),
          s->m ? ncfm_tensor_f32 (s->m) : NULL, lr, self->momentum, self->weight_decay);
  }
}

void
gst_ncfm_optimizer_free (GstNcfmOptimizer *self)
{
  if (!self)
    return;
  g_clear_pointer (&self->slots, g_array_unref);
  g_clear_object (&self->model);
  g_free (self);
}

/**
 * gst_ncfm_schedule_lr:
 * @schedule: the schedule
 * @base_lr: the initial learning rate
 * @step: the 0-based index of the step about to be taken
 * @total_steps: the length of the run; 0 (unknown) keeps @base_lr
 *
 * MultiStepLR over steps: the milestones are floor(total * fraction) and the
 * rate is multiplied by gamma at each one reached (step >= milestone).
 *
 * Returns: the learning rate of @step
 */
gdouble
gst_ncfm_schedule_lr (GstNcfmSchedule schedule, gdouble base_lr, guint64 step,
    guint64 total_steps)
{
  static const guint pool[][2] = { { 2, 3 }, { 5, 6 } };
  static const guint evaluation[][2] = { { 1, 5 }, { 2, 5 }, { 3, 5 }, { 4, 5 } };
  const guint (*fractions)[2] = NULL;
  guint n = 0;
  gdouble gamma = 1.0, lr = base_lr;

  switch (schedule) {
    case GST_NCFM_SCHEDULE_POOL:
      fractions = pool;
      n = G_N_ELEMENTS (pool);
      gamma = 0.2;
      break;
    case GST_NCFM_SCHEDULE_EVALUATION:
      fractions = evaluation;
      n = G_N_ELEMENTS (evaluation);
      gamma = 0.5;
      break;
    case GST_NCFM_SCHEDULE_CONSTANT:
      break;
  }
  if (total_steps == 0)
    return base_lr;
  for (guint i = 0; i < n; i++)
    if (step >= total_steps / fractions[i][1] * fractions[i][0]
        + total_steps % fractions[i][1] * fractions[i][0] / fractions[i][1])
      lr *= gamma;
  return lr;
}
