/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-safetensors
 * @title: NcfmSafetensors
 * @short_description: read and write safetensors files
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON mapping tensor names to {"dtype", "shape", "data_offsets"} (plus
 * an optional "__metadata__" object of strings), then the data section.
 * Loading validates the whole header and the byte ranges before returning, so
 * every later accessor works on checked data.  Saving writes the same layout
 * as the reference implementation (tensors ordered by dtype then name, header
 * padded with spaces to a multiple of 8 bytes) and replaces the file
 * atomically.  Tensor bytes are little-endian, as in the file.
 */
#include "ncfm-safetensors.h"
#include "ncfm-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* The reference implementation refuses headers above 100 MB as well. */
#define MAX_HEADER_LEN (100 * 1024 * 1024)
/* json-glib parses recursively; refuse deep nesting before handing it over. */
#define MAX_JSON_DEPTH 16
/* Longer integers may overflow in json-glib, which wraps them silently. */
#define MAX_JSON_DIGITS 18
#define MEMORY_SOURCE "(in memory)"

typedef struct {
  gchar *name;
  NcfmDType dtype;
  guint n_dims;
  gint64 shape[NCFM_MAX_DIMS];
  GBytes *data;
  guint64 begin, end;           /* only used while loading */
} Tensor;

struct _NcfmSafetensors {
  GObject parent_instance;
  gchar *source;                /* file or buffer name for messages */
  gchar *path;                  /* the file it was loaded from, or NULL */
  GBytes *backing;              /* mapped file or loaded buffer, or NULL */
  GPtrArray *tensors;           /* Tensor*, in insertion (header) order */
  GHashTable *by_name;          /* name -> Tensor*, borrowed */
  GHashTable *metadata;         /* key -> value, both owned */
};

G_DEFINE_FINAL_TYPE (NcfmSafetensors, ncfm_safetensors, G_TYPE_OBJECT)
G_DEFINE_QUARK (ncfm-safetensors-error-quark, ncfm_safetensors_error)

static void
tensor_free (gpointer p)
{
  Tensor *t = p;
  g_free (t->name);
  g_clear_pointer (&t->data, g_bytes_unref);
  g_free (t);
}

static void
ncfm_safetensors_finalize (GObject *object)
{
  NcfmSafetensors *self = NCFM_SAFETENSORS (object);

  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->tensors);
  g_hash_table_unref (self->metadata);
  g_clear_pointer (&self->backing, g_bytes_unref);
  g_free (self->source);
  g_free (self->path);
  G_OBJECT_CLASS (ncfm_safetensors_parent_class)->finalize (object);
}

static void
ncfm_safetensors_class_init (NcfmSafetensorsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_safetensors_finalize;
}

static void
ncfm_safetensors_init (NcfmSafetensors *self)
{
  self->source = g_strdup (MEMORY_SOURCE);
  self->tensors = g_ptr_array_new_with_free_func (tensor_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void G_GNUC_PRINTF (4, 5)
set_error (GError **error, NcfmSafetensorsError code, const gchar *source,
    const gchar *format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, NCFM_SAFETENSORS_ERROR, code, "%s: %s", source, msg);
  g_free (msg);
}

/* "[2, 3]"; "[]" for a scalar. */
static gchar *
format_shape (const gint64 *shape, guint n_dims)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Number of elements, or FALSE on overflow of the byte size. */
static gboolean
shape_n_bytes (const gint64 *shape, guint n_dims, NcfmDType dtype, guint64 *n_bytes)
{
  guint64 n = ncfm_dtype_size (dtype);
  for (guint i = 0; i < n_dims; i++) {
    if (shape[i] < 0 || !g_uint64_checked_mul (&n, n, (guint64) shape[i]))
      return FALSE;
  }
  *n_bytes = n;
  return TRUE;
}

static gsize
tensor_n_elements (const Tensor *t)
{
  return g_bytes_get_size (t->data) / ncfm_dtype_size (t->dtype);
}

/* ---- header parsing ---------------------------------------------------- */

/* "an array", "a string", ... for messages. */
static const gchar *
describe_node (JsonNode *node)
{
  if (!node)
    return "missing";
  switch (json_node_get_node_type (node)) {
    case JSON_NODE_OBJECT: return "an object";
    case JSON_NODE_ARRAY: return "an array";
    case JSON_NODE_NULL: return "null";
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node)) {
        case G_TYPE_STRING: return "a string";
        case G_TYPE_INT64: return "an integer";
        case G_TYPE_DOUBLE: return "a fractional number";
        case G_TYPE_BOOLEAN: return "a boolean";
        default: break;
      }
      break;
  }
  return "an unknown value";
}

/* A missing or mistyped field of a tensor entry. */
static void
set_field_error (GError **error, const gchar *source, const Tensor *t, const gchar *field,
    JsonNode *node, const gchar *expected)
{
  if (!node)
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
        "tensor '%s': field '%s' is missing", t->name, field);
  else
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
        "tensor '%s': field '%s' is %s, not %s", t->name, field, describe_node (node), expected);
}

