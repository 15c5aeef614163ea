/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_TENSOR_H
#define NCFM_TENSOR_H

#include <glib-object.h>
#include "ncfm-dtype.h"
#include "ncfm-device.h"
#include "ncfm-safetensors.h"

G_BEGIN_DECLS

#define NCFM_TYPE_TENSOR (ncfm_tensor_get_type ())
G_DECLARE_FINAL_TYPE (NcfmTensor, ncfm_tensor, NCFM, TENSOR, GObject)

NcfmTensor *ncfm_tensor_new (NcfmDevice *device, NcfmDType dtype, const gint64 *shape,
    guint n_dims, GError **error);
NcfmTensor *ncfm_tensor_new_from_data (NcfmDevice *device, NcfmDType dtype,
    const gint64 *shape, guint n_dims, const guint8 *data, gsize n_bytes, GError **error);
NcfmTensor *ncfm_tensor_new_view (NcfmTensor *base, const gint64 *shape, guint n_dims,
    GError **error);
NcfmTensor *ncfm_tensor_new_rows (NcfmTensor *base, gint64 start, gint64 count,
    GError **error);
NcfmTensor *ncfm_tensor_new_from_safetensors (NcfmSafetensors *file, const gchar *name,
    NcfmDevice *device, GError **error);

NcfmDevice *ncfm_tensor_get_device (NcfmTensor *self);
NcfmDType ncfm_tensor_get_dtype (NcfmTensor *self);
const gint64 *ncfm_tensor_get_shape (NcfmTensor *self, guint *n_dims);
gint64 ncfm_tensor_get_dim (NcfmTensor *self, gint axis);
gint64 ncfm_tensor_get_dim_checked (NcfmTensor *self, gint axis, GError **error);
guint ncfm_tensor_get_n_dims (NcfmTensor *self);
gint64 ncfm_tensor_get_numel (NcfmTensor *self);
gsize ncfm_tensor_get_n_bytes (NcfmTensor *self);
gboolean ncfm_tensor_has_shape (NcfmTensor *self, const gint64 *shape, guint n_dims);
gchar *ncfm_tensor_describe (NcfmTensor *self);

GBytes *ncfm_tensor_to_bytes (NcfmTensor *self);
gboolean ncfm_tensor_set_data (NcfmTensor *self, const guint8 *data, gsize n_bytes,
    GError **error);
gboolean ncfm_tensor_copy_from (NcfmTensor *self, NcfmTensor *src, GError **error);
gboolean ncfm_tensor_fill (NcfmTensor *self, gfloat value, GError **error);
guint64 ncfm_tensor_get_host_address (NcfmTensor *self, GError **error);
void ncfm_tensor_to_safetensors (NcfmTensor *self, NcfmSafetensors *file, const gchar *name);
/* in ncfm-finite.c */
gboolean ncfm_tensor_check_finite (NcfmTensor *self, const gchar *source, const gchar *name,
    GError **error);

#ifndef __GI_SCANNER__
/* Raw pointer into device memory (C only). */
gpointer ncfm_tensor_get_data (NcfmTensor *self);
static inline float *
ncfm_tensor_f32 (NcfmTensor *t)
{
  return (float *) ncfm_tensor_get_data (t);
}
/* Copies the whole tensor to host memory of n_bytes (must match). */
void ncfm_tensor_download (NcfmTensor *self, gpointer host, gsize n_bytes);
#endif

G_END_DECLS
#endif
