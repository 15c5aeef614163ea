/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-imagefolder.c: root/split/class/file trees of JPEG and PNG.
 *
 * Class index = position of the class folder among the split's folders
 * sorted by name (byte order, as torchvision's ImageFolder); files are taken
 * in name order too, hidden entries are ignored.  Images are decoded in
 * parallel (OpenMP, one file per iteration) to RGB, always 3 channels, and
 * resized to image_size x image_size with the CPU backend's bilinear resize
 * (PyTorch's align_corners=False, no antialiasing), rounded back to uint8.
 *
 * The decoded set goes to a cache file named after the location (root,
 * split, image_size); its header holds a content key hashing the sorted file
 * list with sizes and modification times, so a changed tree is noticed and
 * the cache rebuilt in place. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"
#include "ncfm-backend.h"
#include "ncfm-device.h"

#include <omp.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* Bumped whenever decoding or resizing changes the pixels it produces. */
#define DECODER_VERSION 1u

typedef struct {
  gchar *path;
  guint label;
  guint64 size;
  gint64 mtime_ns;
} Entry;

typedef enum {
  SLOT_OK,
  SLOT_BAD,                       /* unreadable, corrupt, or not an image */
  SLOT_SIZE,                      /* image_size 0 and a size other than the first image's */
} SlotState;

static void
entry_clear (gpointer p)
{
  g_free (((Entry *) p)->path);
}

/* One visible entry of a folder, stat()ed (symlinks followed). */
typedef struct {
  gchar *name;
  gboolean is_dir;
  guint64 size;
  gint64 mtime_ns;
} DirEntry;

static void
dir_entry_clear (gpointer p)
{
  g_free (((DirEntry *) p)->name);
}

static gint
compare_dir_entries (gconstpointer a, gconstpointer b)
{
  return strcmp (((const DirEntry *) a)->name, ((const DirEntry *) b)->name);
}

/* The visible entries of @dir sorted by name.  readdir + fstatat on the
 * folder's descriptor: 60,000 files cost one short lookup each, which is
 * most of a warm load. */
static GArray *
read_dir_sorted (const gchar *dir, GError **error)
{
  DIR *d = opendir (dir);
  GArray *out;
  struct dirent *e;

  if (!d) {
    int saved = errno;
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND, "%s: %s", dir,
        g_strerror (saved));
    return NULL;
  }
  out = g_array_new (FALSE, TRUE, sizeof (DirEntry));
  g_array_set_clear_func (out, dir_entry_clear);
  while ((e = readdir (d))) {
    DirEntry de = { 0 };
    struct stat st;
    if (e->d_name[0] == '.')
      continue;
    if (fstatat (dirfd (d), e->d_name, &st, 0) == 0) {
      de.is_dir = S_ISDIR (st.st_mode);
      de.size = st.st_size;
      de.mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
          + st.st_mtim.tv_nsec;
    }
    de.name = g_strdup (e->d_name);
    g_array_append_val (out, de);
  }
  closedir (d);
  g_array_sort (out, compare_dir_entries);
  return out;
}

/* The files of the split, labelled, and the content key over them. */
static gboolean
list_split (const gchar *split_dir, GArray *entries, GPtrArray *class_names, GByteArray *keybuf,
    GError **error)
{
  g_autoptr (GArray) top = read_dir_sorted (split_dir, error);

  if (!top)
    return FALSE;
  for (guint k = 0; k < top->len; k++) {
    const DirEntry *ce = &g_array_index (top, DirEntry, k);
    if (!ce->is_dir)
      continue;
    g_autofree gchar *class_dir = g_build_filename (split_dir, ce->name, NULL);
    g_autoptr (GArray) files = read_dir_sorted (class_dir, error);
    guint label = class_names->len, n_files = 0;
    if (!files)
      return FALSE;
    if (!g_utf8_validate (ce->name, -1, NULL)) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
          "%s: class folder name is not UTF-8", class_dir);
      return FALSE;
    }
    g_ptr_array_add (class_names, g_strdup (ce->name));
    g_byte_array_append (keybuf, (const guint8 *) ce->name, strlen (ce->name) + 1);
    for (guint i = 0; i < files->len; i++) {
      const DirEntry *fe = &g_array_index (files, DirEntry, i);
      if (fe->is_dir)
        continue;
      Entry e = { g_build_filename (class_dir, fe->name, NULL), label, fe->size,
        fe->mtime_ns };
      g_array_append_val (entries, e);
      g_byte_array_append (keybuf, (const guint8 *) fe->name, strlen (fe->name) + 1);
      g_byte_array_append (keybuf, (const guint8 *) &fe->size, sizeof fe->size);
      g_byte_array_append (keybuf, (const guint8 *) &fe->mtime_ns, sizeof fe->mtime_ns);
      n_files++;
    }
    if (n_files == 0) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY,
          "%s: empty class folder", class_dir);
      return FALSE;
    }
  }
  if (class_names->len == 0) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY,
        "%s: no class folders", split_dir);
    return FALSE;
  }
  return TRUE;
}

