/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-safetensors.c: NcfmSafetensors round trips, a file written by
 * tests/fixtures/make-safetensors-fixture.py, every malformed-header case,
 * atomic saving and a seeded fuzz loop over truncations and byte edits. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <glib/gstdio.h>
#include "ncfm-safetensors.h"

#define BAD_NAME "bad.safetensors"

/* ---- helpers ----------------------------------------------------------- */

static GBytes *
make_file (const gchar *header, gsize header_len, gsize data_len)
{
  guint64 n = GUINT64_TO_LE ((guint64) header_len);
  guint8 *buf = g_malloc0 (8 + header_len + data_len);
  memcpy (buf, &n, 8);
  memcpy (buf + 8, header, header_len);
  return g_bytes_new_take (buf, 8 + header_len + data_len);
}

/* Asserts that error is in our domain with the code, starts with the source
 * name and contains every string of `needles` (NULL-terminated). */
static void
assert_error (const GError *error, gint code, const gchar *source, const gchar *const *needles)
{
  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  g_assert_error (error, NCFM_SAFETENSORS_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, source));
  for (guint i = 0; needles && needles[i]; i++) {
    if (!strstr (error->message, needles[i]))
      g_error ("message '%s' lacks '%s'", error->message, needles[i]);
  }
}

static void
fill_bytes (guint8 *p, gsize n, guint seed)
{
  for (gsize i = 0; i < n; i++)
    p[i] = (guint8) (seed * 31 + i * 7 + 3);
}

/* ---- round trips ------------------------------------------------------- */

