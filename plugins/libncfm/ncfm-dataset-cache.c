/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-cache.c: the decoded ImageFolder cache.
 *
 * Layout (host byte order; a byte-order mark rejects a foreign file):
 *   [0, 128)        CacheHeader (magic, version, n, c, h, w, classes, skipped,
 *                   content key, payload size and checksum, mean/std, a hash
 *                   of the header itself)
 *   [128, +4n)      labels, int32
 *   then            pixels, uint8 [n, c, h, w]
 *   then            class names, each NUL-terminated
 * The labels start 64-byte aligned and the pixels follow, so a load maps the
 * file and hands out slices of the mapping: nothing is copied.  Every field
 * is checked and the payload hashed before anything is trusted; whatever is
 * wrong makes the caller rebuild the cache (a g_info says why).  Writes go to
 * a temporary file that is synced and renamed over the old one. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"
#include "ncfm-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define CACHE_MAGIC "NCFMDSC\n"
#define CACHE_VERSION 1u
#define CACHE_BYTE_ORDER 0x01020304u
#define CACHE_HEADER_SIZE 128u

typedef struct {
  char magic[8];
  guint32 version, byte_order, header_size;
  guint32 n, c, h, w, num_classes, n_skipped, reserved0;
  guint64 key;                    /* the content key of the ImageFolder listing */
  guint64 payload_size;           /* everything after the header */
  guint64 checksum;               /* of labels, pixels and names, chained */
  gfloat mean[NCFM_DATASET_MAX_CHANNELS], std[NCFM_DATASET_MAX_CHANNELS];
  guint8 reserved1[16];
  guint64 header_hash;            /* of every byte above */
} CacheHeader;

G_STATIC_ASSERT (sizeof (CacheHeader) == CACHE_HEADER_SIZE);
G_STATIC_ASSERT (G_STRUCT_OFFSET (CacheHeader, header_hash) == CACHE_HEADER_SIZE - 8);

static inline guint64
rotl64 (guint64 x, int r)
{
  return (x << r) | (x >> (64 - r));
}

#define P1 G_GUINT64_CONSTANT (0x9E3779B185EBCA87)
#define P2 G_GUINT64_CONSTANT (0xC2B2AE3D27D4EB4F)
#define P3 G_GUINT64_CONSTANT (0x165667B19E3779F9)

static inline guint64
hash_round (guint64 acc, guint64 v)
{
  return rotl64 (acc + v * P2, 31) * P1;
}

static inline guint64
read_le64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