/* HWC uint8 RGB (w x h) -> CHW uint8 (side x side) in @dst; @be and the two
 * float buffers are the calling thread's. */
static void
place_image (const guint8 *rgb, guint w, guint h, guint side, guint8 *dst, NcfmBackend *be,
    GArray *fin, GArray *fout)
{
  const gsize in_plane = (gsize) w * h, out_plane = (gsize) side * side;

  if (w == side && h == side) {
    for (gsize p = 0; p < in_plane; p++)
      for (guint ch = 0; ch < 3; ch++)
        dst[ch * in_plane + p] = rgb[p * 3 + ch];
    return;
  }
  g_array_set_size (fin, 3 * in_plane);
  g_array_set_size (fout, 3 * out_plane);
  float *x = (float *) fin->data, *y = (float *) fout->data;
  for (gsize p = 0; p < in_plane; p++)
    for (guint ch = 0; ch < 3; ch++)
      x[ch * in_plane + p] = rgb[p * 3 + ch];
  be->ops->resize_bilinear_forward (be, 1, 3, (int) h, (int) w, (int) side, (int) side, x, y);
  for (gsize i = 0; i < 3 * out_plane; i++)
    dst[i] = (guint8) CLAMP (lrintf (y[i]), 0, 255);
}

static gboolean
read_file (const gchar *path, gchar **data, gsize *len, gchar **why)
{
  g_autoptr (GError) err = NULL;
  if (g_file_get_contents (path, data, len, &err))
    return TRUE;
  *why = g_strdup (err->message);
  return FALSE;
}

/* Images kept at their own size (image size 0) are stored as they are, one
 * slot per file: no real dataset image comes near 2^26 pixels (8192x8192). */
#define NATIVE_MAX_PIXELS (G_GUINT64_CONSTANT (1) << 26)

static gboolean
too_large_to_keep (guint w, guint h, gchar **why)
{
  if ((guint64) w * h <= NATIVE_MAX_PIXELS)
    return FALSE;
  *why = g_strdup_printf ("%ux%u is more than %" G_GUINT64_FORMAT " pixels: set an image size "
      "to resize it", w, h, NATIVE_MAX_PIXELS);
  return TRUE;
}

/* The size of the first image that decodes (a header alone may lie), for
 * image_size 0. */
static gboolean
first_image_size (GArray *entries, guint *w, guint *h)
{
  for (guint i = 0; i < entries->len; i++) {
    g_autofree gchar *data = NULL, *why = NULL;
    g_autofree guint8 *rgb = NULL;
    gsize len;
    if (read_file (g_array_index (entries, Entry, i).path, &data, &len, &why)
        && ncfm_dataset_decode_image ((const guint8 *) data, len, &rgb, w, h, &why)
        && !too_large_to_keep (*w, *h, &why))
      return TRUE;
  }
  return FALSE;
}

/* Decodes every entry into its slot of @pixels ([n, 3, h, w]); image_size 0
 * means every image must be @w x @h. */
