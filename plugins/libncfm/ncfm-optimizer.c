/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-optimizer
 * @title: NcfmOptimizer
 * @short_description: SGD with momentum and AdamW over parameter tensors
 *
 * An #NcfmOptimizer updates a list of (parameter, gradient) tensor pairs
 * with the semantics of torch.optim.SGD or torch.optim.AdamW; its state (the
 * momentum buffers or the two moments, zero at the start, and the step
 * count) lives on the parameters' device.  ncfm_optimizer_new_for_model()
 * takes every parameter of a model that has a gradient (buffers such as
 * BatchNorm running statistics are not optimised).
 *
 * The state can be saved into an #NcfmSafetensors under a name prefix
 * (PyTorch's names: `PREFIX<param>.momentum_buffer`,
 * `PREFIX<param>.exp_avg`, `PREFIX<param>.exp_avg_sq`, and `PREFIXstep`)
 * and loaded again, checked, so that a resumed run continues bit for bit
 * like one that was never interrupted.
 *
 * An optimizer may be shared between threads: every call takes its lock.
 * The tensors it updates must not be used by another thread during
 * ncfm_optimizer_step().
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-optimizer.h"

#include <math.h>
#include <string.h>

#include "ncfm-finite-private.h"
#include "ncfm-ops.h"

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f
#define STEP_NAME "step"
#define KIND_KEY "kind"

typedef struct {
  gchar *name;
  NcfmTensor *param, *grad;
  NcfmTensor *m, *v;   /* SGD: m is the momentum buffer (NULL without momentum); AdamW: moments */
} Slot;

struct _NcfmOptimizer {
  GObject parent;
  NcfmOptimizerKind kind;
  gfloat momentum, weight_decay;
  GMutex lock;
  GArray *slots;       /* of Slot, under lock */
  gint64 step;         /* steps taken, under lock (AdamW's bias correction is 1-based) */
};

G_DEFINE_FINAL_TYPE (NcfmOptimizer, ncfm_optimizer, G_TYPE_OBJECT)

static void
slot_clear (Slot *s)
{
  g_clear_pointer (&s->name, g_free);
  g_clear_object (&s->param);
  g_clear_object (&s->grad);
  g_clear_object (&s->m);
  g_clear_object (&s->v);
}

static void
ncfm_optimizer_finalize (GObject *object)
{
  NcfmOptimizer *self = NCFM_OPTIMIZER (object);
  g_array_unref (self->slots);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_optimizer_parent_class)->finalize (object);
}

static void
ncfm_optimizer_class_init (NcfmOptimizerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_optimizer_finalize;
}

static void
ncfm_optimizer_init (NcfmOptimizer *self)
{
  g_mutex_init (&self->lock);
  self->slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  g_array_set_clear_func (self->slots, (GDestroyNotify) slot_clear);
}

/**
 * ncfm_optimizer_kind_to_string:
 * @kind: an #NcfmOptimizerKind
 *
 * Returns: "sgd" or "adamw"
 */
const gchar *
ncfm_optimizer_kind_to_string (NcfmOptimizerKind kind)
{
  return kind == NCFM_OPTIMIZER_ADAMW ? "adamw" : "sgd";
}

/**
 * ncfm_optimizer_new:
 * @kind: SGD or AdamW
 * @momentum: SGD momentum in [0, 1) (0: no buffer); ignored by AdamW
 * @weight_decay: L2 term of SGD, decoupled decay of AdamW (>= 0)
 * @error: return location for a #GError
 *
 * An optimizer without parameters: add them with
 * ncfm_optimizer_add_parameter().
 *
 * Returns: (transfer full): the optimizer, or %NULL with @error set when
 *   an argument is out of range
 */
