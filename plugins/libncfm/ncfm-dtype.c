/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ncfm-dtype.h"

#include <string.h>

static const struct {
  const char *name;
  gsize size;
} dtype_table[NCFM_DTYPE_COUNT] = {
  [NCFM_DTYPE_F32] = { "F32", 4 },
  [NCFM_DTYPE_F64] = { "F64", 8 },
  [NCFM_DTYPE_F16] = { "F16", 2 },
  [NCFM_DTYPE_BF16] = { "BF16", 2 },
  [NCFM_DTYPE_I64] = { "I64", 8 },
  [NCFM_DTYPE_I32] = { "I32", 4 },
  [NCFM_DTYPE_I16] = { "I16", 2 },
  [NCFM_DTYPE_I8] = { "I8", 1 },
  [NCFM_DTYPE_U8] = { "U8", 1 },
  [NCFM_DTYPE_BOOL] = { "BOOL", 1 },
};

/**
 * ncfm_dtype_size:
 * @dtype: a #NcfmDType
 *
 * Returns: the size of one element in bytes (0 for an invalid value)
 */
gsize
ncfm_dtype_size (NcfmDType dtype)
{
  return (guint) dtype < NCFM_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

/**
 * ncfm_dtype_to_string:
 * @dtype: a #NcfmDType
 *
 * Returns: (transfer none): the safetensors name ("F32", "I64", ...) or "invalid"
 */
const gchar *
ncfm_dtype_to_string (NcfmDType dtype)
{
  return (guint) dtype < NCFM_DTYPE_COUNT ? dtype_table[dtype].name : "invalid";
}

/**
 * ncfm_dtype_from_string:
 * @name: a safetensors dtype name such as "F32"
 * @dtype: (out): the parsed type
 *
 * Returns: %TRUE if @name is a known dtype
 */
gboolean
ncfm_dtype_from_string (const gchar *name, NcfmDType *dtype)
{
  for (guint i = 0; i < NCFM_DTYPE_COUNT; i++) {
    if (name && strcmp (name, dtype_table[i].name) == 0) {
      *dtype = (NcfmDType) i;
      return TRUE;
    }
  }
  return FALSE;
}