static void
test_roundtrip_dtypes (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new (), *back;
  GBytes *bytes;
  GError *error = NULL;
  const gint64 shape[2] = { 2, 3 };

  for (guint d = 0; d < NCFM_DTYPE_COUNT; d++) {
    gchar *name = g_strdup_printf ("t_%s", ncfm_dtype_to_string (d));
    gsize n = 6 * ncfm_dtype_size (d);
    guint8 *data = g_malloc (n);
    fill_bytes (data, n, d);
    if (d == NCFM_DTYPE_BOOL)
      memset (data, 1, n);
    ncfm_safetensors_set (st, name, d, shape, 2, data, n);
    g_free (data);
    g_free (name);
  }
  bytes = ncfm_safetensors_serialize (st);
  /* The header is padded so that the data section starts 8-aligned. */
  g_assert_cmpuint (GUINT64_FROM_LE (*(const guint64 *) g_bytes_get_data (bytes, NULL)) % 8, ==, 0);
  back = ncfm_safetensors_load_from_bytes (bytes, "rt", &error);
  g_assert_no_error (error);
  for (guint d = 0; d < NCFM_DTYPE_COUNT; d++) {
    gchar *name = g_strdup_printf ("t_%s", ncfm_dtype_to_string (d));
    NcfmDType dtype;
    guint n_dims;
    gint64 got_shape[NCFM_MAX_DIMS];
    gsize n, n_back, n_el;
    gconstpointer a = ncfm_safetensors_peek (st, name, NULL, &n, &error);
    gconstpointer b = ncfm_safetensors_peek (back, name, &dtype, &n_back, &error);
    gfloat *f;

    g_assert_no_error (error);
    g_assert_cmpmem (a, n, b, n_back);
    g_assert_cmpint (dtype, ==, d);
    g_assert_true (ncfm_safetensors_get_info (back, name, &dtype, &n_dims, got_shape, &error));
    g_assert_cmpuint (n_dims, ==, 2);
    g_assert_cmpint (got_shape[0], ==, 2);
    g_assert_cmpint (got_shape[1], ==, 3);
    f = ncfm_safetensors_dup_f32 (back, name, &n_el, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (n_el, ==, 6);
    g_free (f);
    g_free (name);
  }
  g_object_unref (back);
  g_bytes_unref (bytes);
  g_object_unref (st);
}

static void
test_conversions (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new ();
  const gint64 four = 4;
  const guint16 half[4] = { GUINT16_TO_LE (0x3c00), GUINT16_TO_LE (0xc000),
    GUINT16_TO_LE (0x0001), GUINT16_TO_LE (0x7c00) };          /* 1, -2, 2^-24, inf */
  const guint16 bf[4] = { GUINT16_TO_LE (0x3f80), GUINT16_TO_LE (0xc040),
    GUINT16_TO_LE (0x0000), GUINT16_TO_LE (0x4120) };          /* 1, -3, 0, 10 */
  const gint8 i8[4] = { -128, -1, 0, 127 };
  const guint8 boolv[4] = { 0, 1, 2, 0 };
  gfloat dst[4];
  GError *error = NULL;

  ncfm_safetensors_set (st, "half", NCFM_DTYPE_F16, &four, 1, half, sizeof half);
  ncfm_safetensors_set (st, "bf", NCFM_DTYPE_BF16, &four, 1, bf, sizeof bf);
  ncfm_safetensors_set (st, "i8", NCFM_DTYPE_I8, &four, 1, i8, sizeof i8);
  ncfm_safetensors_set (st, "bool", NCFM_DTYPE_BOOL, &four, 1, boolv, sizeof boolv);

  g_assert_true (ncfm_safetensors_read_f32 (st, "half", &four, 1, dst, &error));
  g_assert_cmpfloat (dst[0], ==, 1.0f);
  g_assert_cmpfloat (dst[1], ==, -2.0f);
  g_assert_cmpfloat (dst[2], ==, 1.0f / 16777216.0f);
  g_assert_true (isinf (dst[3]) && dst[3] > 0);
  g_assert_true (ncfm_safetensors_read_f32 (st, "bf", &four, 1, dst, &error));
  g_assert_cmpfloat (dst[1], ==, -3.0f);
  g_assert_cmpfloat (dst[3], ==, 10.0f);
  g_assert_true (ncfm_safetensors_read_f32 (st, "i8", &four, 1, dst, &error));
  g_assert_cmpfloat (dst[0], ==, -128.0f);
  g_assert_cmpfloat (dst[3], ==, 127.0f);
  g_assert_true (ncfm_safetensors_read_f32 (st, "bool", &four, 1, dst, &error));
  g_assert_cmpfloat (dst[1], ==, 1.0f);
  g_assert_cmpfloat (dst[2], ==, 1.0f);
  g_assert_no_error (error);
  g_object_unref (st);
}

static void
test_scalar_and_empty (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new (), *back;
  const gint64 zero_shape[2] = { 3, 0 }, one = 1;
  const gint32 value = GINT32_TO_LE (-17);
  GBytes *bytes, *data;
  GError *error = NULL;
  gint64 *shape;
  guint n_dims = 99;
  gsize n;
  gfloat *f;

  ncfm_safetensors_set (st, "scalar", NCFM_DTYPE_I32, NULL, 0, &value, 4);
  ncfm_safetensors_set (st, "empty", NCFM_DTYPE_F64, zero_shape, 2, NULL, 0);
  ncfm_safetensors_set (st, "one", NCFM_DTYPE_U8, &one, 1, "x", 1);
  bytes = ncfm_safetensors_serialize (st);
  back = ncfm_safetensors_load_from_bytes (bytes, "scalar", &error);
  g_assert_no_error (error);

  shape = ncfm_safetensors_get_shape (back, "scalar", &n_dims, &error);
  g_assert_nonnull (shape);
  g_assert_cmpuint (n_dims, ==, 0);
  g_free (shape);
  f = ncfm_safetensors_dup_f32 (back, "scalar", &n, &error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpfloat (f[0], ==, -17.0f);
  g_free (f);

  shape = ncfm_safetensors_get_shape (back, "empty", &n_dims, &error);
  g_assert_cmpuint (n_dims, ==, 2);
  g_assert_cmpint (shape[0], ==, 3);
  g_assert_cmpint (shape[1], ==, 0);
  g_free (shape);
  f = ncfm_safetensors_dup_f32 (back, "empty", &n, &error);
  g_assert_nonnull (f);
  g_assert_cmpuint (n, ==, 0);
  g_free (f);
  g_assert_nonnull (ncfm_safetensors_peek (back, "empty", NULL, &n, &error));
  g_assert_cmpuint (n, ==, 0);
  data = ncfm_safetensors_get_data (back, "empty", &error);
  g_assert_cmpuint (g_bytes_get_size (data), ==, 0);
  g_bytes_unref (data);
  g_assert_true (ncfm_safetensors_read_f32 (back, "empty", zero_shape, 2, NULL, &error));
  g_assert_no_error (error);

  g_object_unref (back);
  g_bytes_unref (bytes);
  g_object_unref (st);
}

static void
test_metadata_and_order (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new (), *back;
  const gint64 two = 2;
  const guint8 a[2] = { 1, 2 }, b[2] = { 3, 4 };
  gchar **names, **keys;
  GBytes *bytes, *again;
  GError *error = NULL;

  ncfm_safetensors_set_metadata (st, "format", "pt");
  ncfm_safetensors_set_metadata (st, "weird \"key\"\n", "tab\t, \\ and \xc3\xa9 \x01");
  ncfm_safetensors_set_metadata (st, "gone", "x");
  ncfm_safetensors_set_metadata (st, "gone", NULL);
  ncfm_safetensors_set (st, "zeta", NCFM_DTYPE_U8, &two, 1, a, 2);
  ncfm_safetensors_set (st, "alpha", NCFM_DTYPE_U8, &two, 1, a, 2);
  ncfm_safetensors_set (st, "mid", NCFM_DTYPE_U8, &two, 1, a, 2);
  ncfm_safetensors_set (st, "zeta", NCFM_DTYPE_U8, &two, 1, b, 2);  /* replace */
  g_assert_true (ncfm_safetensors_remove (st, "mid"));
  g_assert_false (ncfm_safetensors_remove (st, "mid"));
  g_assert_false (ncfm_safetensors_contains (st, "mid"));

  names = ncfm_safetensors_list_names (st);
  g_assert_cmpstrv (names, ((const gchar *[]) { "zeta", "alpha", NULL }));
  g_strfreev (names);

  bytes = ncfm_safetensors_serialize (st);
  back = ncfm_safetensors_load_from_bytes (bytes, "meta", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ncfm_safetensors_get_metadata (back, "format"), ==, "pt");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (back, "weird \"key\"\n"), ==,
      "tab\t, \\ and \xc3\xa9 \x01");
  g_assert_null (ncfm_safetensors_get_metadata (back, "gone"));
  keys = ncfm_safetensors_list_metadata_keys (back);
  g_assert_cmpstrv (keys, ((const gchar *[]) { "format", "weird \"key\"\n", NULL }));
  g_strfreev (keys);
  g_assert_cmpmem (ncfm_safetensors_peek (back, "zeta", NULL, NULL, &error), 2, b, 2);
  /* Deterministic: serializing the loaded copy gives the same bytes. */
  again = ncfm_safetensors_serialize (back);
  g_assert_true (g_bytes_equal (bytes, again));
  g_bytes_unref (again);
  g_object_unref (back);
  g_bytes_unref (bytes);
  g_object_unref (st);
}

static void
test_missing (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new (), *back;
  const gint64 shape[2] = { 2, 2 }, other[2] = { 4, 1 };
  const gfloat v[4] = { 1, 2, 3, 4 };
  const gchar *needles[] = { "nope", NULL };
  const gchar *shape_needles[] = { "'w'", "[2, 2]", "[4, 1]", NULL };
  gfloat dst[4];
  GBytes *bytes;
  GError *error = NULL;
  guint n_dims;

  ncfm_safetensors_set (st, "w", NCFM_DTYPE_F32, shape, 2, v, sizeof v);
  bytes = ncfm_safetensors_serialize (st);
  back = ncfm_safetensors_load_from_bytes (bytes, "model.safetensors", &error);
  g_assert_no_error (error);

  g_assert_false (ncfm_safetensors_get_info (back, "nope", NULL, NULL, NULL, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);
  g_assert_null (ncfm_safetensors_get_shape (back, "nope", &n_dims, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);
  g_assert_null (ncfm_safetensors_get_data (back, "nope", &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);
  g_assert_null (ncfm_safetensors_peek (back, "nope", NULL, NULL, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);
  g_assert_null (ncfm_safetensors_dup_f32 (back, "nope", NULL, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);
  g_assert_false (ncfm_safetensors_read_f32 (back, "nope", shape, 2, dst, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_MISSING, "model.safetensors", needles);
  g_clear_error (&error);

  g_assert_false (ncfm_safetensors_read_f32 (back, "w", other, 2, dst, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, "model.safetensors", shape_needles);
  g_clear_error (&error);
  g_assert_false (ncfm_safetensors_read_f32 (back, "w", shape, 1, dst, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, "model.safetensors", NULL);
  g_clear_error (&error);
  g_assert_true (ncfm_safetensors_read_f32 (back, "w", shape, 2, dst, &error));
  g_assert_cmpmem (dst, sizeof dst, v, sizeof v);

  g_object_unref (back);
  g_bytes_unref (bytes);
  g_object_unref (st);
}

/* The file written by make-safetensors-fixture.py: values, and identical
 * bytes after a load/serialize cycle (same layout as the reference). */
static void
test_python_fixture (void)
{
  gchar *path = g_test_build_filename (G_TEST_DIST, "..", "fixtures",
      "safetensors-reference.safetensors", NULL);
  const gint64 weight_shape[2] = { 2, 3 };
  const gfloat weight[6] = { 1.0f, -2.0f, 0.5f, 3.25f, -0.125f, 1e-3f };
  const gfloat labels[4] = { 0, 9, -1, 1099511627776.0f };
  const gfloat half[4] = { 1.0f, -0.5f, 65504.0f, 1.0f / 16777216.0f };
  gfloat dst[6], *f;
  gsize n;
  gchar *contents;
  GBytes *again;
  GError *error = NULL;
  NcfmSafetensors *st = ncfm_safetensors_load (path, &error);

  g_assert_no_error (error);
  g_assert_true (ncfm_safetensors_read_f32 (st, "weight", weight_shape, 2, dst, &error));
  g_assert_cmpmem (dst, sizeof weight, weight, sizeof weight);
  f = ncfm_safetensors_dup_f32 (st, "labels", &n, &error);
  g_assert_cmpmem (f, n * sizeof (gfloat), labels, sizeof labels);
  g_free (f);
  f = ncfm_safetensors_dup_f32 (st, "half", &n, &error);
  g_assert_cmpmem (f, n * sizeof (gfloat), half, sizeof half);
  g_free (f);
  f = ncfm_safetensors_dup_f32 (st, "brain", &n, &error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpfloat (f[1], ==, -3.0f);
  g_free (f);
  f = ncfm_safetensors_dup_f32 (st, "step", &n, &error);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpfloat (f[0], ==, 42.0f);
  g_free (f);
  f = ncfm_safetensors_dup_f32 (st, "double", &n, &error);
  g_assert_cmpfloat (f[0], ==, 3.5f);
  g_free (f);
  g_assert_no_error (error);
  g_assert_cmpstr (ncfm_safetensors_get_metadata (st, "note"), ==,
      "tab\there \"quoted\" \xc3\xa9");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (st, "format"), ==, "pt");

  g_assert_true (g_file_get_contents (path, &contents, &n, NULL));
  again = ncfm_safetensors_serialize (st);
  g_assert_cmpmem (g_bytes_get_data (again, NULL), g_bytes_get_size (again), contents, n);
  g_bytes_unref (again);
  g_free (contents);
  g_object_unref (st);
  g_free (path);
}

/* ---- malformed files --------------------------------------------------- */

typedef struct {
  const gchar *label;
  const gchar *header;
  gsize data_len;
  gint code;
  const gchar *needles[4];
} BadCase;

#define F32_4 "\"dtype\":\"F32\",\"shape\":[1],"
static const BadCase bad_cases[] = {
  { "json-invalid", "{\"w\":", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "JSON" } },
  { "json-trailing", "{} x", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "JSON" } },
  { "not-object", "[1,2]", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "an array", "not a JSON object" } },
  { "entry-not-object", "{\"w\":5}", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "not an object" } },
  { "dtype-missing", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "dtype", "missing" } },
  { "dtype-mistyped", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "dtype" } },
  { "dtype-unknown", "{\"w\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
    NCFM_SAFETENSORS_ERROR_DTYPE, { "'w'", "'F8'" } },
  { "shape-missing", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "shape", "missing" } },
  { "shape-mistyped", "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "shape" } },
  { "shape-float", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "shape[0]", "not an integer" } },
  { "shape-string", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "shape[1]" } },
  { "shape-negative", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_SHAPE, { "'w'", "shape[0]", "-1" } },
  { "shape-overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
    "\"data_offsets\":[0,4]}}", 4, NCFM_SAFETENSORS_ERROR_SHAPE, { "'w'", "overflow" } },
  { "shape-too-many-dims", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
    "\"data_offsets\":[0,1]}}", 1, NCFM_SAFETENSORS_ERROR_SHAPE, { "'w'", "9 dims" } },
  { "number-huge", "{\"w\":{\"dtype\":\"U8\",\"shape\":[18446744073709551617],"
    "\"data_offsets\":[0,1]}}", 1, NCFM_SAFETENSORS_ERROR_HEADER, { "digits" } },
  { "offsets-missing", "{\"w\":{" F32_4 "\"x\":1}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "data_offsets", "missing" } },
  { "offsets-length", "{\"w\":{" F32_4 "\"data_offsets\":[0]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "data_offsets" } },
  { "offsets-mistyped", "{\"w\":{" F32_4 "\"data_offsets\":[0,\"4\"]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "'w'", "data_offsets[1]" } },
  { "offsets-negative", "{\"w\":{" F32_4 "\"data_offsets\":[-4,0]}}", 4,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'w'", "data_offsets[0]", "-4" } },
  { "offsets-reversed", "{\"w\":{" F32_4 "\"data_offsets\":[4,0]}}", 4,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'w'", "[4, 0)" } },
  { "offsets-beyond-data", "{\"w\":{" F32_4 "\"data_offsets\":[4,8]}}", 4,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'w'", "[4, 8)", "4-byte data section" } },
  { "size-mismatch", "{\"classifier.bias\":{\"dtype\":\"F32\",\"shape\":[10],"
    "\"data_offsets\":[0,48]}}", 48, NCFM_SAFETENSORS_ERROR_SHAPE,
    { "'classifier.bias'", "[0, 48) hold 48 bytes", "F32 shape [10] needs 40" } },
  { "overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'b'", "overlap", "'a'" } },
  { "overlap-unsorted", "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]},"
    "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 6,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'b'", "overlap", "'a'" } },
  { "hole", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "'b'", "[4, 8)" } },
  { "trailing-data", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 8,
    NCFM_SAFETENSORS_ERROR_OFFSETS, { "8 bytes", "[0, 4)" } },
  { "metadata-not-object", "{\"__metadata__\":\"x\"}", 0,
    NCFM_SAFETENSORS_ERROR_HEADER, { "__metadata__" } },
  { "metadata-not-string", "{\"__metadata__\":{\"epoch\":3}}", 0,
    NCFM_SAFETENSORS_ERROR_HEADER, { "__metadata__", "'epoch'" } },
  { "duplicate-tensor", "{\"w\":{" F32_4 "\"data_offsets\":[0,4]},"
    "\"w\":{" F32_4 "\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "duplicate", "'w'" } },
  { "duplicate-field", "{\"w\":{" F32_4 "\"dtype\":\"U8\",\"data_offsets\":[0,4]}}", 4,
    NCFM_SAFETENSORS_ERROR_HEADER, { "duplicate", "'w'", "'dtype'" } },
  { "single-quotes", "{'w':{}}", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "single-quoted" } },
  { "deep-nesting", "{\"__metadata__\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
    NCFM_SAFETENSORS_ERROR_HEADER, { "deeper" } },
  { "not-utf8", "{\"w\xff\":1}", 0, NCFM_SAFETENSORS_ERROR_HEADER, { "UTF-8" } },
};

static void
test_malformed (gconstpointer data)
{
  const BadCase *c = data;
  GBytes *bytes = make_file (c->header, strlen (c->header), c->data_len);
  GError *error = NULL;
  NcfmSafetensors *st = ncfm_safetensors_load_from_bytes (bytes, BAD_NAME, &error);

  g_assert_null (st);
  assert_error (error, c->code, BAD_NAME ": ", c->needles);
  g_error_free (error);
  g_bytes_unref (bytes);
}

static void
load_raw_expect (const guint8 *raw, gsize n, gint code, const gchar *needle)
{
  GBytes *bytes = g_bytes_new_static (raw, n);     /* no copy of the huge case */
  GError *error = NULL;
  const gchar *needles[] = { needle, NULL };

  g_assert_null (ncfm_safetensors_load_from_bytes (bytes, BAD_NAME, &error));
  assert_error (error, code, BAD_NAME ": ", needles);
  g_error_free (error);
  g_bytes_unref (bytes);
}

static void
test_malformed_framing (void)
{
  guint8 raw[24] = { 0 };
  guint64 len;
  GError *error = NULL;
  gchar *dir, *path;

  load_raw_expect (raw, 0, NCFM_SAFETENSORS_ERROR_TRUNCATED, "0 bytes");
  load_raw_expect (raw, 5, NCFM_SAFETENSORS_ERROR_TRUNCATED, "5 bytes");
  len = GUINT64_TO_LE (1000);
  memcpy (raw, &len, 8);
  load_raw_expect (raw, sizeof raw, NCFM_SAFETENSORS_ERROR_TRUNCATED, "1000");
  len = GUINT64_TO_LE (G_MAXUINT64);
  memcpy (raw, &len, 8);
  load_raw_expect (raw, sizeof raw, NCFM_SAFETENSORS_ERROR_TRUNCATED, "18446744073709551615");
  /* An absurd header length inside a (lazily mapped, untouched) huge file. */
  {
    gsize huge_len = 101 * 1024 * 1024;
    guint8 *huge = mmap (NULL, huge_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
        -1, 0);
    g_assert_true (huge != MAP_FAILED);
    len = GUINT64_TO_LE (huge_len - 8);
    memcpy (huge, &len, 8);
    load_raw_expect (huge, huge_len, NCFM_SAFETENSORS_ERROR_HEADER, "limit");
    munmap (huge, huge_len);
  }
  len = GUINT64_TO_LE (16);     /* the header runs exactly to the end: 16 NULs */
  memcpy (raw, &len, 8);
  load_raw_expect (raw, sizeof raw, NCFM_SAFETENSORS_ERROR_HEADER, "UTF-8");

  /* A file that does not exist, and one that is empty. */
  dir = g_dir_make_tmp ("ncfm-st-XXXXXX", NULL);
  path = g_build_filename (dir, "absent.safetensors", NULL);
  g_assert_null (ncfm_safetensors_load (path, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_IO, path, NULL);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_null (ncfm_safetensors_load (path, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_TRUNCATED, path, NULL);
  g_clear_error (&error);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

/* ---- atomic save ------------------------------------------------------- */

static guint
count_entries (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n;
}

static void
test_save_atomic (void)
{
  NcfmSafetensors *st = ncfm_safetensors_new (), *back;
  gchar *dir = g_dir_make_tmp ("ncfm-st-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  gchar *bad_path = g_build_filename (dir, "no-such-dir", "model.safetensors", NULL);
  gchar *subdir = g_build_filename (dir, "subdir", NULL);
  const gint64 small = 4, big = 1 << 16;
  guint8 *data = g_malloc0 (big);
  gchar *before, *after;
  gsize n_before, n_after;
  struct rlimit old_limit, limit;
  GError *error = NULL;

  ncfm_safetensors_set (st, "w", NCFM_DTYPE_U8, &small, 1, data, small);
  g_assert_true (ncfm_safetensors_save (st, path, &error));
  g_assert_no_error (error);
  back = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_safetensors_contains (back, "w"));
  g_object_unref (back);
  g_assert_true (g_file_get_contents (path, &before, &n_before, NULL));
  g_assert_cmpuint (count_entries (dir), ==, 1);

  /* Injected failure: a file-size limit below the new contents makes the
   * write fail part-way (as a full disk would), even when run as root. */
  ncfm_safetensors_set (st, "big", NCFM_DTYPE_U8, &big, 1, data, big);
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  limit = old_limit;
  limit.rlim_cur = 4096;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  g_assert_false (ncfm_safetensors_save (st, path, &error));
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  signal (SIGXFSZ, SIG_DFL);
  assert_error (error, NCFM_SAFETENSORS_ERROR_IO, path, ((const gchar *[]) { "write", NULL }));
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (path, &after, &n_after, NULL));
  g_assert_cmpmem (before, n_before, after, n_after);
  g_assert_cmpuint (count_entries (dir), ==, 1);
  g_free (after);

  /* No directory to write into. */
  g_assert_false (ncfm_safetensors_save (st, bad_path, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_IO, bad_path, NULL);
  g_clear_error (&error);

  /* The rename fails (target is a non-empty directory): temp file removed. */
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
  g_free (bad_path);
  bad_path = g_build_filename (subdir, "keep", NULL);
  g_assert_true (g_file_set_contents (bad_path, "x", 1, NULL));
  g_assert_false (ncfm_safetensors_save (st, subdir, &error));
  assert_error (error, NCFM_SAFETENSORS_ERROR_IO, subdir, ((const gchar *[]) { "rename", NULL }));
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (dir), ==, 2);
  g_unlink (bad_path);
  g_rmdir (subdir);

  /* And a successful overwrite replaces the contents. */
  g_assert_true (ncfm_safetensors_save (st, path, &error));
  back = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_safetensors_contains (back, "big"));
  g_object_unref (back);
  g_assert_cmpuint (count_entries (dir), ==, 1);

  g_unlink (path);
  g_rmdir (dir);
  g_free (before);
  g_free (data);
  g_free (subdir);
  g_free (bad_path);
  g_free (path);
  g_free (dir);
  g_object_unref (st);
}

/* ---- fuzzing ----------------------------------------------------------- */

/* Loads a mutated file: it must load or fail with a proper error; a file
 * that loads must be readable throughout.  Returns TRUE if it loaded. */
static gboolean
fuzz_one (const guint8 *buf, gsize n)
{
  GBytes *bytes = g_bytes_new (buf, n);
  GError *error = NULL;
  NcfmSafetensors *st = ncfm_safetensors_load_from_bytes (bytes, "fuzz", &error);
  gboolean ok = st != NULL;

  g_bytes_unref (bytes);
  if (!st) {
    g_assert_nonnull (error);
    g_assert_true (error->domain == NCFM_SAFETENSORS_ERROR);
    g_assert_true (g_str_has_prefix (error->message, "fuzz: "));
    g_error_free (error);
    return FALSE;
  }
  g_assert_no_error (error);
  {
    gchar **names = ncfm_safetensors_list_names (st);
    for (guint i = 0; names[i]; i++) {
      gsize n_el;
      gfloat *f = ncfm_safetensors_dup_f32 (st, names[i], &n_el, &error);
      g_assert_no_error (error);
      g_free (f);
    }
    g_strfreev (names);
    g_bytes_unref (ncfm_safetensors_serialize (st));
  }
  g_object_unref (st);
  return ok;
}

static void
test_fuzz (void)
{
  static const gchar *const edits[] = { "\"", "{", "}", "[", "]", ",", ":", "-", "0",
    "9", "99999999999", "\\", "\"dtype\"", "\"F64\"", "\"shape\"", "[]", "\xff", " " };
  NcfmSafetensors *st = ncfm_safetensors_new ();
  const gint64 shape[2] = { 2, 3 }, three = 3;
  guint8 data[48];
  GBytes *valid;
  const guint8 *orig;
  gsize n;
  GRand *rand = g_rand_new_with_seed (20240611);
  guint loaded = 0, total = 0, header_len;

  fill_bytes (data, sizeof data, 1);
  ncfm_safetensors_set (st, "w", NCFM_DTYPE_F32, shape, 2, data, 24);
  ncfm_safetensors_set (st, "idx", NCFM_DTYPE_I64, &three, 1, data, 24);
  ncfm_safetensors_set (st, "h", NCFM_DTYPE_F16, &three, 1, data, 6);
  ncfm_safetensors_set (st, "s", NCFM_DTYPE_I32, NULL, 0, data, 4);
  ncfm_safetensors_set_metadata (st, "k", "v");
  valid = ncfm_safetensors_serialize (st);
  orig = g_bytes_get_data (valid, &n);
  header_len = (guint) GUINT64_FROM_LE (*(const guint64 *) orig);

  g_assert_true (fuzz_one (orig, n));
  for (gsize len = 0; len < n; len++, total++)
    loaded += fuzz_one (orig, len);
  g_assert_cmpuint (loaded, ==, 0);     /* every truncation is refused */

  for (guint iter = 0; iter < 4000; iter++, total++) {
    GByteArray *buf = g_byte_array_new ();
    g_byte_array_append (buf, orig, (guint) n);
    switch (iter % 4) {
      case 0:                   /* flip bits anywhere */
      case 1:                   /* flip bits in the header */
        for (guint k = g_rand_int_range (rand, 1, 4); k > 0; k--) {
          guint span = (iter % 4 == 0) ? (guint) n : header_len + 8;
          buf->data[g_rand_int_range (rand, 0, span)] ^= 1u << g_rand_int_range (rand, 0, 8);
        }
        break;
      case 2: {                 /* overwrite a header byte range with a token */
        const gchar *e = edits[g_rand_int_range (rand, 0, G_N_ELEMENTS (edits))];
        guint at = g_rand_int_range (rand, 8, header_len + 8);
        for (gsize j = 0; e[j] && at + j < buf->len; j++)
          buf->data[at + j] = (guint8) e[j];
        break;
      }
      default: {                /* random header length */
        guint64 len = GUINT64_TO_LE (g_rand_boolean (rand)
            ? (guint64) g_rand_int_range (rand, 0, (gint32) n + 16)
            : ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand));
        memcpy (buf->data, &len, 8);
      }
    }
    loaded += fuzz_one (buf->data, buf->len);
    g_byte_array_unref (buf);
  }
  g_test_message ("fuzz: %u of %u mutated files loaded, the rest failed cleanly",
      loaded, total);
  g_rand_free (rand);
  g_bytes_unref (valid);
  g_object_unref (st);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/roundtrip/dtypes", test_roundtrip_dtypes);
  g_test_add_func ("/safetensors/roundtrip/conversions", test_conversions);
  g_test_add_func ("/safetensors/roundtrip/scalar-and-empty", test_scalar_and_empty);
  g_test_add_func ("/safetensors/roundtrip/metadata-and-order", test_metadata_and_order);
  g_test_add_func ("/safetensors/missing", test_missing);
  g_test_add_func ("/safetensors/python-fixture", test_python_fixture);
  g_test_add_func ("/safetensors/malformed/framing", test_malformed_framing);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    gchar *path = g_strdup_printf ("/safetensors/malformed/%s", bad_cases[i].label);
    g_test_add_data_func (path, &bad_cases[i], test_malformed);
    g_free (path);
  }
  g_test_add_func ("/safetensors/save-atomic", test_save_atomic);
  g_test_add_func ("/safetensors/fuzz", test_fuzz);
  return g_test_run ();
}
