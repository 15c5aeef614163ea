/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_CAPS_H
#define GST_NCFM_CAPS_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define GST_NCFM_TENSORS_MEDIA_TYPE "other/tensors"
/* NNStreamer's limit of tensors in one other/tensors stream */
#define GST_NCFM_MAX_TENSORS 16

/* Template caps of any ncfm tensor pad: host memory (NNStreamer-compatible) or
 * memory:NcfmCUDA. */
#define GST_NCFM_TENSORS_CAPS_STR \
  GST_NCFM_TENSORS_MEDIA_TYPE ", format = (string) static, num_tensors = (int) [ 1, 16 ], " \
  "framerate = (fraction) [ 0/1, MAX ]; " \
  GST_NCFM_TENSORS_MEDIA_TYPE "(memory:NcfmCUDA), format = (string) static, " \
  "num_tensors = (int) [ 1, 16 ], framerate = (fraction) [ 0/1, MAX ]"

/* One tensor of a stream: element type and shape, outermost dimension first
 * (as NcfmTensor; the caps write it innermost first). */
typedef struct {
  NcfmDType dtype;
  guint n_dims;
  gint64 shape[NCFM_MAX_DIMS];
} GstNcfmTensorInfo;

/* The tensors of every buffer of a stream, and where they live. */
typedef struct {
  guint n_tensors;
  gboolean cuda;  /* caps feature memory:NcfmCUDA */
  GstNcfmTensorInfo tensors[GST_NCFM_MAX_TENSORS];
} GstNcfmTensorsInfo;

void gst_ncfm_tensors_info_init (GstNcfmTensorsInfo *info, gboolean cuda);
gboolean gst_ncfm_tensors_info_add (GstNcfmTensorsInfo *info, NcfmDType dtype,
    const gint64 *shape, guint n_dims, GError **error);
gboolean gst_ncfm_tensors_info_add_tensor (GstNcfmTensorsInfo *info, NcfmTensor *tensor,
    GError **error);

GstCaps *gst_ncfm_tensors_info_to_caps (const GstNcfmTensorsInfo *info);
gboolean gst_ncfm_tensors_info_from_caps (GstNcfmTensorsInfo *info, const GstCaps *caps,
    GError **error);
gboolean gst_ncfm_tensors_info_check (const GstNcfmTensorsInfo *expected,
    const GstNcfmTensorsInfo *actual, gchar **why);

gchar *gst_ncfm_tensors_info_dimensions (const GstNcfmTensorsInfo *info);
gchar *gst_ncfm_tensors_info_types (const GstNcfmTensorsInfo *info);
const gchar *gst_ncfm_dtype_to_caps_type (NcfmDType dtype);
gboolean gst_ncfm_dtype_from_caps_type (const gchar *name, NcfmDType *dtype);

G_END_DECLS
#endif
