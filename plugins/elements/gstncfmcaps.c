/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmcaps
 * @title: ncfm tensor caps
 * @short_description: NNStreamer-style other/tensors caps for NcfmTensor streams
 *
 * GStreamer 1.22 has no tensor caps, so the ncfm elements use NNStreamer's:
 *
 * |[
 * other/tensors, format=(string)static, num_tensors=(int)2,
 *     dimensions=(string)"28:28:1:256,256", types=(string)"float32,int32",
 *     framerate=(fraction)0/1
 * ]|
 *
 * `dimensions` lists each tensor innermost dimension first (an image batch
 * [B, C, H, W] is "W:H:C:B"), tensors separated by commas; `types` gives
 * their element types in the same order.  Tensors in CUDA device memory add
 * the caps feature `memory:NcfmCUDA` (host streams interoperate with
 * NNStreamer elements; device streams only with ncfm elements).  As in
 * NNStreamer, trailing 1s of a dimension string do not matter ("256" equals
 * "256:1:1:1").
 */
#include "gstncfmcaps.h"

#include <string.h>

#include "gstncfmtensormemory.h"

static const struct {
  NcfmDType dtype;
  const gchar *name;
} caps_types[] = {
  { NCFM_DTYPE_F32, "float32" },
  { NCFM_DTYPE_F64, "float64" },
  { NCFM_DTYPE_F16, "float16" },
  { NCFM_DTYPE_I64, "int64" },
  { NCFM_DTYPE_I32, "int32" },
  { NCFM_DTYPE_I16, "int16" },
  { NCFM_DTYPE_I8, "int8" },
  { NCFM_DTYPE_U8, "uint8" },
};

/**
 * gst_ncfm_dtype_to_caps_type:
 * @dtype: an element type
 *
 * Returns: (nullable): its NNStreamer name ("float32", "int32", ...), or
 *   %NULL for a type NNStreamer has no name for (BF16, BOOL)
 */
const gchar *
gst_ncfm_dtype_to_caps_type (NcfmDType dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (caps_types); i++)
    if (caps_types[i].dtype == dtype)
      return caps_types[i].name;
  return NULL;
}

/**
 * gst_ncfm_dtype_from_caps_type:
 * @name: an NNStreamer type name
 * @dtype: (out): the element type
 *
 * Returns: %TRUE if @name is known
 */
gboolean
gst_ncfm_dtype_from_caps_type (const gchar *name, NcfmDType *dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (caps_types); i++)
    if (g_strcmp0 (caps_types[i].name, name) == 0) {
      *dtype = caps_types[i].dtype;
      return TRUE;
    }
  return FALSE;
}

/**
 * gst_ncfm_tensors_info_init:
 * @info: the description to clear
 * @cuda: whether the tensors live in CUDA device memory
 */
void
gst_ncfm_tensors_info_init (GstNcfmTensorsInfo *info, gboolean cuda)
{
  memset (info, 0, sizeof *info);
  info->cuda = cuda;
}

/**
 * gst_ncfm_tensors_info_add:
 * @info: a description
 * @dtype: element type
 * @shape: (array length=n_dims): dimensions, outermost first
 * @n_dims: rank, 1 .. NCFM_MAX_DIMS
 * @error: return location for a #GError (%GST_STREAM_ERROR)
 *
 * Appends a tensor.
 *
 * Returns: %TRUE, or %FALSE when there are too many tensors, the rank is out
 *   of range, a dimension is not positive or the type has no caps name
 */
gboolean
gst_ncfm_tensors_info_add (GstNcfmTensorsInfo *info, NcfmDType dtype, const gint64 *shape,
    guint n_dims, GError **error)
{
  if (info->n_tensors >= GST_NCFM_MAX_TENSORS) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "a tensor stream holds at most %d tensors", GST_NCFM_MAX_TENSORS);
    return FALSE;
  }
  if (n_dims < 1 || n_dims > NCFM_MAX_DIMS) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "tensor %u has rank %u; 1 .. %d is supported", info->n_tensors, n_dims, NCFM_MAX_DIMS);
    return FALSE;
  }
  if (!gst_ncfm_dtype_to_caps_type (dtype)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "tensor %u has element type %s, which other/tensors caps cannot name", info->n_tensors,
        ncfm_dtype_to_string (dtype));
    return FALSE;
  }
  GstNcfmTensorInfo *t = &info->tensors[info->n_tensors];
  for (guint d = 0; d < n_dims; d++) {
    if (shape[d] < 1 || shape[d] > G_MAXINT32) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "tensor %u has dimension %" G_GINT64_FORMAT " on axis %u", info->n_tensors,
          shape[d], d);
      return FALSE;
    }
    t->shape[d] = shape[d];
  }
  t->dtype = dtype;
  t->n_dims = n_dims;
  info->n_tensors++;
  return TRUE;
}