static gboolean
node_is_int (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* One pass over the raw JSON text (outside strings): refuses nesting deeper
 * than MAX_JSON_DEPTH, numbers json-glib would wrap, single quotes and, when json-glib has accepted the text, duplicate keys
 * at the top level and inside tensor entries (json-glib keeps the last
 * one silently).  Keys are compared in their escaped form. */
static gboolean
scan_json (const gchar *text, gsize len, gboolean check_duplicates,
    const gchar *source, GError **error)
{
  GHashTable *keys[3] = { NULL, NULL, NULL };
  gchar *entry = NULL;          /* current top-level key */
  gboolean expect_key = FALSE, ok = TRUE;
  guint depth = 0, digits = 0;

  for (gsize i = 0; i < len && ok; i++) {
    gchar c = text[i];
    if (g_ascii_isdigit (c) && ++digits > MAX_JSON_DIGITS) {
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
          "header holds a number of more than %d digits at byte %" G_GSIZE_FORMAT,
          MAX_JSON_DIGITS, i);
      ok = FALSE;
    } else if (!g_ascii_isdigit (c)) {
      digits = 0;
    }
    if (c == '\'') {
      /* json-glib accepts single-quoted strings; JSON does not. */
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
          "header holds a single-quoted string at byte %" G_GSIZE_FORMAT, i);
      ok = FALSE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_JSON_DEPTH) {
        set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
            "header JSON nests deeper than %d levels at byte %" G_GSIZE_FORMAT,
            MAX_JSON_DEPTH, i);
        ok = FALSE;
      }
      expect_key = (c == '{');
      if (c == '{' && depth <= 2) {
        g_clear_pointer (&keys[depth], g_hash_table_unref);
        keys[depth] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      }
    } else if (c == '}' || c == ']') {
      depth = depth ? depth - 1 : 0;
      expect_key = FALSE;
    } else if (c == ',') {
      expect_key = TRUE;
    } else if (c == '"') {
      gsize start = ++i;
      while (i < len && text[i] != '"')
        i += (text[i] == '\\') ? 2 : 1;
      if (i > len)
        i = len;
      if (expect_key && check_duplicates && depth >= 1 && depth <= 2 && keys[depth]) {
        gchar *key = g_strndup (text + start, i - start);
        if (g_hash_table_contains (keys[depth], key)) {
          if (depth == 1)
            set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
                "duplicate key '%s' in the header", key);
          else
            set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
                "tensor '%s': duplicate field '%s'", entry ? entry : "?", key);
          ok = FALSE;
        }
        if (depth == 1) {
          g_free (entry);
          entry = g_strdup (key);
        }
        g_hash_table_add (keys[depth], key);
      }
      expect_key = FALSE;
    }
  }
  for (guint d = 0; d < G_N_ELEMENTS (keys); d++)
    g_clear_pointer (&keys[d], g_hash_table_unref);
  g_free (entry);
  return ok;
}

static gboolean
parse_metadata (NcfmSafetensors *self, JsonNode *node, GError **error)
{
  JsonObject *obj;
  GList *members, *l;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
        "__metadata__ is %s, not an object of strings", describe_node (node));
    return FALSE;
  }
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (l = members; l && ok; l = l->next) {
    JsonNode *value = json_object_get_member (obj, l->data);
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING) {
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
          "__metadata__ key '%s' holds %s, not a string", (const gchar *) l->data,
          describe_node (value));
      ok = FALSE;
    } else {
      g_hash_table_replace (self->metadata, g_strdup (l->data),
          g_strdup (json_node_get_string (value)));
    }
  }
  g_list_free (members);
  return ok;
}

static gboolean
parse_offsets (const gchar *source, Tensor *t, JsonNode *node, GError **error)
{
  JsonArray *arr;
  gint64 v[2];

  if (!node || !JSON_NODE_HOLDS_ARRAY (node)) {
    set_field_error (error, source, t, "data_offsets", node, "an array [begin, end]");
    return FALSE;
  }
  arr = json_node_get_array (node);
  if (json_array_get_length (arr) != 2) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
        "tensor '%s': field 'data_offsets' has %u elements, not 2 [begin, end]", t->name,
        json_array_get_length (arr));
    return FALSE;
  }
  for (guint i = 0; i < 2; i++) {
    JsonNode *e = json_array_get_element (arr, i);
    if (!node_is_int (e)) {
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
          "tensor '%s': data_offsets[%u] is %s, not an integer", t->name, i,
          describe_node (e));
      return FALSE;
    }
    v[i] = json_node_get_int (e);
    if (v[i] < 0) {
      set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, source,
          "tensor '%s': data_offsets[%u] is negative (%" G_GINT64_FORMAT ")", t->name, i, v[i]);
      return FALSE;
    }
  }
  t->begin = (guint64) v[0];
  t->end = (guint64) v[1];
  return TRUE;
}

