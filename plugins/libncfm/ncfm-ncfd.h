/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_NCFD_H
#define NCFM_NCFD_H

#include <glib-object.h>
#include "ncfm-cf.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmMetric:
 * @NCFM_METRIC_NCFD: the neural characteristic function discrepancy (NCFM)
 * @NCFM_METRIC_MMD: squared distance of the class mean features (the DM baseline)
 *
 * What the synthetic features are matched on.
 */
typedef enum {
  NCFM_METRIC_NCFD,
  NCFM_METRIC_MMD,
} NcfmMetric;

const gchar *ncfm_metric_to_string (NcfmMetric metric);
gboolean ncfm_metric_from_string (const gchar *name, NcfmMetric *metric);

#define NCFM_TYPE_NCFD (ncfm_ncfd_get_type ())
G_DECLARE_FINAL_TYPE (NcfmNcfd, ncfm_ncfd, NCFM, NCFD, GObject)

NcfmNcfd *ncfm_ncfd_new (NcfmDevice *device, NcfmMetric metric, gfloat alpha, gfloat beta,
    GError **error);
void ncfm_ncfd_set_scale (NcfmNcfd *self, gfloat scale);
gfloat ncfm_ncfd_get_scale (NcfmNcfd *self);
NcfmMetric ncfm_ncfd_get_metric (NcfmNcfd *self);

gboolean ncfm_ncfd_synthetic (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *syn_features,
    NcfmTensor *syn_labels, NcfmTensor *t, gboolean grad_t, GError **error);
gboolean ncfm_ncfd_synthetic_draw (NcfmNcfd *self, NcfmCFStats *real, NcfmTensor *syn_features,
    NcfmTensor *syn_labels, NcfmFreqDraw *draw, gboolean grad_t, GError **error);
gboolean ncfm_ncfd_real_backward (NcfmNcfd *self, NcfmTensor *real_features,
    NcfmTensor *real_labels, gboolean grad_features, GError **error);
gboolean ncfm_ncfd_compute (NcfmNcfd *self, NcfmTensor *real_features, NcfmTensor *real_labels,
    NcfmTensor *syn_features, NcfmTensor *syn_labels, NcfmTensor *t, guint num_classes,
    gboolean normalize, GError **error);

gdouble ncfm_ncfd_get_loss (NcfmNcfd *self);
gdouble ncfm_ncfd_get_class_loss (NcfmNcfd *self, guint class_id);
NcfmTensor *ncfm_ncfd_get_class_losses (NcfmNcfd *self);
NcfmTensor *ncfm_ncfd_get_grad_syn_features (NcfmNcfd *self);
NcfmTensor *ncfm_ncfd_get_grad_real_features (NcfmNcfd *self);
NcfmTensor *ncfm_ncfd_get_grad_t (NcfmNcfd *self);

G_END_DECLS
#endif
