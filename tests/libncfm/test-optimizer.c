/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NcfmOptimizer (ncfm-optimizer.c): SGD and AdamW over several steps
 * against torch.optim's update rules in double, the state saved and loaded
 * (a resumed optimizer continues bit for bit), every bad state an error
 * naming the tensor with the optimizer left unchanged, and the schedules. */
#include <math.h>
#include <string.h>
#include "libncfm-test.h"

#define N 3
#define STEPS 4
#define LR 0.05f
#define WD 0.1f
#define MOMENTUM 0.9f

static const gfloat p0[N] = { 1.0f, -2.0f, 0.5f };

/* The gradient of step s (0-based): varied signs and sizes. */
static void
gradient_at (guint s, gfloat *g)
{
  for (guint i = 0; i < N; i++)
    g[i] = (gfloat) (sin (1.0 + 3.0 * s + i) * (1.0 + i));
}

static NcfmTensor *
f32 (NcfmDevice *dev, const gfloat *v, gint64 n)
{
  g_autoptr (GError) error = NULL;
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, &n, 1, (const guint8 *) v,
      (gsize) n * sizeof (gfloat), &error);
  g_assert_no_error (error);
  return t;
}

/* An optimizer over one parameter "w" (p0) and its gradient tensor. */
static NcfmOptimizer *
new_optimizer (NcfmDevice *dev, NcfmOptimizerKind kind, NcfmTensor **param, NcfmTensor **grad)
{
  g_autoptr (GError) error = NULL;
  const gfloat zero[N] = { 0 };
  *param = f32 (dev, p0, N);
  *grad = f32 (dev, zero, N);
  NcfmOptimizer *opt = ncfm_optimizer_new (kind, MOMENTUM, WD, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_optimizer_add_parameter (opt, "w", *param, *grad, &error));
  g_assert_no_error (error);
  return opt;
}

static void
run_steps (NcfmOptimizer *opt, NcfmTensor *grad, guint from, guint to)
{
  g_autoptr (GError) error = NULL;
  for (guint s = from; s < to; s++) {
    gfloat g[N];
    gradient_at (s, g);
    g_assert_true (ncfm_tensor_set_data (grad, (const guint8 *) g, sizeof g, &error));
    g_assert_true (ncfm_optimizer_step (opt, LR, &error));
    g_assert_no_error (error);
  }
}

/* torch.optim.SGD (dampening 0) and AdamW (_single_tensor_adamw) in double. */
static void
reference (NcfmOptimizerKind kind, guint steps, double *p)
{
  double m[N] = { 0 }, v[N] = { 0 };
  for (guint i = 0; i < N; i++)
    p[i] = p0[i];
  for (guint s = 0; s < steps; s++) {
    gfloat g[N];
    gradient_at (s, g);
    for (guint i = 0; i < N; i++) {
      if (kind == NCFM_OPTIMIZER_SGD) {
        const double d = g[i] + (double) WD * p[i];
        m[i] = s == 0 ? d : MOMENTUM * (double) m[i] + d;
        p[i] -= (double) LR * m[i];
      } else {
        const double bc1 = 1.0 - pow (0.9, s + 1), bc2 = 1.0 - pow (0.999, s + 1);
        p[i] *= 1.0 - (double) LR * WD;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * (double) g[i] * g[i];
        p[i] -= (double) LR / bc1 * m[i] / (sqrt (v[i]) / sqrt (bc2) + 1e-8);
      }
    }
  }
}

/* @param after STEPS steps against the reference.  Each step rounds a
 * handful of float operations on values of size ~1: a few ulps per step,
 * adding up over the steps. */