static gboolean
parse_shape (const gchar *source, Tensor *t, JsonNode *node, GError **error)
{
  JsonArray *arr;
  guint n;

  if (!node || !JSON_NODE_HOLDS_ARRAY (node)) {
    set_field_error (error, source, t, "shape", node, "an array of integers");
    return FALSE;
  }
  arr = json_node_get_array (node);
  n = json_array_get_length (arr);
  if (n > NCFM_MAX_DIMS) {
    set_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, source,
        "tensor '%s': shape has %u dims, more than the %d supported", t->name, n,
        NCFM_MAX_DIMS);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    JsonNode *e = json_array_get_element (arr, i);
    if (!node_is_int (e)) {
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
          "tensor '%s': shape[%u] is %s, not an integer", t->name, i,
          describe_node (e));
      return FALSE;
    }
    t->shape[i] = json_node_get_int (e);
    if (t->shape[i] < 0) {
      set_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, source,
          "tensor '%s': shape[%u] is negative (%" G_GINT64_FORMAT ")", t->name, i, t->shape[i]);
      return FALSE;
    }
  }
  t->n_dims = n;
  return TRUE;
}

/* Checks one entry against itself and the size of the data section. */
static gboolean
parse_entry (const gchar *source, Tensor *t, JsonNode *node, guint64 data_len,
    GError **error)
{
  JsonObject *obj;
  JsonNode *dtype;
  guint64 need;
  gchar *shape_str;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, source,
        "tensor '%s': entry is %s, not an object", t->name, describe_node (node));
    return FALSE;
  }
  obj = json_node_get_object (node);
  dtype = json_object_get_member (obj, "dtype");
  if (!dtype || !JSON_NODE_HOLDS_VALUE (dtype)
      || json_node_get_value_type (dtype) != G_TYPE_STRING) {
    set_field_error (error, source, t, "dtype", dtype, "a string");
    return FALSE;
  }
  if (!ncfm_dtype_from_string (json_node_get_string (dtype), &t->dtype)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_DTYPE, source,
        "tensor '%s': unknown dtype '%s'", t->name, json_node_get_string (dtype));
    return FALSE;
  }
  if (!parse_shape (source, t, json_object_get_member (obj, "shape"), error)
      || !parse_offsets (source, t, json_object_get_member (obj, "data_offsets"), error))
    return FALSE;

  if (t->end < t->begin) {
    set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, source,
        "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        ") end before they begin", t->name, t->begin, t->end);
    return FALSE;
  }
  if (t->end > data_len) {
    set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, source,
        "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        ") reach beyond the %" G_GUINT64_FORMAT "-byte data section", t->name,
        t->begin, t->end, data_len);
    return FALSE;
  }
  shape_str = format_shape (t->shape, t->n_dims);
  if (!shape_n_bytes (t->shape, t->n_dims, t->dtype, &need)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, source,
        "tensor '%s': %s shape %s overflows a 64-bit byte size", t->name,
        ncfm_dtype_to_string (t->dtype), shape_str);
    g_free (shape_str);
    return FALSE;
  }
  if (need != t->end - t->begin) {
    set_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, source,
        "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        ") hold %" G_GUINT64_FORMAT " bytes but %s shape %s needs %" G_GUINT64_FORMAT,
        t->name, t->begin, t->end, t->end - t->begin, ncfm_dtype_to_string (t->dtype),
        shape_str, need);
    g_free (shape_str);
    return FALSE;
  }
  g_free (shape_str);
  return TRUE;
}

/* A copy of the tensor list that does not own its elements. */
static GPtrArray *
borrow_tensors (NcfmSafetensors *self)
{
  GPtrArray *copy = g_ptr_array_copy (self->tensors, NULL, NULL);
  g_ptr_array_set_free_func (copy, NULL);
  return copy;
}

static gint
compare_begin (gconstpointer a, gconstpointer b)
{
  const Tensor *x = *(Tensor *const *) a, *y = *(Tensor *const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile the data section exactly, as the reference
 * implementation requires: no overlap, no hole, nothing left over. */
static gboolean
check_tiling (NcfmSafetensors *self, guint64 data_len, GError **error)
{
  GPtrArray *sorted = borrow_tensors (self);
  const Tensor *prev = NULL;
  guint64 covered = 0;
  gboolean ok = TRUE;

  g_ptr_array_sort (sorted, compare_begin);
  for (guint i = 0; i < sorted->len && ok; i++) {
    const Tensor *t = g_ptr_array_index (sorted, i);
    if (t->begin < covered) {
      set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, self->source,
          "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
          ") overlap tensor '%s' at [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ")",
          t->name, t->begin, t->end, prev->name, prev->begin, prev->end);
      ok = FALSE;
    } else if (t->begin > covered) {
      set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, self->source,
          "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
          ") leave bytes [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ") of the data section unused",
          t->name, t->begin, t->end, covered, t->begin);
      ok = FALSE;
    }
    covered = t->end;
    prev = t;
  }
  if (ok && covered != data_len) {
    set_error (error, NCFM_SAFETENSORS_ERROR_OFFSETS, self->source,
        "data section has %" G_GUINT64_FORMAT " bytes but the tensors cover only [0, %"
        G_GUINT64_FORMAT ")", data_len, covered);
    ok = FALSE;
  }
  g_ptr_array_unref (sorted);
  return ok;
}