NcfmOptimizer *
ncfm_optimizer_new (NcfmOptimizerKind kind, gfloat momentum, gfloat weight_decay,
    GError **error)
{
  if (kind != NCFM_OPTIMIZER_SGD && kind != NCFM_OPTIMIZER_ADAMW) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "optimizer kind %d is unknown", kind);
    return NULL;
  }
  if (!(momentum >= 0.0f && momentum < 1.0f) || !(weight_decay >= 0.0f)
      || !isfinite (weight_decay)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "optimizer: momentum %g must be in "
        "[0, 1) and weight decay %g finite and >= 0", (double) momentum, (double) weight_decay);
    return NULL;
  }
  NcfmOptimizer *self = g_object_new (NCFM_TYPE_OPTIMIZER, NULL);
  self->kind = kind;
  self->momentum = momentum;
  self->weight_decay = weight_decay;
  return self;
}

/**
 * ncfm_optimizer_new_for_model:
 * @model: the model whose parameters to optimise
 * @kind: SGD or AdamW
 * @momentum: SGD momentum in [0, 1); ignored by AdamW
 * @weight_decay: L2 term of SGD, decoupled decay of AdamW
 * @error: return location for a #GError
 *
 * An optimizer over every parameter of @model that has a gradient, under
 * the model's parameter names, with zeroed state on the model's device.
 * The model's parameter and gradient tensors are referenced: the model
 * must keep using them (its backward writes the gradients that
 * ncfm_optimizer_step() reads).
 *
 * Returns: (transfer full): the optimizer, or %NULL with @error set (a
 *   parameter that is not F32)
 */
NcfmOptimizer *
ncfm_optimizer_new_for_model (NcfmModel *model, NcfmOptimizerKind kind, gfloat momentum,
    gfloat weight_decay, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (model), NULL);
  g_autoptr (NcfmOptimizer) self = ncfm_optimizer_new (kind, momentum, weight_decay, error);
  if (!self)
    return NULL;
  for (guint i = 0; i < ncfm_model_get_n_parameters (model); i++) {
    const gchar *name = ncfm_model_get_parameter_name (model, i);
    NcfmTensor *param = ncfm_model_get_parameter (model, name);
    NcfmTensor *grad = ncfm_model_get_gradient (model, name);
    if (!grad)
      continue;   /* a buffer */
    if (ncfm_tensor_get_dtype (param) != NCFM_DTYPE_F32) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "parameter %s is %s; only F32 parameters can be trained", name,
          ncfm_dtype_to_string (ncfm_tensor_get_dtype (param)));
      return NULL;
    }
    if (!ncfm_optimizer_add_parameter (self, name, param, grad, error))
      return NULL;
  }
  return g_steal_pointer (&self);
}

static NcfmTensor *
zeros_like (NcfmTensor *t, GError **error)
{
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (t, &nd);
  g_autoptr (NcfmTensor) z = ncfm_tensor_new (ncfm_tensor_get_device (t), NCFM_DTYPE_F32, shape,
      nd, error);
  if (!z || !ncfm_tensor_fill (z, 0.0f, error))
    return NULL;
  return g_steal_pointer (&z);
}

static gboolean
has_momentum_buffer (NcfmOptimizer *self)
{
  return self->kind == NCFM_OPTIMIZER_ADAMW || self->momentum != 0.0f;
}

