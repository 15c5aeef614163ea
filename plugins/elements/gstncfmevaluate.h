/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_EVALUATE_H
#define GST_NCFM_EVALUATE_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_EVALUATE (gst_ncfm_evaluate_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmEvaluate, gst_ncfm_evaluate, GST, NCFM_EVALUATE, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (ncfmevaluate);

G_END_DECLS
#endif