static gboolean
parse_header (NcfmSafetensors *self, const gchar *header, gsize header_len,
    const guint8 *data, guint64 data_len, GError **error)
{
  JsonParser *parser;
  JsonNode *root;
  JsonObject *obj;
  GList *members = NULL, *l;
  GError *json_error = NULL;
  gboolean ok = FALSE;

  if (!g_utf8_validate (header, header_len, NULL)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
        "the %" G_GSIZE_FORMAT "-byte header is not valid UTF-8 (or holds a NUL byte)",
        header_len);
    return FALSE;
  }
  if (!scan_json (header, header_len, FALSE, self->source, error))
    return FALSE;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, header, header_len, &json_error)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
        "header is not valid JSON: %s", json_error->message);
    g_error_free (json_error);
    goto out;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
        "header is %s, not a JSON object", root ? describe_node (root) : "empty");
    goto out;
  }
  if (!scan_json (header, header_len, TRUE, self->source, error))
    goto out;

  obj = json_node_get_object (root);
  members = json_object_get_members (obj);
  for (l = members; l; l = l->next) {
    const gchar *name = l->data;
    JsonNode *node = json_object_get_member (obj, name);
    Tensor *t;

    if (strcmp (name, "__metadata__") == 0) {
      if (!parse_metadata (self, node, error))
        goto out;
      continue;
    }
    if (g_hash_table_contains (self->by_name, name)) {
      /* Differently escaped spellings of one name (or embedded NULs). */
      set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, self->source,
          "duplicate key '%s' in the header", name);
      goto out;
    }
    t = g_new0 (Tensor, 1);
    t->name = g_strdup (name);
    g_ptr_array_add (self->tensors, t);
    if (!parse_entry (self->source, t, node, data_len, error))
      goto out;
    g_hash_table_insert (self->by_name, t->name, t);
  }
  if (!check_tiling (self, data_len, error))
    goto out;
  for (guint i = 0; i < self->tensors->len; i++) {
    Tensor *t = g_ptr_array_index (self->tensors, i);
    t->data = g_bytes_new_from_bytes (self->backing,
        (gsize) (data - (const guint8 *) g_bytes_get_data (self->backing, NULL)) + t->begin,
        t->end - t->begin);
  }
  ok = TRUE;
out:
  g_list_free (members);
  g_object_unref (parser);
  return ok;
}

/**
 * ncfm_safetensors_new:
 *
 * Returns: (transfer full): a new, empty #NcfmSafetensors
 */
NcfmSafetensors *
ncfm_safetensors_new (void)
{
  return g_object_new (NCFM_TYPE_SAFETENSORS, NULL);
}

/**
 * ncfm_safetensors_load_from_bytes:
 * @bytes: the contents of a safetensors file
 * @name: the name used in error messages (usually the file name)
 * @error: return location for a #GError in %NCFM_SAFETENSORS_ERROR
 *
 * Parses and validates @bytes completely.  The tensors refer to @bytes,
 * which is kept alive (not copied).
 *
 * Returns: (transfer full) (nullable): the tensors, or %NULL with @error set
 */
NcfmSafetensors *
ncfm_safetensors_load_from_bytes (GBytes *bytes, const gchar *name, GError **error)
{
  NcfmSafetensors *self;
  gsize size;
  const guint8 *p;
  guint64 header_len;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!name)
    name = MEMORY_SOURCE;
  p = g_bytes_get_data (bytes, &size);
  if (size < 8) {
    set_error (error, NCFM_SAFETENSORS_ERROR_TRUNCATED, name,
        "file has %" G_GSIZE_FORMAT " bytes, fewer than the 8-byte header length", size);
    return NULL;
  }
  memcpy (&header_len, p, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8) {
    set_error (error, NCFM_SAFETENSORS_ERROR_TRUNCATED, name,
        "header length %" G_GUINT64_FORMAT " reaches beyond the end of the %"
        G_GSIZE_FORMAT "-byte file", header_len, size);
    return NULL;
  }
  if (header_len > MAX_HEADER_LEN) {
    set_error (error, NCFM_SAFETENSORS_ERROR_HEADER, name,
        "header length %" G_GUINT64_FORMAT " exceeds the %d-byte limit", header_len,
        MAX_HEADER_LEN);
    return NULL;
  }

  self = ncfm_safetensors_new ();
  g_free (self->source);
  self->source = g_strdup (name);
  self->backing = g_bytes_ref (bytes);
  if (!parse_header (self, (const gchar *) p + 8, (gsize) header_len, p + 8 + header_len,
          size - 8 - header_len, error)) {
    g_object_unref (self);
    return NULL;
  }
  return self;
}

/**
 * ncfm_safetensors_load:
 * @path: (type filename): a safetensors file
 * @error: return location for a #GError in %NCFM_SAFETENSORS_ERROR
 *
 * Maps @path and validates it completely; the mapping lives as long as the
 * returned object (or any #GBytes obtained from it).
 *
 * Returns: (transfer full) (nullable): the tensors, or %NULL with @error set
 */