static void
decode_all (GArray *entries, guint image_size, guint w, guint h, guint8 *pixels, guint8 *state,
    gchar **why)
{
  const gsize slot = (gsize) 3 * w * h;
  const glong n = entries->len;
  /* one CPU backend per thread (a backend serves one thread at a time),
   * created here rather than racing inside the parallel region */
  const int n_threads = omp_get_max_threads ();
  NcfmBackend **backends = g_new0 (NcfmBackend *, n_threads);
  if (image_size != 0)
    for (int t = 0; t < n_threads; t++)
      backends[t] = ncfm_backend_new ("cpu", NULL, 0, NULL, 0);

#pragma omp parallel num_threads (n_threads)
  {
    NcfmBackend *be = backends[omp_get_thread_num ()];
    GArray *fin = g_array_new (FALSE, FALSE, sizeof (float));
    GArray *fout = g_array_new (FALSE, FALSE, sizeof (float));
#pragma omp for schedule(dynamic, 16)
    for (glong i = 0; i < n; i++) {
      const Entry *e = &g_array_index (entries, Entry, i);
      g_autofree gchar *data = NULL;
      g_autofree guint8 *rgb = NULL;
      gsize len;
      guint iw, ih;
      state[i] = SLOT_BAD;
      if (!read_file (e->path, &data, &len, &why[i])
          || !ncfm_dataset_decode_image ((const guint8 *) data, len, &rgb, &iw, &ih, &why[i]))
        continue;
      if (image_size == 0 && too_large_to_keep (iw, ih, &why[i]))
        continue;
      if (image_size == 0 && (iw != w || ih != h)) {
        state[i] = SLOT_SIZE;
        why[i] = g_strdup_printf ("%ux%u", iw, ih);
        continue;
      }
      place_image (rgb, iw, ih, w, pixels + slot * i, be, fin, fout);
      state[i] = SLOT_OK;
    }
    g_array_unref (fin);
    g_array_unref (fout);
  }
  for (int t = 0; t < n_threads; t++)
    if (backends[t])
      ncfm_backend_free (backends[t]);
  g_free (backends);
}

/* Decodes the tree into @out (pixels, labels, n_skipped). */
static gboolean
decode_tree (GArray *entries, guint n_classes, guint image_size, NcfmDatasetFlags flags,
    const gchar *split_dir, NcfmDatasetParts *out, GError **error)
{
  const guint n = entries->len;
  guint w = image_size, h = image_size, kept = 0, skipped = 0;
  g_autofree guint8 *state = g_new0 (guint8, n);
  g_autofree guint *per_class = g_new0 (guint, n_classes);
  gchar **why = g_new0 (gchar *, n);
  guint8 *pixels;
  gint32 *labels;
  gsize slot;
  gboolean ok = TRUE;

  if (image_size == 0 && !first_image_size (entries, &w, &h))
    w = h = 1;                    /* nothing decodes: every file is reported below */
  slot = (gsize) 3 * w * h;
  {
    g_autofree gchar *what = g_strdup_printf ("%s: %u images of 3x%ux%u", split_dir, n, h, w);
    pixels = ncfm_host_try_alloc (n, slot, what, error);
  }
  if (!pixels) {
    g_free (why);
    return FALSE;
  }
  labels = g_new (gint32, n);
  decode_all (entries, image_size, w, h, pixels, state, why);

  for (guint i = 0; i < n && ok; i++) {
    const Entry *e = &g_array_index (entries, Entry, i);
    if (state[i] == SLOT_SIZE) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_IMAGE,
          "%s: image is %s, the first image is %ux%u: set an image size to resize them all",
          e->path, why[i], w, h);
      ok = FALSE;
    } else if (state[i] == SLOT_BAD && (flags & NCFM_DATASET_FLAGS_STRICT)) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_IMAGE, "%s: %s", e->path,
          why[i]);
      ok = FALSE;
    } else if (state[i] == SLOT_BAD) {
      g_warning ("%s: skipped: %s", e->path, why[i]);
      skipped++;
    } else {
      if (kept != i)
        memmove (pixels + slot * kept, pixels + slot * i, slot);
      labels[kept++] = e->label;
      per_class[e->label]++;
    }
  }
  for (guint k = 0; k < n_classes && ok; k++)
    if (per_class[k] == 0) {
      g_autofree gchar *dir = NULL;
      for (guint i = 0; i < n && !dir; i++)
        if (g_array_index (entries, Entry, i).label == k)
          dir = g_path_get_dirname (g_array_index (entries, Entry, i).path);
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY,
          "%s: no decodable image in class folder", dir ? dir : split_dir);
      ok = FALSE;
    }
  for (guint i = 0; i < n; i++)       /* sparse: g_strfreev would stop at the first hole */
    g_free (why[i]);
  g_free (why);
  if (!ok) {
    g_free (pixels);
    g_free (labels);
    return FALSE;
  }
  out->dtype = NCFM_DTYPE_U8;
  out->n = kept;
  out->c = 3;
  out->h = h;
  out->w = w;
  out->images = g_bytes_new_take (g_realloc (pixels, slot * kept), slot * kept);
  out->labels = g_bytes_new_take (g_realloc (labels, sizeof (gint32) * kept),
      sizeof (gint32) * kept);
  out->n_skipped = skipped;
  return TRUE;
}