static void
assert_matches_reference (NcfmOptimizerKind kind, NcfmTensor *param)
{
  double want[N];
  reference (kind, STEPS, want);
  g_autofree float *got = ncfm_test_tensor_host (param);
  for (guint i = 0; i < N; i++) {
    g_test_message ("%s p[%u]: %.9g, reference %.9g", ncfm_optimizer_kind_to_string (kind), i,
        got[i], want[i]);
    g_assert_cmpfloat (fabs (got[i] - want[i]), <=, 16 * STEPS * FLT_EPSILON * MAX (1.0,
            fabs (want[i])));
  }
}

static void
test_steps_match_torch (gconstpointer data)
{
  const NcfmOptimizerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmTensor) param = NULL;
  g_autoptr (NcfmTensor) grad = NULL;
  g_autoptr (NcfmOptimizer) opt = new_optimizer (dev, kind, &param, &grad);
  run_steps (opt, grad, 0, STEPS);
  g_assert_cmpint (ncfm_optimizer_get_step_count (opt), ==, STEPS);
  g_assert_cmpuint (ncfm_optimizer_get_n_parameters (opt), ==, 1);
  assert_matches_reference (kind, param);
  g_autofree float *got = ncfm_test_tensor_host (param);
  g_assert_cmpfloat (fabs (got[0] - p0[0]), >, 0.01);   /* it moved */
}

/* The state of @opt under the prefix "opt.", as a safetensors file's bytes. */
static GBytes *
saved_state (NcfmOptimizer *opt)
{
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  ncfm_optimizer_save_state (opt, st, "opt.");
  return ncfm_safetensors_serialize (st);
}

/* Saved after 2 steps and loaded into a fresh optimizer over the same
 * weights: the next 2 steps give the bits of an uninterrupted run. */
static void
test_resume_bitwise (gconstpointer data)
{
  const NcfmOptimizerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) p_a = NULL;
  g_autoptr (NcfmTensor) g_a = NULL;
  g_autoptr (NcfmOptimizer) a = new_optimizer (dev, kind, &p_a, &g_a);
  run_steps (a, g_a, 0, 2);

  g_autoptr (GBytes) bytes = saved_state (a);
  g_autoptr (NcfmSafetensors) back = ncfm_safetensors_load_from_bytes (bytes, "state", &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_safetensors_contains (back, "opt.step"));
  g_assert_true (ncfm_safetensors_contains (back, kind == NCFM_OPTIMIZER_SGD
          ? "opt.w.momentum_buffer" : "opt.w.exp_avg_sq"));
  g_assert_cmpstr (ncfm_safetensors_get_metadata (back, "opt.kind"), ==,
      ncfm_optimizer_kind_to_string (kind));

  g_autoptr (NcfmTensor) p_b = NULL;
  g_autoptr (NcfmTensor) g_b = NULL;
  g_autoptr (NcfmOptimizer) b = new_optimizer (dev, kind, &p_b, &g_b);
  g_assert_true (ncfm_tensor_copy_from (p_b, p_a, &error));
  g_assert_true (ncfm_optimizer_load_state (b, back, "opt.", &error));
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_optimizer_get_step_count (b), ==, 2);
  run_steps (a, g_a, 2, 4);
  run_steps (b, g_b, 2, 4);
  g_autofree float *ha = ncfm_test_tensor_host (p_a);
  g_autofree float *hb = ncfm_test_tensor_host (p_b);
  g_assert_cmpmem (ha, N * sizeof (float), hb, N * sizeof (float));
}

/* Fails to load @st, with an error of @domain/@code containing @what, and
 * keeps the optimizer's step count. */
static void
assert_load_fails (NcfmOptimizer *opt, NcfmSafetensors *st, GQuark domain, gint code,
    const gchar *what)
{
  g_autoptr (GError) error = NULL;
  const gint64 steps = ncfm_optimizer_get_step_count (opt);
  g_assert_false (ncfm_optimizer_load_state (opt, st, "opt.", &error));
  g_assert_error (error, domain, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, what));
  g_assert_cmpint (ncfm_optimizer_get_step_count (opt), ==, steps);
}