/**
 * ncfm_optimizer_add_parameter:
 * @self: the optimizer
 * @name: a name for the parameter, unique in @self (the state's tensor names)
 * @param: F32 parameter tensor, updated in place by ncfm_optimizer_step()
 * @grad: F32 gradient of @param (same size and device), read by each step
 * @error: return location for a #GError
 *
 * Adds a parameter with zeroed state.  Parameters can only be added before
 * the first step (AdamW's bias correction counts the steps of all of them).
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_optimizer_add_parameter (NcfmOptimizer *self, const gchar *name, NcfmTensor *param,
    NcfmTensor *grad, GError **error)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self) && name, FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (param) && NCFM_IS_TENSOR (grad), FALSE);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  if (self->step > 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "optimizer: parameter %s added after "
        "%" G_GINT64_FORMAT " steps; add every parameter before the first", name, self->step);
    return FALSE;
  }
  for (guint i = 0; i < self->slots->len; i++) {
    if (g_str_equal (g_array_index (self->slots, Slot, i).name, name)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "optimizer: parameter %s added twice",
          name);
      return FALSE;
    }
  }
  /* the step's operands are checked here, once, so that a step cannot fail half-way */
  if (ncfm_tensor_get_dtype (param) != NCFM_DTYPE_F32
      || ncfm_tensor_get_dtype (grad) != NCFM_DTYPE_F32
      || ncfm_tensor_get_numel (param) != ncfm_tensor_get_numel (grad)
      || ncfm_tensor_get_device (param) != ncfm_tensor_get_device (grad)) {
    g_autofree gchar *dp = ncfm_tensor_describe (param);
    g_autofree gchar *dg = ncfm_tensor_describe (grad);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "optimizer: parameter %s is %s and its "
        "gradient %s; both must be F32 of the same size on one device", name, dp, dg);
    return FALSE;
  }
  Slot s = { g_strdup (name), g_object_ref (param), g_object_ref (grad), NULL, NULL };
  if ((has_momentum_buffer (self) && !(s.m = zeros_like (param, error)))
      || (self->kind == NCFM_OPTIMIZER_ADAMW && !(s.v = zeros_like (param, error)))) {
    slot_clear (&s);
    return FALSE;
  }
  g_array_append_val (self->slots, s);
  return TRUE;
}

/**
 * ncfm_optimizer_step:
 * @self: the optimizer
 * @lr: the learning rate of this step (finite, >= 0)
 * @error: return location for a #GError
 *
 * One update of every parameter from its gradient tensor as it is now
 * (e.g. after a model's backward pass with parameter gradients).
 *
 * Returns: %TRUE, or %FALSE with @error set (nothing updated)
 */
gboolean
ncfm_optimizer_step (NcfmOptimizer *self, gfloat lr, GError **error)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self), FALSE);
  if (!(lr >= 0.0f) || !isfinite (lr)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "optimizer: learning rate %g must be finite and >= 0", (double) lr);
    return FALSE;
  }
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  if (self->step >= G_MAXINT) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "optimizer: %" G_GINT64_FORMAT " steps taken, the most it counts", self->step);
    return FALSE;
  }
  self->step++;
  for (guint i = 0; i < self->slots->len; i++) {
    Slot *s = &g_array_index (self->slots, Slot, i);
    /* the operands were checked when the parameter was added: these cannot fail */
    if (!(self->kind == NCFM_OPTIMIZER_ADAMW
            ? ncfm_ops_adamw_step (s->param, s->grad, s->m, s->v, lr, ADAM_BETA1, ADAM_BETA2,
                ADAM_EPS, self->weight_decay, self->step, error)
            : ncfm_ops_sgd_step (s->param, s->grad, s->m, lr, self->momentum,
                self->weight_decay, error)))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_optimizer_get_kind:
 * @self: the optimizer
 *
 * Returns: its update rule
 */
NcfmOptimizerKind
ncfm_optimizer_get_kind (NcfmOptimizer *self)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self), NCFM_OPTIMIZER_SGD);
  return self->kind;
}

/**
 * ncfm_optimizer_get_n_parameters:
 * @self: the optimizer
 *
 * Returns: the number of parameter tensors it updates
 */
guint
ncfm_optimizer_get_n_parameters (NcfmOptimizer *self)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self), 0);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  return self->slots->len;
}

/**
 * ncfm_optimizer_get_step_count:
 * @self: the optimizer
 *
 * Returns: the steps taken (or loaded with the state)
 */
gint64
ncfm_optimizer_get_step_count (NcfmOptimizer *self)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self), 0);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  return self->step;
}

