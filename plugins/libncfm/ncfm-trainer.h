/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_TRAINER_H
#define NCFM_TRAINER_H

#include <glib-object.h>
#include "ncfm-augment.h"
#include "ncfm-model.h"
#include "ncfm-optimizer.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_TRAINER (ncfm_trainer_get_type ())
G_DECLARE_FINAL_TYPE (NcfmTrainer, ncfm_trainer, NCFM, TRAINER, GObject)

NcfmTrainer *ncfm_trainer_new (NcfmModel *model, NcfmOptimizer *optimizer, NcfmModel *teacher,
    NcfmAugment *augment, gfloat cutmix_prob, GError **error);
gboolean ncfm_trainer_step (NcfmTrainer *self, NcfmTensor *images, NcfmTensor *labels,
    guint64 seed, gfloat lr, gdouble *loss, guint *correct, GError **error);
guint64 ncfm_trainer_step_seed (guint64 seed, guint64 step);
NcfmModel *ncfm_trainer_get_model (NcfmTrainer *self);

gboolean ncfm_classifier_check_labels (const gint32 *labels, guint n, guint num_classes,
    GError **error);
guint ncfm_classifier_label_rank (const gfloat *logits, guint num_classes, gint32 label);

G_END_DECLS
#endif
