/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmoptimizer.h: the optimizer state of a model that ncfmtrain trains
 * (SGD with momentum or AdamW over every parameter that has a gradient) and
 * the MultiStep learning-rate schedules of the method. */
#ifndef GST_NCFM_OPTIMIZER_H
#define GST_NCFM_OPTIMIZER_H

#include <glib.h>
#include <ncfm.h>

G_BEGIN_DECLS

typedef enum {
  GST_NCFM_OPTIMIZER_SGD,    /* momentum, weight decay added to the gradient */
  GST_NCFM_OPTIMIZER_ADAMW,  /* betas 0.9/0.999, eps 1e-8, decoupled weight decay */
} GstNcfmOptimizerKind;

typedef enum {
  GST_NCFM_SCHEDULE_CONSTANT,
  GST_NCFM_SCHEDULE_POOL,        /* x0.2 at 2/3 and 5/6 of the steps (pool pretraining) */
  GST_NCFM_SCHEDULE_EVALUATION,  /* x0.5 at 20, 40, 60 and 80 % of the steps (evaluation) */
} GstNcfmSchedule;

typedef struct _GstNcfmOptimizer GstNcfmOptimizer;

GstNcfmOptimizer *gst_ncfm_optimizer_new (NcfmModel *model, GstNcfmOptimizerKind kind,
    gfloat momentum, gfloat weight_decay, GError **error);
void gst_ncfm_optimizer_step (GstNcfmOptimizer *self, gfloat lr);
void gst_ncfm_optimizer_free (GstNcfmOptimizer *self);

gdouble gst_ncfm_schedule_lr (GstNcfmSchedule schedule, gdouble base_lr, guint64 step,
    guint64 total_steps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstNcfmOptimizer, gst_ncfm_optimizer_free)

G_END_DECLS
#endif
