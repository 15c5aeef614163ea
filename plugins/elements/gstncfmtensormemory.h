/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_TENSOR_MEMORY_H
#define GST_NCFM_TENSOR_MEMORY_H

#include <gst/gst.h>
#include <ncfm.h>

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
/* Whether two devices are the same device ("cpu", "cuda:N"), whatever objects they are. */
gboolean gst_ncfm_same_device (NcfmDevice *a, NcfmDevice *b);

G_END_DECLS
#endif