static void
test_bad_state (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmTensor) p = NULL;
  g_autoptr (NcfmTensor) g = NULL;
  g_autoptr (NcfmOptimizer) opt = new_optimizer (dev, NCFM_OPTIMIZER_ADAMW, &p, &g);
  run_steps (opt, g, 0, 1);
  g_autoptr (GBytes) good_bytes = saved_state (opt);
  const gint64 two = 2, one = 1;
  const gfloat nan3[N] = { 0.0f, NAN, 0.0f }, short2[2] = { 0 };

#define FRESH() ncfm_safetensors_load_from_bytes (good_bytes, "state", NULL)
  g_autoptr (NcfmSafetensors) bad_shape = FRESH ();
  ncfm_safetensors_set (bad_shape, "opt.w.exp_avg", NCFM_DTYPE_F32, &two, 1, short2,
      sizeof short2);
  assert_load_fails (opt, bad_shape, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_SHAPE,
      "tensor 'opt.w.exp_avg': shape [2], expected [3]");

  g_autoptr (NcfmSafetensors) bad_nan = FRESH ();
  ncfm_safetensors_set (bad_nan, "opt.w.exp_avg_sq", NCFM_DTYPE_F32, (const gint64[]) { N }, 1,
      nan3, sizeof nan3);
  assert_load_fails (opt, bad_nan, NCFM_ERROR, NCFM_ERROR_NOT_FINITE, "opt.w.exp_avg_sq");

  g_autoptr (NcfmSafetensors) bad_dtype = FRESH ();
  const gint32 ints[N] = { 0 };
  ncfm_safetensors_set (bad_dtype, "opt.w.exp_avg", NCFM_DTYPE_I32, (const gint64[]) { N }, 1,
      ints, sizeof ints);
  assert_load_fails (opt, bad_dtype, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
      "tensor 'opt.w.exp_avg' is I32, expected F32");

  g_autoptr (NcfmSafetensors) bad_step = FRESH ();
  const gint64 negative = -3;
  ncfm_safetensors_set (bad_step, "opt.step", NCFM_DTYPE_I64, &one, 1, &negative,
      sizeof negative);
  assert_load_fails (opt, bad_step, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "tensor 'opt.step' must be "
      "one I64 step count");

  g_autoptr (NcfmSafetensors) missing = FRESH ();
  ncfm_safetensors_remove (missing, "opt.w.exp_avg_sq");
  assert_load_fails (opt, missing, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_MISSING,
      "opt.w.exp_avg_sq");

  g_autoptr (NcfmSafetensors) other_kind = FRESH ();
  ncfm_safetensors_set_metadata (other_kind, "opt.kind", "sgd");
  assert_load_fails (opt, other_kind, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
      "metadata opt.kind is \"sgd\" but this optimizer is adamw");
#undef FRESH

  /* after all that, the state is still the one of step 1: its next steps match the reference */
  run_steps (opt, g, 1, STEPS);
  assert_matches_reference (NCFM_OPTIMIZER_ADAMW, p);
}

static void
test_bad_arguments (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  g_assert_null (ncfm_optimizer_new (NCFM_OPTIMIZER_SGD, 1.5f, 0.0f, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "momentum 1.5 must be in [0, 1)"));
  g_clear_error (&error);

  g_autoptr (NcfmTensor) p = NULL;
  g_autoptr (NcfmTensor) g = NULL;
  g_autoptr (NcfmOptimizer) opt = new_optimizer (dev, NCFM_OPTIMIZER_SGD, &p, &g);
  g_assert_false (ncfm_optimizer_add_parameter (opt, "w", p, g, &error));
  g_assert_nonnull (strstr (error->message, "parameter w added twice"));
  g_clear_error (&error);
  const gfloat two[2] = { 0 };
  g_autoptr (NcfmTensor) g2 = f32 (dev, two, 2);
  g_assert_false (ncfm_optimizer_add_parameter (opt, "b", p, g2, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "parameter b is F32 [3] and its gradient F32 [2]"));
  g_clear_error (&error);
  g_assert_false (ncfm_optimizer_step (opt, NAN, &error));
  g_assert_nonnull (strstr (error->message, "learning rate nan"));
  g_clear_error (&error);
  g_assert_cmpint (ncfm_optimizer_get_step_count (opt), ==, 0);
  run_steps (opt, g, 0, 1);
  g_autoptr (NcfmTensor) q = f32 (dev, p0, N);
  g_assert_false (ncfm_optimizer_add_parameter (opt, "q", q, g, &error));
  g_assert_nonnull (strstr (error->message, "parameter q added after 1 steps"));
}

