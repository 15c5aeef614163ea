/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmclassifier.h: an NcfmModel used as a classifier by the sinks
 * ncfmtrain and ncfmevaluate: their input checks (caps, weights files
 * against the stream). */
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

G_END_DECLS
#endif