/**
 * gst_ncfm_tensors_info_add_tensor:
 * @info: a description
 * @tensor: a tensor whose type and shape to append
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
gst_ncfm_tensors_info_add_tensor (GstNcfmTensorsInfo *info, NcfmTensor *tensor, GError **error)
{
  guint n_dims;
  const gint64 *shape = ncfm_tensor_get_shape (tensor, &n_dims);
  return gst_ncfm_tensors_info_add (info, ncfm_tensor_get_dtype (tensor), shape, n_dims, error);
}

/**
 * gst_ncfm_tensors_info_dimensions:
 * @info: a description
 *
 * Returns: (transfer full): the caps' dimensions string, e.g. "28:28:1:256,256"
 */
gchar *
gst_ncfm_tensors_info_dimensions (const GstNcfmTensorsInfo *info)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < info->n_tensors; i++) {
    const GstNcfmTensorInfo *t = &info->tensors[i];
    if (i)
      g_string_append_c (s, ',');
    for (guint d = t->n_dims; d-- > 0;)
      g_string_append_printf (s, "%" G_GINT64_FORMAT "%s", t->shape[d], d ? ":" : "");
  }
  return g_string_free (s, FALSE);
}

/**
 * gst_ncfm_tensors_info_types:
 * @info: a description
 *
 * Returns: (transfer full): the caps' types string, e.g. "float32,int32"
 */
gchar *
gst_ncfm_tensors_info_types (const GstNcfmTensorsInfo *info)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < info->n_tensors; i++)
    g_string_append_printf (s, "%s%s", i ? "," : "",
        gst_ncfm_dtype_to_caps_type (info->tensors[i].dtype));
  return g_string_free (s, FALSE);
}

/**
 * gst_ncfm_tensors_info_to_caps:
 * @info: a description with at least one tensor
 *
 * Returns: (transfer full): fixed caps describing @info
 */
GstCaps *
gst_ncfm_tensors_info_to_caps (const GstNcfmTensorsInfo *info)
{
  g_return_val_if_fail (info->n_tensors > 0, NULL);
  g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (info);
  g_autofree gchar *types = gst_ncfm_tensors_info_types (info);
  GstCaps *caps = gst_caps_new_simple (GST_NCFM_TENSORS_MEDIA_TYPE,
      "format", G_TYPE_STRING, "static",
      "num_tensors", G_TYPE_INT, (gint) info->n_tensors,
      "dimensions", G_TYPE_STRING, dims,
      "types", G_TYPE_STRING, types,
      "framerate", GST_TYPE_FRACTION, 0, 1, NULL);
  if (info->cuda)
    gst_caps_set_features_simple (caps,
        gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_NCFM_CUDA, NULL));
  return caps;
}

static gboolean
parse_dimension (const gchar *text, guint index, GstNcfmTensorInfo *t, GError **error)
{
  g_auto (GStrv) axes = g_strsplit (text, ":", -1);
  const guint n = g_strv_length (axes);
  if (n < 1 || n > NCFM_MAX_DIMS) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field dimensions: tensor %u \"%s\" has %u axes; 1 .. %d are supported", index,
        text, n, NCFM_MAX_DIMS);
    return FALSE;
  }
  t->n_dims = n;
  for (guint d = 0; d < n; d++) {
    guint64 v;
    if (!g_ascii_string_to_unsigned (g_strstrip (axes[d]), 10, 1, G_MAXINT32, &v, NULL)) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "caps field dimensions: tensor %u \"%s\": \"%s\" is not a positive size", index,
          text, axes[d]);
      return FALSE;
    }
    t->shape[n - 1 - d] = (gint64) v;
  }
  return TRUE;
}

/* A string field; a one-tensor, one-axis dimensions field written without
 * quotes in a caps string ("dimensions=256") arrives as an int. */
static gchar *
dup_string_field (const GstStructure *s, const gchar *name)
{
  const GValue *v = gst_structure_get_value (s, name);
  if (v && G_VALUE_HOLDS_STRING (v))
    return g_value_dup_string (v);
  if (v && G_VALUE_HOLDS_INT (v))
    return g_strdup_printf ("%d", g_value_get_int (v));
  return NULL;
}

/**
 * gst_ncfm_tensors_info_from_caps:
 * @info: (out caller-allocates): the description
 * @caps: fixed other/tensors caps
 * @error: return location for a #GError (%GST_STREAM_ERROR_FORMAT) whose
 *   message names the field at fault and its value
 *
 * Returns: %TRUE when @caps describe a static tensor stream
 */