NcfmSafetensors *
ncfm_safetensors_load (const gchar *path, GError **error)
{
  GMappedFile *file;
  GBytes *bytes;
  NcfmSafetensors *self;
  GError *map_error = NULL;
  gchar *display;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  display = g_filename_display_name (path);
  file = g_mapped_file_new (path, FALSE, &map_error);
  if (!file) {
    /* The GFileError message already quotes the path. */
    set_error (error, NCFM_SAFETENSORS_ERROR_IO, display, "cannot open: %s", map_error->message);
    g_error_free (map_error);
    g_free (display);
    return NULL;
  }
  bytes = g_mapped_file_get_bytes (file);
  g_mapped_file_unref (file);
  self = ncfm_safetensors_load_from_bytes (bytes, display, error);
  if (self)
    self->path = g_strdup (path);
  g_bytes_unref (bytes);
  g_free (display);
  return self;
}

/**
 * ncfm_safetensors_get_path:
 * @self: a #NcfmSafetensors
 *
 * The file @self was read from by ncfm_safetensors_load(), as given there:
 * what errors about its contents name.
 *
 * Returns: (nullable): the path, or %NULL for a set built in memory or read
 *   from bytes
 */
const gchar *
ncfm_safetensors_get_path (NcfmSafetensors *self)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  return self->path;
}

/* ---- writing ----------------------------------------------------------- */

/* Mirrors serde_json's escaping, so the header matches the reference bytes. */
static void
append_json_string (GString *s, const gchar *str)
{
  g_string_append_c (s, '"');
  for (const guchar *p = (const guchar *) str; *p; p++) {
    switch (*p) {
      case '"': g_string_append (s, "\\\""); break;
      case '\\': g_string_append (s, "\\\\"); break;
      case '\b': g_string_append (s, "\\b"); break;
      case '\f': g_string_append (s, "\\f"); break;
      case '\n': g_string_append (s, "\\n"); break;
      case '\r': g_string_append (s, "\\r"); break;
      case '\t': g_string_append (s, "\\t"); break;
      default:
        if (*p < 0x20)
          g_string_append_printf (s, "\\u%04x", *p);
        else
          g_string_append_c (s, (gchar) *p);
    }
  }
  g_string_append_c (s, '"');
}

/* The reference sorts tensors by dtype, widest first, then by name, so that
 * every tensor is aligned to its element size in an 8-aligned data section. */
static gint
dtype_rank (NcfmDType dtype)
{
  static const gint rank[NCFM_DTYPE_COUNT] = {
    [NCFM_DTYPE_BOOL] = 0, [NCFM_DTYPE_U8] = 1, [NCFM_DTYPE_I8] = 2,
    [NCFM_DTYPE_I16] = 5, [NCFM_DTYPE_F16] = 7, [NCFM_DTYPE_BF16] = 8,
    [NCFM_DTYPE_I32] = 9, [NCFM_DTYPE_F32] = 11, [NCFM_DTYPE_F64] = 12,
    [NCFM_DTYPE_I64] = 13,
  };
  return rank[dtype];
}

