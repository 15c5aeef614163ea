/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmclassifier.h: an NcfmModel used as a classifier by the sinks
 * ncfmtrain and ncfmevaluate: their input checks (caps, buffers, weights
 * files against the stream), one supervised training step (CutMix, soft
 * targets from a teacher, softmax cross-entropy, backward) and the rank of
 * the true class. */
#ifndef GST_NCFM_CLASSIFIER_H
#define GST_NCFM_CLASSIFIER_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

/* These post an element error on @element (naming the caps field, file or
 * property at fault) and return FALSE / NULL when the input does not fit. */
gboolean gst_ncfm_image_batch_caps (GstElement *element, GstCaps *caps, guint *channels,
    guint *height, guint *width);
NcfmSafetensors *gst_ncfm_load_weights (GstElement *element, const gchar *path,
    const gchar *property);
NcfmModel *gst_ncfm_model_for_stream (GstElement *element, NcfmDevice *device,
    NcfmSafetensors *file, const gchar *property, guint channels, guint height, guint width,
    guint num_classes);

typedef struct _GstNcfmTrainStep GstNcfmTrainStep;

GstNcfmTrainStep *gst_ncfm_train_step_new (NcfmModel *model, NcfmModel *teacher,
    gfloat cutmix_prob);
gboolean gst_ncfm_train_step_run (GstNcfmTrainStep *self, NcfmTensor *images,
    NcfmTensor *labels, const gint32 *host_labels, guint64 seed, gdouble *loss,
    guint *correct, GError **error);
void gst_ncfm_train_step_free (GstNcfmTrainStep *self);

gboolean gst_ncfm_check_labels (const gint32 *labels, guint n, guint num_classes,
    GError **error);
guint gst_ncfm_label_rank (const gfloat *logits, guint num_classes, gint32 label);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstNcfmTrainStep, gst_ncfm_train_step_free)

G_END_DECLS
#endif