guint64
ncfm_dataset_hash64 (gconstpointer data, gsize len, guint64 seed)
{
  const guint8 *p = data;
  gsize i = 0;
  guint64 lane[4] = { seed + P1 + P2, seed + P2, seed, seed - P1 };

  for (; i + 32 <= len; i += 32)
    for (int k = 0; k < 4; k++)
      lane[k] = hash_round (lane[k], read_le64 (p + i + 8 * k));
  guint64 h = rotl64 (lane[0], 1) + rotl64 (lane[1], 7) + rotl64 (lane[2], 12)
      + rotl64 (lane[3], 18) + len;
  for (; i + 8 <= len; i += 8)
    h = rotl64 (h ^ hash_round (0, read_le64 (p + i)), 27) * P1 + P3;
  for (; i < len; i++)
    h = rotl64 (h ^ (p[i] * P3), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

gchar *
ncfm_dataset_cache_path (const gchar *cache_dir, guint64 location_key)
{
  g_autofree gchar *name = g_strdup_printf ("imagefolder-%016" G_GINT64_MODIFIER "x.cache",
      location_key);
  if (cache_dir)
    return g_build_filename (cache_dir, name, NULL);
  return g_build_filename (g_get_user_cache_dir (), "gst-ncfm", name, NULL);
}

static guint64
payload_checksum (gconstpointer labels, gsize labels_len, gconstpointer pixels,
    gsize pixels_len, gconstpointer names, gsize names_len)
{
  guint64 h = ncfm_dataset_hash64 (labels, labels_len, CACHE_VERSION);
  h = ncfm_dataset_hash64 (pixels, pixels_len, h);
  return ncfm_dataset_hash64 (names, names_len, h);
}

/* The reason a cache cannot be used, or NULL. */
static const gchar *
check_cache (const guint8 *data, gsize len, guint64 key, CacheHeader *hdr, gsize *pixels_len)
{
  guint64 need;
  if (len < CACHE_HEADER_SIZE)
    return "truncated header";
  memcpy (hdr, data, sizeof *hdr);
  if (memcmp (hdr->magic, CACHE_MAGIC, 8) != 0)
    return "not a gst-ncfm cache (magic)";
  if (hdr->version != CACHE_VERSION || hdr->byte_order != CACHE_BYTE_ORDER
      || hdr->header_size != CACHE_HEADER_SIZE)
    return "other version or byte order";
  if (ncfm_dataset_hash64 (data, G_STRUCT_OFFSET (CacheHeader, header_hash), 0)
      != hdr->header_hash)
    return "corrupt header (checksum)";
  if (hdr->key != key)
    return "stale (the image files changed)";
  if (hdr->n == 0 || hdr->c == 0 || hdr->c > NCFM_DATASET_MAX_CHANNELS || hdr->h == 0
      || hdr->w == 0 || hdr->h > 65536 || hdr->w > 65536 || hdr->num_classes == 0)
    return "corrupt header (dimensions)";
  need = (guint64) hdr->n * 4 + (guint64) hdr->n * hdr->c * hdr->h * hdr->w
      + hdr->num_classes;
  if (hdr->payload_size != len - CACHE_HEADER_SIZE || hdr->payload_size < need)
    return "truncated or overlong payload";
  *pixels_len = (gsize) hdr->n * hdr->c * hdr->h * hdr->w;
  return NULL;
}

gboolean
ncfm_dataset_cache_load (const gchar *path, guint64 key, NcfmDatasetParts *out)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GMappedFile) mf = NULL;
  g_autoptr (GBytes) whole = NULL;
  CacheHeader hdr;
  const guint8 *data, *names;
  const gint32 *labels;
  gsize len, pixels_len = 0, names_len;
  const gchar *why;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  mf = g_mapped_file_new (path, FALSE, &err);
  if (!mf) {
    g_info ("%s: cannot map the decoded cache (%s); rebuilding it", path, err->message);
    return FALSE;
  }
  data = (const guint8 *) g_mapped_file_get_contents (mf);
  len = g_mapped_file_get_length (mf);
  why = check_cache (data, len, key, &hdr, &pixels_len);
  if (!why) {
    labels = (const gint32 *) (data + CACHE_HEADER_SIZE);
    names = data + CACHE_HEADER_SIZE + (gsize) hdr.n * 4 + pixels_len;
    names_len = data + len - names;
    if (payload_checksum (labels, (gsize) hdr.n * 4, labels + hdr.n, pixels_len, names,
            names_len) != hdr.checksum)
      why = "corrupt payload (checksum)";
  }
  if (!why) {
    /* names: exactly num_classes NUL-terminated UTF-8 strings filling the rest */
    guint k = 0;
    for (gsize i = 0; i < names_len && !why; k++) {
      const guint8 *end = memchr (names + i, '\0', names_len - i);
      if (!end || end == names + i || !g_utf8_validate ((const gchar *) names + i,
              end - (names + i), NULL))
        why = "corrupt class names";
      else
        i = end - names + 1;
    }
    if (!why && k != hdr.num_classes)
      why = "corrupt class names";
    for (guint i = 0; i < hdr.n && !why; i++)
      if (labels[i] < 0 || (guint) labels[i] >= hdr.num_classes)
        why = "label out of range";
  }
  if (why) {
    g_info ("%s: decoded cache not used: %s; rebuilding it", path, why);
    return FALSE;
  }

  whole = g_mapped_file_get_bytes (mf);
  out->dtype = NCFM_DTYPE_U8;
  out->n = hdr.n;
  out->c = hdr.c;
  out->h = hdr.h;
  out->w = hdr.w;
  out->labels = g_bytes_new_from_bytes (whole, CACHE_HEADER_SIZE, (gsize) hdr.n * 4);
  out->images = g_bytes_new_from_bytes (whole, CACHE_HEADER_SIZE + (gsize) hdr.n * 4,
      pixels_len);
  out->class_names = g_new0 (gchar *, hdr.num_classes + 1);
  for (guint k = 0, i = 0; k < hdr.num_classes; k++) {
    out->class_names[k] = g_strdup ((const gchar *) names + i);
    i += strlen (out->class_names[k]) + 1;
  }
  out->have_stats = TRUE;
  memcpy (out->mean, hdr.mean, sizeof out->mean);
  memcpy (out->std, hdr.std, sizeof out->std);
  out->n_skipped = hdr.n_skipped;
  out->from_cache = TRUE;
  g_debug ("%s: %u images from the decoded cache", path, hdr.n);
  return TRUE;
}

gboolean
ncfm_dataset_cache_save (const gchar *path, guint64 key, const NcfmDatasetParts *parts,
    GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autoptr (GString) names = g_string_new (NULL);
  CacheHeader hdr = { 0 };
  gsize labels_len, pixels_len;
  gconstpointer labels = g_bytes_get_data (parts->labels, &labels_len);
  gconstpointer pixels = g_bytes_get_data (parts->images, &pixels_len);
  const gchar *what = NULL;
  int saved_errno = 0;

  for (guint k = 0; parts->class_names[k]; k++)
    g_string_append_len (names, parts->class_names[k], strlen (parts->class_names[k]) + 1);
  memcpy (hdr.magic, CACHE_MAGIC, 8);
  hdr.version = CACHE_VERSION;
  hdr.byte_order = CACHE_BYTE_ORDER;
  hdr.header_size = CACHE_HEADER_SIZE;
  hdr.n = parts->n;
  hdr.c = parts->c;
  hdr.h = parts->h;
  hdr.w = parts->w;
  hdr.num_classes = g_strv_length (parts->class_names);
  hdr.n_skipped = parts->n_skipped;
  hdr.key = key;
  hdr.payload_size = labels_len + pixels_len + names->len;
  hdr.checksum = payload_checksum (labels, labels_len, pixels, pixels_len, names->str,
      names->len);
  memcpy (hdr.mean, parts->mean, sizeof hdr.mean);
  memcpy (hdr.std, parts->std, sizeof hdr.std);
  hdr.header_hash = ncfm_dataset_hash64 (&hdr, G_STRUCT_OFFSET (CacheHeader, header_hash), 0);

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    saved_errno = errno;
    what = "cannot create the cache folder";
  } else {
    const NcfmFileChunk chunks[] = { { &hdr, sizeof hdr }, { labels, labels_len },
      { pixels, pixels_len }, { names->str, names->len } };
    ncfm_file_write_atomic (path, chunks, G_N_ELEMENTS (chunks), 0644, &what, &saved_errno);
  }
  if (what) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_CACHE,
        "%s: decoded cache: %s: %s (pass a writable cache folder, or disable the cache)",
        path, what, g_strerror (saved_errno));
    return FALSE;
  }
  g_debug ("%s: wrote the decoded cache (%u images)", path, parts->n);
  return TRUE;
}
