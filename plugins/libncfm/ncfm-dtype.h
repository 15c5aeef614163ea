/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_DTYPE_H
#define NCFM_DTYPE_H

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * NcfmDType:
 * @NCFM_DTYPE_F32: 32-bit float ("F32" in safetensors)
 * @NCFM_DTYPE_F64: 64-bit float ("F64")
 * @NCFM_DTYPE_F16: IEEE half ("F16")
 * @NCFM_DTYPE_BF16: bfloat16 ("BF16")
 * @NCFM_DTYPE_I64: signed 64-bit integer ("I64")
 * @NCFM_DTYPE_I32: signed 32-bit integer ("I32")
 * @NCFM_DTYPE_I16: signed 16-bit integer ("I16")
 * @NCFM_DTYPE_I8: signed 8-bit integer ("I8")
 * @NCFM_DTYPE_U8: unsigned 8-bit integer ("U8")
 * @NCFM_DTYPE_BOOL: boolean, one byte ("BOOL")
 *
 * Element types of tensors and of safetensors entries.  Compute ops work on
 * F32; labels are I32 (I64 in files written for PyTorch).
 */
typedef enum {
  NCFM_DTYPE_F32,
  NCFM_DTYPE_F64,
  NCFM_DTYPE_F16,
  NCFM_DTYPE_BF16,
  NCFM_DTYPE_I64,
  NCFM_DTYPE_I32,
  NCFM_DTYPE_I16,
  NCFM_DTYPE_I8,
  NCFM_DTYPE_U8,
  NCFM_DTYPE_BOOL,
} NcfmDType;

#define NCFM_DTYPE_COUNT (NCFM_DTYPE_BOOL + 1)

/* Maximum tensor rank handled anywhere in the project. */
#define NCFM_MAX_DIMS 8

gsize ncfm_dtype_size (NcfmDType dtype);
const gchar *ncfm_dtype_to_string (NcfmDType dtype);
gboolean ncfm_dtype_from_string (const gchar *name, NcfmDType *dtype);

G_END_DECLS
#endif
