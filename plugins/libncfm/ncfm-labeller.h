/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_LABELLER_H
#define NCFM_LABELLER_H

#include <glib-object.h>
#include "ncfm-model.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_LABELLER (ncfm_labeller_get_type ())
G_DECLARE_FINAL_TYPE (NcfmLabeller, ncfm_labeller, NCFM, LABELLER, GObject)

NcfmLabeller *ncfm_labeller_new (NcfmModel *model);
NcfmModel *ncfm_labeller_get_model (NcfmLabeller *self);
void ncfm_labeller_set_min_confidence (NcfmLabeller *self, gdouble min_confidence);
gdouble ncfm_labeller_get_min_confidence (NcfmLabeller *self);
gboolean ncfm_labeller_set_classes (NcfmLabeller *self, const guint *classes, guint n_classes,
    GError **error);
gboolean ncfm_labeller_accepts (NcfmLabeller *self, guint class_id, gdouble confidence);
gboolean ncfm_labeller_label (NcfmLabeller *self, NcfmTensor *images, gint32 **labels,
    gint32 **predicted, gfloat **confidences, guint *n, GError **error);

G_END_DECLS
#endif
