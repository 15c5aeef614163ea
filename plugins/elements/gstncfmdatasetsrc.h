/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_DATASET_SRC_H
#define GST_NCFM_DATASET_SRC_H

#include <gst/gst.h>
#include <gst/base/gstbasesrc.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_DATASET_SRC (gst_ncfm_dataset_src_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmDatasetSrc, gst_ncfm_dataset_src, GST, NCFM_DATASET_SRC, GstBaseSrc)

GST_ELEMENT_REGISTER_DECLARE (ncfmdatasetsrc);

G_END_DECLS
#endif