gboolean
gst_ncfm_tensors_info_from_caps (GstNcfmTensorsInfo *info, const GstCaps *caps, GError **error)
{
  if (!caps || gst_caps_get_size (caps) != 1) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "tensor caps must hold exactly one structure");
    return FALSE;
  }
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  gst_ncfm_tensors_info_init (info, features
      && gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_NCFM_CUDA));
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (s, GST_NCFM_TENSORS_MEDIA_TYPE)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps media type is %s, expected " GST_NCFM_TENSORS_MEDIA_TYPE, gst_structure_get_name (s));
    return FALSE;
  }
  const gchar *format = gst_structure_get_string (s, "format");
  if (format && strcmp (format, "static") != 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field format is \"%s\", expected \"static\"", format);
    return FALSE;
  }
  gint n;
  g_autofree gchar *dims = dup_string_field (s, "dimensions");
  g_autofree gchar *types = dup_string_field (s, "types");
  if (!gst_structure_get_int (s, "num_tensors", &n) || !dims || !types) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps lack a fixed field %s", !dims ? "dimensions" : !types ? "types" : "num_tensors");
    return FALSE;
  }
  if (n < 1 || n > GST_NCFM_MAX_TENSORS) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field num_tensors is %d; 1 .. %d are supported", n, GST_NCFM_MAX_TENSORS);
    return FALSE;
  }
  g_auto (GStrv) dim_list = g_strsplit (dims, ",", -1);
  g_auto (GStrv) type_list = g_strsplit (types, ",", -1);
  if (g_strv_length (dim_list) != (guint) n || g_strv_length (type_list) != (guint) n) {
    const gboolean bad_dims = g_strv_length (dim_list) != (guint) n;
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "caps field %s \"%s\" lists %u tensors but num_tensors is %d",
        bad_dims ? "dimensions" : "types", bad_dims ? dims : types,
        g_strv_length (bad_dims ? dim_list : type_list), n);
    return FALSE;
  }
  for (gint i = 0; i < n; i++) {
    GstNcfmTensorInfo *t = &info->tensors[i];
    if (!gst_ncfm_dtype_from_caps_type (g_strstrip (type_list[i]), &t->dtype)) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "caps field types: tensor %d has unknown type \"%s\"", i, type_list[i]);
      return FALSE;
    }
    if (!parse_dimension (dim_list[i], i, t, error))
      return FALSE;
  }
  info->n_tensors = n;
  return TRUE;
}

/* Shapes equal up to leading (outermost) 1s, as NNStreamer compares them. */
static gboolean
same_shape (const GstNcfmTensorInfo *a, const GstNcfmTensorInfo *b)
{
  guint i = 0, j = 0;
  while (i + 1 < a->n_dims && a->shape[i] == 1)
    i++;
  while (j + 1 < b->n_dims && b->shape[j] == 1)
    j++;
  if (a->n_dims - i != b->n_dims - j)
    return FALSE;
  for (; i < a->n_dims; i++, j++)
    if (a->shape[i] != b->shape[j])
      return FALSE;
  return TRUE;
}

/**
 * gst_ncfm_tensors_info_check:
 * @expected: what an element needs
 * @actual: what it was given
 * @why: (out) (optional) (transfer full): when they differ, a message naming
 *   the first caps field that disagrees and both its values
 *
 * Returns: %TRUE when @actual matches @expected
 */
gboolean
gst_ncfm_tensors_info_check (const GstNcfmTensorsInfo *expected,
    const GstNcfmTensorsInfo *actual, gchar **why)
{
  gchar *msg = NULL;
  if (expected->cuda != actual->cuda) {
    msg = g_strdup_printf ("caps feature " GST_CAPS_FEATURE_MEMORY_NCFM_CUDA " disagrees: "
        "got %s memory, expected %s memory", actual->cuda ? "CUDA" : "host",
        expected->cuda ? "CUDA" : "host");
  } else if (expected->n_tensors != actual->n_tensors) {
    msg = g_strdup_printf ("caps field num_tensors disagrees: got %u, expected %u",
        actual->n_tensors, expected->n_tensors);
  } else {
    gboolean types_ok = TRUE, dims_ok = TRUE;
    for (guint i = 0; i < expected->n_tensors; i++) {
      types_ok &= expected->tensors[i].dtype == actual->tensors[i].dtype;
      dims_ok &= same_shape (&expected->tensors[i], &actual->tensors[i]);
    }
    if (!types_ok || !dims_ok) {
      g_autofree gchar *got = !types_ok ? gst_ncfm_tensors_info_types (actual)
          : gst_ncfm_tensors_info_dimensions (actual);
      g_autofree gchar *want = !types_ok ? gst_ncfm_tensors_info_types (expected)
          : gst_ncfm_tensors_info_dimensions (expected);
      msg = g_strdup_printf ("caps field %s disagrees: got \"%s\", expected \"%s\"",
          !types_ok ? "types" : "dimensions", got, want);
    }
  }
  if (why)
    *why = msg;
  else
    g_free (msg);
  return msg == NULL;
}