static void
test_for_model (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, 1, 8, 8, 3, 1, 4, NCFM_NORM_BATCH, 1,
      &error);
  g_assert_no_error (error);
  NcfmModel *model = NCFM_MODEL (net);
  g_autoptr (NcfmOptimizer) opt = ncfm_optimizer_new_for_model (model, NCFM_OPTIMIZER_SGD, 0.0f,
      0.0f, &error);
  g_assert_no_error (error);
  guint with_grad = 0;
  for (guint i = 0; i < ncfm_model_get_n_parameters (model); i++)
    with_grad += ncfm_model_get_gradient (model, ncfm_model_get_parameter_name (model, i)) != NULL;
  g_assert_cmpuint (with_grad, <, ncfm_model_get_n_parameters (model));   /* BN buffers */
  g_assert_cmpuint (ncfm_optimizer_get_n_parameters (opt), ==, with_grad);
  /* SGD without momentum keeps no buffers: the state is the step count alone */
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  ncfm_optimizer_save_state (opt, st, NULL);
  g_auto (GStrv) names = ncfm_safetensors_list_names (st);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "step");
}

static void
test_schedules (void)
{
  /* 6 steps: pool milestones at 4 and 5; evaluation at 1, 2, 3, 4 (floor of 1.2, 2.4, ...) */
  const gdouble pool[6] = { 1, 1, 1, 1, 0.2, 0.04 };
  const gdouble eval[6] = { 1, 0.5, 0.25, 0.125, 0.0625, 0.0625 };
  for (guint s = 0; s < 6; s++) {
    g_assert_cmpfloat_with_epsilon (ncfm_schedule_get_lr (NCFM_SCHEDULE_POOL, 1.0, s, 6),
        pool[s], 1e-12);
    g_assert_cmpfloat_with_epsilon (ncfm_schedule_get_lr (NCFM_SCHEDULE_EVALUATION, 1.0, s, 6),
        eval[s], 1e-12);
    g_assert_cmpfloat (ncfm_schedule_get_lr (NCFM_SCHEDULE_CONSTANT, 0.3, s, 6), ==, 0.3);
  }
  g_assert_cmpfloat (ncfm_schedule_get_lr (NCFM_SCHEDULE_POOL, 0.3, 100, 0), ==, 0.3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/optimizer/sgd-matches-torch", GINT_TO_POINTER (NCFM_OPTIMIZER_SGD),
      test_steps_match_torch);
  g_test_add_data_func ("/optimizer/adamw-matches-torch",
      GINT_TO_POINTER (NCFM_OPTIMIZER_ADAMW), test_steps_match_torch);
  g_test_add_data_func ("/optimizer/sgd-resume-bitwise", GINT_TO_POINTER (NCFM_OPTIMIZER_SGD),
      test_resume_bitwise);
  g_test_add_data_func ("/optimizer/adamw-resume-bitwise",
      GINT_TO_POINTER (NCFM_OPTIMIZER_ADAMW), test_resume_bitwise);
  g_test_add_func ("/optimizer/bad-state", test_bad_state);
  g_test_add_func ("/optimizer/bad-arguments", test_bad_arguments);
  g_test_add_func ("/optimizer/for-model", test_for_model);
  g_test_add_func ("/optimizer/schedules", test_schedules);
  return g_test_run ();
}