gboolean
ncfm_dataset_read_imagefolder (const gchar *root, const gchar *split, guint image_size,
    NcfmDatasetFlags flags, const gchar *cache_dir, NcfmDatasetParts *out, GError **error)
{
  g_autofree gchar *split_dir = g_build_filename (root, split, NULL);
  g_autofree gchar *abs_root = g_canonicalize_filename (root, NULL);
  g_autofree gchar *name = g_path_get_basename (abs_root);
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_autoptr (GPtrArray) class_names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GByteArray) keybuf = g_byte_array_new ();
  g_autofree gchar *cache_path = NULL;
  const gboolean use_cache = !(flags & NCFM_DATASET_FLAGS_NO_CACHE);
  const guint32 head[2] = { DECODER_VERSION, image_size };
  guint64 key;

  g_array_set_clear_func (entries, entry_clear);
  if (!g_file_test (split_dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
        "%s: no split folder \"%s\"", split_dir, split);
    return FALSE;
  }
  if (image_size > 65536) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: image size %u is too large", root, image_size);
    return FALSE;
  }
  g_byte_array_append (keybuf, (const guint8 *) head, sizeof head);
  g_byte_array_append (keybuf, (const guint8 *) split, strlen (split) + 1);
  if (!list_split (split_dir, entries, class_names, keybuf, error))
    return FALSE;
  key = ncfm_dataset_hash64 (keybuf->data, keybuf->len, 0);

  if (use_cache) {
    /* the file is named after the request, the header holds the content key */
    g_autoptr (GByteArray) where = g_byte_array_new ();
    g_byte_array_append (where, (const guint8 *) abs_root, strlen (abs_root) + 1);
    g_byte_array_append (where, (const guint8 *) split, strlen (split) + 1);
    g_byte_array_append (where, (const guint8 *) &image_size, sizeof image_size);
    cache_path = ncfm_dataset_cache_path (cache_dir,
        ncfm_dataset_hash64 (where->data, where->len, 1));
    if (ncfm_dataset_cache_load (cache_path, key, out)) {
      if (out->n_skipped > 0 && (flags & NCFM_DATASET_FLAGS_STRICT)) {
        /* built leniently: decode again so the strict error names the file */
        ncfm_dataset_parts_clear (out);
        memset (out, 0, sizeof *out);
      } else {
        if (g_strv_length (out->class_names) == class_names->len) {
          out->name = g_steal_pointer (&name);
          out->known = ncfm_dataset_stats_from_name (out->name);
          return TRUE;
        }
        ncfm_dataset_parts_clear (out);
        memset (out, 0, sizeof *out);
      }
    }
  }

  if (!decode_tree (entries, class_names->len, image_size, flags, split_dir, out, error))
    return FALSE;
  g_ptr_array_add (class_names, NULL);
  out->class_names = (gchar **) g_ptr_array_steal (class_names, NULL);
  out->name = g_steal_pointer (&name);
  out->known = ncfm_dataset_stats_from_name (out->name);
  if (!ncfm_dataset_table_stats (out->known, out->c, out->mean, out->std))
    ncfm_dataset_compute_stats (out->dtype, g_bytes_get_data (out->images, NULL), out->n,
        out->c, (gsize) out->h * out->w, out->mean, out->std);
  out->have_stats = TRUE;
  if (use_cache) {
    g_autoptr (GError) cache_error = NULL;
    if (!ncfm_dataset_cache_save (cache_path, key, out, &cache_error)) {
      /* a cache folder the caller named must work; the default one is a
       * convenience: without it every load decodes again */
      if (cache_dir) {
        g_propagate_error (error, g_steal_pointer (&cache_error));
        ncfm_dataset_parts_clear (out);
        return FALSE;
      }
      g_warning ("%s; continuing without the decoded cache", cache_error->message);
    }
  }
  return TRUE;
}