static gint
compare_for_file (gconstpointer a, gconstpointer b)
{
  const Tensor *x = *(Tensor *const *) a, *y = *(Tensor *const *) b;
  gint rx = dtype_rank (x->dtype), ry = dtype_rank (y->dtype);
  return rx != ry ? ry - rx : strcmp (x->name, y->name);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/**
 * ncfm_safetensors_serialize:
 * @self: a #NcfmSafetensors
 *
 * Produces the bytes that ncfm_safetensors_save() writes: "__metadata__"
 * first (keys sorted), then the tensors ordered by dtype (widest first) and
 * name, the header padded with spaces to a multiple of 8 bytes.
 *
 * Returns: (transfer full): the file contents
 */
GBytes *
ncfm_safetensors_serialize (NcfmSafetensors *self)
{
  GPtrArray *order;
  GString *h;
  guint64 offset = 0, header_len;
  gchar **keys;
  guint8 *out, *w;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);

  h = g_string_new ("{");
  keys = ncfm_safetensors_list_metadata_keys (self);
  if (keys[0]) {
    g_string_append (h, "\"__metadata__\":{");
    for (guint i = 0; keys[i]; i++) {
      if (i)
        g_string_append_c (h, ',');
      append_json_string (h, keys[i]);
      g_string_append_c (h, ':');
      append_json_string (h, g_hash_table_lookup (self->metadata, keys[i]));
    }
    g_string_append_c (h, '}');
  }
  g_strfreev (keys);

  order = borrow_tensors (self);
  g_ptr_array_sort (order, compare_for_file);
  for (guint i = 0; i < order->len; i++) {
    const Tensor *t = g_ptr_array_index (order, i);
    guint64 n = g_bytes_get_size (t->data);
    if (h->len > 1)
      g_string_append_c (h, ',');
    append_json_string (h, t->name);
    g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[", ncfm_dtype_to_string (t->dtype));
    for (guint d = 0; d < t->n_dims; d++)
      g_string_append_printf (h, "%s%" G_GINT64_FORMAT, d ? "," : "", t->shape[d]);
    g_string_append_printf (h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
        offset, offset + n);
    offset += n;
  }
  g_string_append_c (h, '}');
  while (h->len % 8)
    g_string_append_c (h, ' ');

  header_len = GUINT64_TO_LE ((guint64) h->len);
  out = w = g_malloc (8 + h->len + offset);
  memcpy (w, &header_len, 8);
  memcpy (w + 8, h->str, h->len);
  w += 8 + h->len;
  for (guint i = 0; i < order->len; i++) {
    const Tensor *t = g_ptr_array_index (order, i);
    gsize n;
    gconstpointer src = g_bytes_get_data (t->data, &n);
    if (n)
      memcpy (w, src, n);
    w += n;
  }
  g_ptr_array_unref (order);
  offset += 8 + h->len;
  g_string_free (h, TRUE);
  return g_bytes_new_take (out, (gsize) offset);
}

/**
 * ncfm_safetensors_save:
 * @self: a #NcfmSafetensors
 * @path: (type filename): where to write
 * @error: return location for a #GError in %NCFM_SAFETENSORS_ERROR
 *
 * Writes ncfm_safetensors_serialize() to a temporary file beside @path,
 * syncs it and renames it over @path.  On failure the temporary file is
 * removed and any previous file at @path is left as it was.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_safetensors_save (NcfmSafetensors *self, const gchar *path, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr (GBytes) bytes = ncfm_safetensors_serialize (self);
  NcfmFileChunk chunk = { NULL, 0 };
  chunk.data = g_bytes_get_data (bytes, &chunk.len);
  const gchar *what;
  int saved_errno;
  if (ncfm_file_write_atomic (path, &chunk, 1, 0666, &what, &saved_errno))
    return TRUE;
  g_autofree gchar *display = g_filename_display_name (path);
  set_error (error, NCFM_SAFETENSORS_ERROR_IO, display, "%s: %s", what, g_strerror (saved_errno));
  return FALSE;
}

/* ---- access ------------------------------------------------------------ */

static Tensor *
lookup (NcfmSafetensors *self, const gchar *name, GError **error)
{
  Tensor *t = g_hash_table_lookup (self->by_name, name);
  if (!t)
    set_error (error, NCFM_SAFETENSORS_ERROR_MISSING, self->source,
        "no tensor named '%s'", name);
  return t;
}

/**
 * ncfm_safetensors_list_names:
 * @self: a #NcfmSafetensors
 *
 * Returns: (transfer full) (array zero-terminated=1): the tensor names in
 *   insertion order (header order for a loaded file)
 */
gchar **
ncfm_safetensors_list_names (NcfmSafetensors *self)
{
  gchar **names;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  names = g_new (gchar *, self->tensors->len + 1);
  for (guint i = 0; i < self->tensors->len; i++)
    names[i] = g_strdup (((Tensor *) g_ptr_array_index (self->tensors, i))->name);
  names[self->tensors->len] = NULL;
  return names;
}

/**
 * ncfm_safetensors_contains:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 *
 * Returns: whether a tensor called @name exists
 */
gboolean
ncfm_safetensors_contains (NcfmSafetensors *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return g_hash_table_contains (self->by_name, name);
}

/**
 * ncfm_safetensors_get_info:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @dtype: (out) (optional): the element type
 * @n_dims: (out) (optional): the rank (0 for a scalar)
 * @shape: (out caller-allocates) (array fixed-size=8) (optional): receives
 *   the first @n_dims dimensions; room for %NCFM_MAX_DIMS values
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING)
 *
 * Returns: %TRUE if the tensor exists
 */
gboolean
ncfm_safetensors_get_info (NcfmSafetensors *self, const gchar *name, NcfmDType *dtype,
    guint *n_dims, gint64 *shape, GError **error)
{
  Tensor *t;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  if (!(t = lookup (self, name, error)))
    return FALSE;
  if (dtype)
    *dtype = t->dtype;
  if (n_dims)
    *n_dims = t->n_dims;
  if (shape)
    memcpy (shape, t->shape, t->n_dims * sizeof (gint64));
  return TRUE;
}

/**
 * ncfm_safetensors_get_shape:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @n_dims: (out): the rank (0 for a scalar)
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING)
 *
 * Returns: (transfer full) (array length=n_dims) (nullable): the dimensions
 *   (a non-%NULL, empty array for a scalar), or %NULL with @error set
 */
gint64 *
ncfm_safetensors_get_shape (NcfmSafetensors *self, const gchar *name, guint *n_dims,
    GError **error)
{
  Tensor *t;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  if (n_dims)
    *n_dims = 0;
  if (!(t = lookup (self, name, error)))
    return NULL;
  if (n_dims)
    *n_dims = t->n_dims;
  return g_memdup2 (t->shape, MAX (t->n_dims, 1) * sizeof (gint64));
}

/**
 * ncfm_safetensors_get_data:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING)
 *
 * Returns: (transfer full) (nullable): the raw little-endian bytes of the
 *   tensor, without a copy, or %NULL with @error set
 */
GBytes *
ncfm_safetensors_get_data (NcfmSafetensors *self, const gchar *name, GError **error)
{
  Tensor *t;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  t = lookup (self, name, error);
  return t ? g_bytes_ref (t->data) : NULL;
}

/**
 * ncfm_safetensors_peek:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @dtype: (out) (optional): the element type
 * @n_bytes: (out) (optional): the size of the data in bytes
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING)
 *
 * The data stays valid while @self holds the tensor.  It is not necessarily
 * aligned to the element size (files whose header length is not a multiple
 * of 8 misalign it); use memcpy() or ncfm_safetensors_dup_f32().
 *
 * Returns: (transfer none) (array length=n_bytes) (element-type guint8) (nullable):
 *   the raw bytes (non-%NULL even for an empty tensor), or %NULL with @error set
 */
gconstpointer
ncfm_safetensors_peek (NcfmSafetensors *self, const gchar *name, NcfmDType *dtype,
    gsize *n_bytes, GError **error)
{
  static const guint8 empty[1];
  Tensor *t;
  gconstpointer p;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  if (n_bytes)
    *n_bytes = 0;
  if (!(t = lookup (self, name, error)))
    return NULL;
  if (dtype)
    *dtype = t->dtype;
  p = g_bytes_get_data (t->data, n_bytes);
  return p ? p : empty;
}

static gfloat
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  guint32 bits;
  gfloat f;

  if (exp == 0) {
    f = (gfloat) man * (1.0f / 16777216.0f);    /* man * 2^-24, exact */
    return sign ? -f : f;
  }
  if (exp == 31)
    bits = sign | 0x7f800000u | (man << 13);
  else
    bits = sign | ((exp + 112) << 23) | (man << 13);
  memcpy (&f, &bits, 4);
  return f;
}

