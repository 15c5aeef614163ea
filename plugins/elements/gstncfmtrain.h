/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_TRAIN_H
#define GST_NCFM_TRAIN_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_TRAIN (gst_ncfm_train_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmTrain, gst_ncfm_train, GST, NCFM_TRAIN, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (ncfmtrain);

G_END_DECLS
#endif
