/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_TENSOR_MEMORY_H
#define GST_NCFM_TENSOR_MEMORY_H

#include <gst/gst.h>
#include <ncfm.h>

#include "gstncfmcaps.h"

G_BEGIN_DECLS

/* The memory type (gst_memory_is_type) and the name the allocator is registered under. */
#define GST_NCFM_TENSOR_MEMORY_TYPE "NcfmTensor"
/* Caps feature of streams whose tensors live in CUDA device memory. */
#define GST_CAPS_FEATURE_MEMORY_NCFM_CUDA "memory:NcfmCUDA"

#define GST_TYPE_NCFM_TENSOR_ALLOCATOR (gst_ncfm_tensor_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmTensorAllocator, gst_ncfm_tensor_allocator, GST,
    NCFM_TENSOR_ALLOCATOR, GstAllocator)

void gst_ncfm_tensor_memory_init_once (void);
GstMemory *gst_ncfm_tensor_memory_new (NcfmTensor *tensor);
gboolean gst_is_ncfm_tensor_memory (GstMemory *mem);
NcfmTensor *gst_ncfm_tensor_memory_get_tensor (GstMemory *mem);

/* The tensor of memory `index` of a two-tensor buffer (images or features,
 * then labels) when it is an ncfm tensor of `dtype` and rank `n_dims`;
 * otherwise posts a STREAM FORMAT error on `element` describing the expected
 * tensor as `what` (e.g. "F32 [B,d] feature") and returns NULL. */
NcfmTensor *gst_ncfm_buffer_get_tensor (GstElement *element, GstBuffer *buf, guint index,
    NcfmDType dtype, guint n_dims, const gchar *what);
/* The tensor of memory `index` of a buffer of the stream `info` (the
 * negotiated caps), as a new reference:
 * - NcfmTensor memory: its own tensor (no copy), which must have the dtype,
 *   rank and inner dimensions of info's tensor `index` and 1 .. B items;
 * - any other memory (system memory of an appsrc, NNStreamer, ...): mapped
 *   for reading and copied into a new tensor on *device (one upload on a
 *   GPU).  Its size must be a whole number of items of the caps' tensor,
 *   1 .. B of them: that number becomes the outer dimension (batches may
 *   be shorter than the caps' B, as with ncfm memory).  When *device is
 *   NULL it is created first ($NCFM_DEVICE, else auto) and kept there for
 *   the next buffers (the caller owns it).
 * Otherwise posts a STREAM FORMAT error on `element` naming the memory, the
 * tensor described as `what` (e.g. "F32 [B,C,H,W] image") and, for a
 * foreign memory, the expected and the actual byte counts. */
NcfmTensor *gst_ncfm_buffer_import_tensor (GstElement *element, GstBuffer *buf,
    const GstNcfmTensorsInfo *info, guint index, NcfmDevice **device, const gchar *what);
/* Both tensors of a labelled image batch (images F32 [N,C,H,W] and labels
 * I32 [N], as `info` describes them) through gst_ncfm_buffer_import_tensor(),
 * with the same N and on one device; new references.  Posts an error and
 * returns FALSE otherwise. */
gboolean gst_ncfm_buffer_import_image_batch (GstElement *element, GstBuffer *buf,
    const GstNcfmTensorsInfo *info, NcfmDevice **device, NcfmTensor **images,
    NcfmTensor **labels);
/* Whether two devices are the same device ("cpu", "cuda:N"), whatever objects they are. */
gboolean gst_ncfm_same_device (NcfmDevice *a, NcfmDevice *b);

G_END_DECLS
#endif