/* Converts t (little-endian, possibly unaligned) to host floats. */
static void
convert_to_f32 (const Tensor *t, gfloat *dst)
{
  const guint8 *src = g_bytes_get_data (t->data, NULL);
  gsize n = tensor_n_elements (t);

  for (gsize i = 0; i < n; i++) {
    guint64 u64;
    guint32 u32;
    guint16 u16;
    gfloat f;
    gdouble d;

    switch (t->dtype) {
      case NCFM_DTYPE_F32:
        memcpy (&u32, src + 4 * i, 4);
        u32 = GUINT32_FROM_LE (u32);
        memcpy (&f, &u32, 4);
        dst[i] = f;
        break;
      case NCFM_DTYPE_F64:
        memcpy (&u64, src + 8 * i, 8);
        u64 = GUINT64_FROM_LE (u64);
        memcpy (&d, &u64, 8);
        dst[i] = (gfloat) d;
        break;
      case NCFM_DTYPE_F16:
        memcpy (&u16, src + 2 * i, 2);
        dst[i] = half_to_float (GUINT16_FROM_LE (u16));
        break;
      case NCFM_DTYPE_BF16:
        memcpy (&u16, src + 2 * i, 2);
        u32 = (guint32) GUINT16_FROM_LE (u16) << 16;
        memcpy (&f, &u32, 4);
        dst[i] = f;
        break;
      case NCFM_DTYPE_I64:
        memcpy (&u64, src + 8 * i, 8);
        dst[i] = (gfloat) (gint64) GUINT64_FROM_LE (u64);
        break;
      case NCFM_DTYPE_I32:
        memcpy (&u32, src + 4 * i, 4);
        dst[i] = (gfloat) (gint32) GUINT32_FROM_LE (u32);
        break;
      case NCFM_DTYPE_I16:
        memcpy (&u16, src + 2 * i, 2);
        dst[i] = (gfloat) (gint16) GUINT16_FROM_LE (u16);
        break;
      case NCFM_DTYPE_I8:
        dst[i] = (gfloat) (gint8) src[i];
        break;
      case NCFM_DTYPE_U8:
        dst[i] = (gfloat) src[i];
        break;
      case NCFM_DTYPE_BOOL:
        dst[i] = src[i] ? 1.0f : 0.0f;
        break;
      default:
        g_assert_not_reached ();
    }
  }
}

/**
 * ncfm_safetensors_dup_f32:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @n_elements: (out) (optional): the number of elements
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING)
 *
 * Converts any dtype to float (BOOL to 0 or 1; 64-bit integers and F64 are
 * rounded to the nearest float).
 *
 * Returns: (transfer full) (array length=n_elements) (nullable): a new array
 *   (non-%NULL even when empty), or %NULL with @error set
 */
gfloat *
ncfm_safetensors_dup_f32 (NcfmSafetensors *self, const gchar *name, gsize *n_elements,
    GError **error)
{
  Tensor *t;
  gfloat *out;
  gsize n;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  if (n_elements)
    *n_elements = 0;
  if (!(t = lookup (self, name, error)))
    return NULL;
  n = tensor_n_elements (t);
  out = g_new (gfloat, MAX (n, 1));
  convert_to_f32 (t, out);
  if (n_elements)
    *n_elements = n;
  return out;
}