/* The state tensors of slot @s: their buffers and their names under @prefix. */
static guint
slot_state (NcfmOptimizer *self, const Slot *s, const gchar *prefix, NcfmTensor *bufs[2],
    gchar *names[2])
{
  guint n = 0;
  if (self->kind == NCFM_OPTIMIZER_ADAMW) {
    bufs[0] = s->m;
    names[n++] = g_strconcat (prefix, s->name, ".exp_avg", NULL);
    bufs[1] = s->v;
    names[n++] = g_strconcat (prefix, s->name, ".exp_avg_sq", NULL);
  } else if (s->m) {
    bufs[0] = s->m;
    names[n++] = g_strconcat (prefix, s->name, ".momentum_buffer", NULL);
  }
  return n;
}

/**
 * ncfm_optimizer_save_state:
 * @self: the optimizer
 * @file: where to add the state (tensors of the same names are replaced)
 * @prefix: (nullable): put in front of every tensor name and metadata key
 *   (e.g. "optimizer."); %NULL for none
 *
 * Adds the state: per parameter its momentum buffer (SGD with momentum) or
 * its two moments (AdamW), F32 of the parameter's shape; `PREFIXstep`, I64
 * [1], the steps taken; and the metadata `PREFIXkind` ("sgd", "adamw").
 */
void
ncfm_optimizer_save_state (NcfmOptimizer *self, NcfmSafetensors *file, const gchar *prefix)
{
  g_return_if_fail (NCFM_IS_OPTIMIZER (self) && NCFM_IS_SAFETENSORS (file));
  prefix = prefix ? prefix : "";
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  for (guint i = 0; i < self->slots->len; i++) {
    NcfmTensor *bufs[2];
    gchar *names[2];
    const guint n = slot_state (self, &g_array_index (self->slots, Slot, i), prefix, bufs, names);
    for (guint j = 0; j < n; j++) {
      ncfm_tensor_to_safetensors (bufs[j], file, names[j]);
      g_free (names[j]);
    }
  }
  const gint64 one = 1;
  g_autofree gchar *step_name = g_strconcat (prefix, STEP_NAME, NULL);
  g_autofree gchar *kind_key = g_strconcat (prefix, KIND_KEY, NULL);
  ncfm_safetensors_set (file, step_name, NCFM_DTYPE_I64, &one, 1, &self->step, sizeof self->step);
  ncfm_safetensors_set_metadata (file, kind_key, ncfm_optimizer_kind_to_string (self->kind));
}

/* The saved step count of @file, checked: I64 [1] in [0, G_MAXINT]. */
static gboolean
read_step (NcfmSafetensors *file, const gchar *name, gint64 *step, GError **error)
{
  NcfmDType dtype;
  gsize n_bytes = 0;
  gconstpointer data = ncfm_safetensors_peek (file, name, &dtype, &n_bytes, error);
  if (!data)
    return FALSE;
  gint64 v = -1;
  if (dtype == NCFM_DTYPE_I64 && n_bytes == sizeof v)
    memcpy (&v, data, sizeof v);
  if (v < 0 || v > G_MAXINT) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "optimizer state: tensor '%s' must be "
        "one I64 step count in [0, %d], got %s of %" G_GSIZE_FORMAT " bytes (%" G_GINT64_FORMAT
        ")", name, G_MAXINT, ncfm_dtype_to_string (dtype), n_bytes, v);
    return FALSE;
  }
  *step = v;
  return TRUE;
}

/* Host copy of the state tensor @name, checked against @like (F32, its shape, finite). */
static gfloat *
read_state_tensor (NcfmSafetensors *file, const gchar *name, NcfmTensor *like, GError **error)
{
  NcfmDType dtype;
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (like, &nd);
  gint64 have[NCFM_MAX_DIMS];
  guint have_nd;
  if (!ncfm_safetensors_get_info (file, name, &dtype, &have_nd, have, error))
    return NULL;
  if (dtype != NCFM_DTYPE_F32) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "optimizer state: tensor '%s' is %s, expected F32", name, ncfm_dtype_to_string (dtype));
    return NULL;
  }
  const gsize n = (gsize) ncfm_tensor_get_numel (like);
  g_autofree gfloat *host = g_new (gfloat, MAX (n, 1));
  if (!ncfm_safetensors_read_f32 (file, name, shape, nd, host, error)
      || !ncfm_check_finite_f32 (host, n, "optimizer state", name, error))
    return NULL;
  return g_steal_pointer (&host);
}

