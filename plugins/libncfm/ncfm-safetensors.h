/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_SAFETENSORS_H
#define NCFM_SAFETENSORS_H

#include <glib-object.h>
#include "ncfm-dtype.h"

G_BEGIN_DECLS

/**
 * NCFM_SAFETENSORS_ERROR:
 *
 * Error domain of safetensors reading and writing.  Every message starts with
 * the file name (or the name given for an in-memory buffer) and names the
 * tensor, field or byte range at fault.
 */
#define NCFM_SAFETENSORS_ERROR (ncfm_safetensors_error_quark ())
GQuark ncfm_safetensors_error_quark (void);

/**
 * NcfmSafetensorsError:
 * @NCFM_SAFETENSORS_ERROR_IO: the file could not be opened, read or written
 * @NCFM_SAFETENSORS_ERROR_TRUNCATED: the file ends before the 8-byte header length, the header or the data it declares
 * @NCFM_SAFETENSORS_ERROR_HEADER: the header is not valid JSON or not of the safetensors form (not an object, entry not an object, missing or mistyped dtype/shape/data_offsets, bad __metadata__)
 * @NCFM_SAFETENSORS_ERROR_DTYPE: unknown dtype, or a dtype that the caller cannot use
 * @NCFM_SAFETENSORS_ERROR_SHAPE: shape and byte size disagree, negative or overflowing dims, or a shape the caller did not expect
 * @NCFM_SAFETENSORS_ERROR_OFFSETS: data offsets out of range, reversed, overlapping, or leaving holes
 * @NCFM_SAFETENSORS_ERROR_MISSING: a requested tensor is not in the file
 */
typedef enum {
  NCFM_SAFETENSORS_ERROR_IO,
  NCFM_SAFETENSORS_ERROR_TRUNCATED,
  NCFM_SAFETENSORS_ERROR_HEADER,
  NCFM_SAFETENSORS_ERROR_DTYPE,
  NCFM_SAFETENSORS_ERROR_SHAPE,
  NCFM_SAFETENSORS_ERROR_OFFSETS,
  NCFM_SAFETENSORS_ERROR_MISSING,
} NcfmSafetensorsError;

#define NCFM_TYPE_SAFETENSORS (ncfm_safetensors_get_type ())
G_DECLARE_FINAL_TYPE (NcfmSafetensors, ncfm_safetensors, NCFM, SAFETENSORS, GObject)

NcfmSafetensors *ncfm_safetensors_new (void);
NcfmSafetensors *ncfm_safetensors_load (const gchar *path, GError **error);
const gchar *ncfm_safetensors_get_path (NcfmSafetensors *self);
NcfmSafetensors *ncfm_safetensors_load_from_bytes (GBytes *bytes, const gchar *name,
    GError **error);

gboolean ncfm_safetensors_save (NcfmSafetensors *self, const gchar *path, GError **error);
GBytes *ncfm_safetensors_serialize (NcfmSafetensors *self);

gchar **ncfm_safetensors_list_names (NcfmSafetensors *self);
gboolean ncfm_safetensors_contains (NcfmSafetensors *self, const gchar *name);
gboolean ncfm_safetensors_get_info (NcfmSafetensors *self, const gchar *name,
    NcfmDType *dtype, guint *n_dims, gint64 *shape, GError **error);
gint64 *ncfm_safetensors_get_shape (NcfmSafetensors *self, const gchar *name,
    guint *n_dims, GError **error);
GBytes *ncfm_safetensors_get_data (NcfmSafetensors *self, const gchar *name, GError **error);
gconstpointer ncfm_safetensors_peek (NcfmSafetensors *self, const gchar *name,
    NcfmDType *dtype, gsize *n_bytes, GError **error);
gfloat *ncfm_safetensors_dup_f32 (NcfmSafetensors *self, const gchar *name,
    gsize *n_elements, GError **error);
gboolean ncfm_safetensors_read_f32 (NcfmSafetensors *self, const gchar *name,
    const gint64 *expect_shape, guint expect_n_dims, gfloat *dst, GError **error);
/* in ncfm-finite.c */
gboolean ncfm_safetensors_check_finite (NcfmSafetensors *self, GError **error);

void ncfm_safetensors_set (NcfmSafetensors *self, const gchar *name, NcfmDType dtype,
    const gint64 *shape, guint n_dims, gconstpointer data, gsize n_bytes);
gboolean ncfm_safetensors_remove (NcfmSafetensors *self, const gchar *name);

const gchar *ncfm_safetensors_get_metadata (NcfmSafetensors *self, const gchar *key);
void ncfm_safetensors_set_metadata (NcfmSafetensors *self, const gchar *key, const gchar *value);
gchar **ncfm_safetensors_list_metadata_keys (NcfmSafetensors *self);

G_END_DECLS
#endif