/**
 * ncfm_safetensors_read_f32: (skip)
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 * @expect_shape: (array length=expect_n_dims): the shape the caller expects
 * @expect_n_dims: the expected rank
 * @dst: room for the product of @expect_shape floats
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR_MISSING or
 *   %NCFM_SAFETENSORS_ERROR_SHAPE)
 *
 * Checks that the tensor has exactly @expect_shape and converts it into @dst
 * as ncfm_safetensors_dup_f32() does.  @dst is untouched on failure.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_safetensors_read_f32 (NcfmSafetensors *self, const gchar *name,
    const gint64 *expect_shape, guint expect_n_dims, gfloat *dst, GError **error)
{
  Tensor *t;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (expect_shape != NULL || expect_n_dims == 0, FALSE);
  if (!(t = lookup (self, name, error)))
    return FALSE;
  if (t->n_dims != expect_n_dims
      || (expect_n_dims && memcmp (t->shape, expect_shape, expect_n_dims * sizeof (gint64)))) {
    gchar *have = format_shape (t->shape, t->n_dims);
    gchar *want = format_shape (expect_shape, expect_n_dims);
    set_error (error, NCFM_SAFETENSORS_ERROR_SHAPE, self->source,
        "tensor '%s': shape %s, expected %s", name, have, want);
    g_free (have);
    g_free (want);
    return FALSE;
  }
  g_return_val_if_fail (dst != NULL || tensor_n_elements (t) == 0, FALSE);
  convert_to_f32 (t, dst);
  return TRUE;
}

/* ---- editing ----------------------------------------------------------- */

/**
 * ncfm_safetensors_set:
 * @self: a #NcfmSafetensors
 * @name: a tensor name (UTF-8, not "__metadata__")
 * @dtype: the element type
 * @shape: (array length=n_dims) (nullable): the dimensions
 * @n_dims: the rank, at most %NCFM_MAX_DIMS (0 for a scalar)
 * @data: (array length=n_bytes) (element-type guint8) (nullable): little-endian
 *   element data; copied
 * @n_bytes: the size of @data, which must equal the product of @shape times
 *   the element size
 *
 * Adds a tensor, or replaces the one called @name (keeping its position).
 */
void
ncfm_safetensors_set (NcfmSafetensors *self, const gchar *name, NcfmDType dtype,
    const gint64 *shape, guint n_dims, gconstpointer data, gsize n_bytes)
{
  Tensor *t;
  guint64 need;

  g_return_if_fail (NCFM_IS_SAFETENSORS (self));
  g_return_if_fail (name != NULL && g_utf8_validate (name, -1, NULL));
  g_return_if_fail (strcmp (name, "__metadata__") != 0);
  g_return_if_fail ((guint) dtype < NCFM_DTYPE_COUNT);
  g_return_if_fail (n_dims <= NCFM_MAX_DIMS && (shape != NULL || n_dims == 0));
  g_return_if_fail (shape_n_bytes (shape, n_dims, dtype, &need) && need == n_bytes);
  g_return_if_fail (data != NULL || n_bytes == 0);

  t = g_hash_table_lookup (self->by_name, name);
  if (!t) {
    t = g_new0 (Tensor, 1);
    t->name = g_strdup (name);
    g_ptr_array_add (self->tensors, t);
    g_hash_table_insert (self->by_name, t->name, t);
  }
  g_clear_pointer (&t->data, g_bytes_unref);
  t->dtype = dtype;
  t->n_dims = n_dims;
  if (n_dims)
    memcpy (t->shape, shape, n_dims * sizeof (gint64));
  t->data = g_bytes_new (data, n_bytes);
}

/**
 * ncfm_safetensors_remove:
 * @self: a #NcfmSafetensors
 * @name: a tensor name
 *
 * Returns: %TRUE if a tensor called @name was removed
 */
gboolean
ncfm_safetensors_remove (NcfmSafetensors *self, const gchar *name)
{
  Tensor *t;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  if (!(t = g_hash_table_lookup (self->by_name, name)))
    return FALSE;
  g_hash_table_remove (self->by_name, name);
  g_ptr_array_remove (self->tensors, t);
  return TRUE;
}

/**
 * ncfm_safetensors_get_metadata:
 * @self: a #NcfmSafetensors
 * @key: a "__metadata__" key
 *
 * Returns: (transfer none) (nullable): the value, or %NULL if unset
 */
const gchar *
ncfm_safetensors_get_metadata (NcfmSafetensors *self, const gchar *key)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  return g_hash_table_lookup (self->metadata, key);
}

/**
 * ncfm_safetensors_set_metadata:
 * @self: a #NcfmSafetensors
 * @key: a "__metadata__" key (UTF-8)
 * @value: (nullable): the value (UTF-8), or %NULL to remove @key
 */
void
ncfm_safetensors_set_metadata (NcfmSafetensors *self, const gchar *key, const gchar *value)
{
  g_return_if_fail (NCFM_IS_SAFETENSORS (self));
  g_return_if_fail (key != NULL && g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));
  if (value)
    g_hash_table_replace (self->metadata, g_strdup (key), g_strdup (value));
  else
    g_hash_table_remove (self->metadata, key);
}

/**
 * ncfm_safetensors_list_metadata_keys:
 * @self: a #NcfmSafetensors
 *
 * Returns: (transfer full) (array zero-terminated=1): the metadata keys,
 *   sorted bytewise
 */
gchar **
ncfm_safetensors_list_metadata_keys (NcfmSafetensors *self)
{
  gchar **keys;
  guint n;

  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), NULL);
  keys = (gchar **) g_hash_table_get_keys_as_array (self->metadata, &n);
  for (guint i = 0; i < n; i++)
    keys[i] = g_strdup (keys[i]);
  qsort (keys, n, sizeof (gchar *), compare_strings);
  return keys;
}