/**
 * ncfm_optimizer_load_state:
 * @self: the optimizer, with the parameters the state was saved from
 * @file: a file with ncfm_optimizer_save_state()'s tensors
 * @prefix: (nullable): the prefix they were saved under
 * @error: return location for a #GError
 *
 * Replaces the state with the one in @file, after checking all of it: the
 * kind (if recorded), every state tensor present, F32, of its parameter's
 * shape and finite, and the step count in range.  Other tensors of @file
 * are ignored.
 *
 * Returns: %TRUE, or %FALSE with @error set naming the tensor at fault
 *   (the optimizer is then unchanged)
 */
gboolean
ncfm_optimizer_load_state (NcfmOptimizer *self, NcfmSafetensors *file, const gchar *prefix,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_OPTIMIZER (self) && NCFM_IS_SAFETENSORS (file), FALSE);
  prefix = prefix ? prefix : "";
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autofree gchar *kind_key = g_strconcat (prefix, KIND_KEY, NULL);
  const gchar *kind = ncfm_safetensors_get_metadata (file, kind_key);
  if (kind && !g_str_equal (kind, ncfm_optimizer_kind_to_string (self->kind))) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "optimizer state: metadata %s is \"%s\" "
        "but this optimizer is %s", kind_key, kind, ncfm_optimizer_kind_to_string (self->kind));
    return FALSE;
  }
  gint64 step;
  g_autofree gchar *step_name = g_strconcat (prefix, STEP_NAME, NULL);
  if (!read_step (file, step_name, &step, error))
    return FALSE;
  /* everything is read and checked before anything is replaced */
  g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) targets = g_ptr_array_new ();
  for (guint i = 0; i < self->slots->len; i++) {
    const Slot *s = &g_array_index (self->slots, Slot, i);
    NcfmTensor *bufs[2];
    gchar *names[2];
    const guint n = slot_state (self, s, prefix, bufs, names);
    gboolean ok = TRUE;
    for (guint j = 0; j < n; j++) {
      gfloat *host = ok ? read_state_tensor (file, names[j], s->param, error) : NULL;
      ok = host != NULL;
      if (ok) {
        g_ptr_array_add (hosts, host);
        g_ptr_array_add (targets, bufs[j]);
      }
      g_free (names[j]);
    }
    if (!ok)
      return FALSE;
  }
  for (guint i = 0; i < targets->len; i++) {
    NcfmTensor *t = targets->pdata[i];
    if (!ncfm_tensor_set_data (t, hosts->pdata[i], ncfm_tensor_get_n_bytes (t), error))
      return FALSE;
  }
  self->step = step;
  return TRUE;
}

/**
 * ncfm_schedule_get_lr:
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
ncfm_schedule_get_lr (NcfmSchedule schedule, gdouble base_lr, guint64 step,
    guint64 total_steps)
{
  static const guint pool[][2] = { { 2, 3 }, { 5, 6 } };
  static const guint evaluation[][2] = { { 1, 5 }, { 2, 5 }, { 3, 5 }, { 4, 5 } };
  const guint (*fractions)[2] = NULL;
  guint n = 0;
  gdouble gamma = 1.0, lr = base_lr;

  switch (schedule) {
    case NCFM_SCHEDULE_POOL:
      fractions = pool;
      n = G_N_ELEMENTS (pool);
      gamma = 0.2;
      break;
    case NCFM_SCHEDULE_EVALUATION:
      fractions = evaluation;
      n = G_N_ELEMENTS (evaluation);
      gamma = 0.5;
      break;
    case NCFM_SCHEDULE_CONSTANT:
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
