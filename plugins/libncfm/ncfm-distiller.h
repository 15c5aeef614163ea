/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_DISTILLER_H
#define NCFM_DISTILLER_H

#include <glib-object.h>
#include "ncfm-augment.h"
#include "ncfm-cf.h"
#include "ncfm-model.h"
#include "ncfm-ncfd.h"
#include "ncfm-sampler.h"
#include "ncfm-synset.h"

G_BEGIN_DECLS

/**
 * NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY:
 *
 * The most class steps ncfm_distiller_set_sampler_step_every() takes.
 */
#define NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY 1048576u

#define NCFM_TYPE_DISTILLER (ncfm_distiller_get_type ())
G_DECLARE_FINAL_TYPE (NcfmDistiller, ncfm_distiller, NCFM, DISTILLER, GObject)

NcfmDistiller *ncfm_distiller_new (NcfmSynset *synset, NcfmMetric metric, gfloat alpha,
    gfloat beta, GError **error);
void ncfm_distiller_set_optimizer (NcfmDistiller *self, gfloat lr, gfloat weight_decay);
void ncfm_distiller_set_calibration (NcfmDistiller *self, gfloat calib);
gboolean ncfm_distiller_set_sampler_step_every (NcfmDistiller *self, guint class_steps,
    GError **error);
guint ncfm_distiller_get_sampler_step_every (NcfmDistiller *self);
NcfmSynset *ncfm_distiller_get_synset (NcfmDistiller *self);
gboolean ncfm_distiller_step_class (NcfmDistiller *self, guint c, NcfmCFStats *stats,
    NcfmFreqDraw *draw, NcfmTensor *real_features, NcfmTensor *real_labels,
    NcfmModel *model, NcfmModel *trained, NcfmAugmentParams *params, gdouble *loss,
    gboolean *skipped, GError **error);
gboolean ncfm_distiller_end_step (NcfmDistiller *self);
guint64 ncfm_distiller_get_nonfinite_steps (NcfmDistiller *self);
guint ncfm_distiller_get_nonfinite_run (NcfmDistiller *self);

G_END_DECLS
#endif
