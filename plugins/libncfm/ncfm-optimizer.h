/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_OPTIMIZER_H
#define NCFM_OPTIMIZER_H

#include <glib-object.h>
#include "ncfm-model.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmOptimizerKind:
 * @NCFM_OPTIMIZER_SGD: torch.optim.SGD: momentum (dampening 0, no
 *   Nesterov), weight decay added to the gradient (pool pretraining)
 * @NCFM_OPTIMIZER_ADAMW: torch.optim.AdamW: betas 0.9 / 0.999, eps 1e-8,
 *   decoupled weight decay (the evaluation protocol)
 *
 * The update rule of an #NcfmOptimizer.
 */
typedef enum {
  NCFM_OPTIMIZER_SGD,
  NCFM_OPTIMIZER_ADAMW,
} NcfmOptimizerKind;

const gchar *ncfm_optimizer_kind_to_string (NcfmOptimizerKind kind);

/**
 * NcfmSchedule:
 * @NCFM_SCHEDULE_CONSTANT: the base learning rate throughout
 * @NCFM_SCHEDULE_POOL: x0.2 at 2/3 and at 5/6 of the steps (pool pretraining)
 * @NCFM_SCHEDULE_EVALUATION: x0.5 at 20, 40, 60 and 80 % of the steps
 *   (evaluation of a synthetic set)
 *
 * The MultiStep learning-rate schedules of the method
 * (ncfm_schedule_get_lr()).
 */
typedef enum {
  NCFM_SCHEDULE_CONSTANT,
  NCFM_SCHEDULE_POOL,
  NCFM_SCHEDULE_EVALUATION,
} NcfmSchedule;

gdouble ncfm_schedule_get_lr (NcfmSchedule schedule, gdouble base_lr, guint64 step,
    guint64 total_steps);

#define NCFM_TYPE_OPTIMIZER (ncfm_optimizer_get_type ())
G_DECLARE_FINAL_TYPE (NcfmOptimizer, ncfm_optimizer, NCFM, OPTIMIZER, GObject)

NcfmOptimizer *ncfm_optimizer_new (NcfmOptimizerKind kind, gfloat momentum,
    gfloat weight_decay, GError **error);
NcfmOptimizer *ncfm_optimizer_new_for_model (NcfmModel *model, NcfmOptimizerKind kind,
    gfloat momentum, gfloat weight_decay, GError **error);
gboolean ncfm_optimizer_add_parameter (NcfmOptimizer *self, const gchar *name,
    NcfmTensor *param, NcfmTensor *grad, GError **error);
gboolean ncfm_optimizer_step (NcfmOptimizer *self, gfloat lr, GError **error);

NcfmOptimizerKind ncfm_optimizer_get_kind (NcfmOptimizer *self);
guint ncfm_optimizer_get_n_parameters (NcfmOptimizer *self);
gint64 ncfm_optimizer_get_step_count (NcfmOptimizer *self);

void ncfm_optimizer_save_state (NcfmOptimizer *self, NcfmSafetensors *file,
    const gchar *prefix);
gboolean ncfm_optimizer_load_state (NcfmOptimizer *self, NcfmSafetensors *file,
    const gchar *prefix, GError **error);

G_END_DECLS
#endif
