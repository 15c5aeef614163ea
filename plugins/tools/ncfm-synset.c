/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-synset: a synthetic set (ncfmdistill's .safetensors) from the shell.
 *
 *   ncfm-synset info SET         what the set holds, and whether it is valid
 *   ncfm-synset check SET        exit 0 if valid, 1 if not (the fault on stderr)
 *   ncfm-synset export SET DIR   the decoded images as DIR/<class>/<index>.png
 *   ncfm-synset merge SHARD... -o SET   class shards of a run over several ranks
 *                                as one set
 *   ncfm-synset split SET COUNT PREFIX  the class shards PREFIX-R.safetensors
 *
 * Exit status: 0 success, 1 an unreadable or invalid set (or a write error),
 * 2 a usage error.  The checks are libncfm's (ncfm_synset_validate()) and the
 * export decodes multi-formation with the dataset reader, as ncfmevaluate and
 * ncfmdatasetsrc read the set. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <png.h>
#include <ncfm.h>

#define EXIT_INVALID 1
#define EXIT_USAGE 2

static const gchar usage[] =
    "Usage: ncfm-synset COMMAND ARGS\n"
    "\n"
    "A synthetic set written by ncfmdistill (.safetensors):\n"
    "  info SET          classes, ipc, factor, image shape, step, dataset, metric,\n"
    "                    hyperparameters and the result of the checks\n"
    "  check SET         exit 0 if SET is a valid synthetic set, 1 if not\n"
    "  export SET DIR    the decoded images as PNGs in an ImageFolder layout,\n"
    "                    DIR/<class name>/<index>.png (1 or 3 channels)\n"
    "  merge SHARD... -o SET\n"
    "                    the class shards of a run over several ranks (rank r of\n"
    "                    N distils classes r, r+N, ...) joined into one set, as\n"
    "                    one process would have written it (SET must not exist)\n"
    "  split SET COUNT PREFIX\n"
    "                    the class shards of SET for COUNT ranks, written to\n"
    "                    PREFIX-0.safetensors ... (none of them may exist)\n"
    "  --help            this text\n"
    "\n"
    "Exit status: 0 success, 1 an unreadable or invalid set, 2 a usage error.\n";

static int
fail (const gchar *what)
{
  g_printerr ("ncfm-synset: %s\n", what);
  return EXIT_INVALID;
}

static const gchar *
meta_or (NcfmSafetensors *st, const gchar *key, const gchar *fallback)
{
  const gchar *v = ncfm_safetensors_get_metadata (st, key);
  return v ? v : fallback;
}

static int
cmd_info (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  if (!st)
    return fail (error->message);
  const gboolean valid = ncfm_synset_validate (st, path, &error);
  if (!valid && g_error_matches (error, NCFM_SYNSET_ERROR, NCFM_SYNSET_ERROR_FORMAT)
      && g_strcmp0 (ncfm_safetensors_get_metadata (st, "ncfm.format"), "synset") != 0)
    return fail (error->message);
  gint64 shape[NCFM_MAX_DIMS];
  guint nd = 0;
  g_print ("file: %s\n", path);
  if (ncfm_safetensors_get_info (st, "images", NULL, &nd, shape, NULL) && nd == 4)
    g_print ("images: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%"
        G_GINT64_FORMAT " (CxHxW)\n", shape[0], shape[1], shape[2], shape[3]);
  g_auto (GStrv) names = ncfm_synset_get_class_names (st, path, NULL);
  g_autofree gchar *joined = names ? g_strjoinv (", ", names) : NULL;
  g_print ("classes: %u (%s)\n", names ? g_strv_length (names) : 0, joined ? joined : "unnamed");
  g_print ("ipc: %s\nfactor: %s\nstep: %s\n", meta_or (st, "ncfm.ipc", "?"),
      meta_or (st, "ncfm.factor", "1"), meta_or (st, "ncfm.step", "?"));
  g_print ("dataset: %s (%s)\n", meta_or (st, "ncfm.dataset", "?"),
      meta_or (st, "ncfm.dataset_path", "path not recorded"));
  g_print ("optimiser state: %s; learned sampler: %s\n",
      ncfm_safetensors_contains (st, "adamw.m") ? "AdamW" : "none",
      ncfm_safetensors_get_metadata (st, "psi.kind") ? "yes" : "no");
  /* every other ncfm.* key: metric, lr, alpha, beta, init, seed, mean, std... */
  const gchar *shown[] = { "ncfm.ipc", "ncfm.factor", "ncfm.step", "ncfm.dataset",
    "ncfm.dataset_path", "ncfm.class_names", "ncfm.format", NULL };
  g_auto (GStrv) keys = ncfm_safetensors_list_metadata_keys (st);
  for (guint i = 0; keys[i]; i++)
    if (g_str_has_prefix (keys[i], "ncfm.") && !g_strv_contains (shown, keys[i]))
      g_print ("%s: %s\n", keys[i] + 5, ncfm_safetensors_get_metadata (st, keys[i]));
  g_print ("check: %s\n", valid ? "valid (finite, pixels in [0, 1])" : "INVALID");
  return valid ? 0 : fail (error->message);
}

static int
cmd_check (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  if (!ncfm_synset_file_validate (path, &error))
    return fail (error->message);
  g_print ("%s: valid synthetic set\n", path);
  return 0;
}

/* A class name as one directory name: no separators, control characters or
 * leading dot; unique among the classes (else suffixed with the class id). */
static gchar *
folder_name (const gchar *name, guint id, GHashTable *taken)
{
  GString *s = g_string_new (NULL);
  for (const gchar *p = name ? name : ""; *p; p++)
    g_string_append_c (s, (*p == '/' || *p == '\\' || (guchar) *p < 0x20 || *p == 0x7f
            || (*p == '.' && s->len == 0)) ? '_' : *p);
  if (s->len == 0)
    g_string_printf (s, "class%u", id);
  if (g_hash_table_contains (taken, s->str))
    g_string_append_printf (s, "-%u", id);
  g_hash_table_add (taken, g_strdup (s->str));
  return g_string_free (s, FALSE);
}

/* One F32 [c, h, w] image in [0, 1] as an 8-bit gray or RGB PNG. */
static gboolean
write_png (const gchar *file, const gfloat *x, guint c, guint h, guint w, GError **error)
{
  g_autofree guint8 *px = g_malloc ((gsize) h * w * c);
  for (guint y = 0; y < h; y++)
    for (guint i = 0; i < w; i++)
      for (guint ch = 0; ch < c; ch++)
        px[((gsize) y * w + i) * c + ch] = (guint8) lrintf (CLAMP (x[((gsize) ch * h + y) * w
                    + i], 0.0f, 1.0f) * 255.0f);
  png_image img = { .version = PNG_IMAGE_VERSION, .width = w, .height = h,
    .format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB };
  if (!png_image_write_to_file (&img, file, 0, px, 0, NULL)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write %s: %s", file,
        img.message);
    png_image_free (&img);
    return FALSE;
  }
  return TRUE;
}

static int
cmd_export (const gchar *path, const gchar *dir)
{
  g_autoptr (GError) error = NULL;
  /* the reader validates the set and decodes multi-formation */
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_SYNSET, NULL, 0,
      NCFM_DATASET_FLAGS_NONE, NULL, &error);
  if (!ds)
    return fail (error->message);
  const guint n = ncfm_dataset_get_n_images (ds), c = ncfm_dataset_get_channels (ds);
  const guint h = ncfm_dataset_get_height (ds), w = ncfm_dataset_get_width (ds);
  const guint k = ncfm_dataset_get_num_classes (ds);
  if (c != 1 && c != 3) {
    g_autofree gchar *msg = g_strdup_printf ("%s: images of %u channels cannot be exported "
        "(1 or 3)", path, c);
    return fail (msg);
  }
  g_autoptr (GHashTable) taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) folders = g_new0 (gchar *, k + 1);
  g_autofree guint *count = g_new0 (guint, k);
  for (guint i = 0; i < k; i++) {
    g_autofree gchar *name = folder_name (ncfm_dataset_get_class_name (ds, i), i, taken);
    folders[i] = g_build_filename (dir, name, NULL);
    if (g_mkdir_with_parents (folders[i], 0755) != 0) {
      g_autofree gchar *msg = g_strdup_printf ("cannot create %s: %s", folders[i],
          g_strerror (errno));
      return fail (msg);
    }
  }
  for (guint i = 0; i < n; i++) {
    const gint32 y = ncfm_dataset_get_label (ds, i);
    g_autofree gchar *base = g_strdup_printf ("%u.png", count[y]++);
    g_autofree gchar *file = g_build_filename (folders[y], base, NULL);
    if (!write_png (file, ncfm_dataset_peek_image (ds, i), c, h, w, &error))
      return fail (error->message);
  }
  g_print ("%s: %u images of %u classes written to %s\n", path, n, k, dir);
  return 0;
}

/* An output file must be new: a set is never overwritten by a merge or split. */
static gboolean
refuse_existing (const gchar *path)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  g_printerr ("ncfm-synset: %s exists: not overwriting it (remove it or choose another name)\n",
      path);
  return TRUE;
}

static int
save_set (NcfmSafetensors *st, const gchar *path)
{
  g_autoptr (GError) error = NULL;
  if (!ncfm_synset_validate (st, path, &error) || !ncfm_safetensors_save (st, path, &error))
    return fail (error->message);
  return 0;
}

static int
cmd_merge (guint n, const gchar *const *paths, const gchar *output)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) shards = g_ptr_array_new_with_free_func (g_object_unref);
  if (refuse_existing (output))
    return EXIT_INVALID;
  for (guint i = 0; i < n; i++) {
    NcfmSafetensors *st = ncfm_safetensors_load (paths[i], &error);
    if (!st)
      return fail (error->message);
    g_ptr_array_add (shards, st);
  }
  NcfmSynsetMergeFlags flags = NCFM_SYNSET_MERGE_NONE;
  g_autoptr (NcfmSafetensors) merged = ncfm_synset_merge ((NcfmSafetensors **) shards->pdata,
      paths, n, &flags, &error);
  if (!merged)
    return fail (error->message);
  if (flags & NCFM_SYNSET_MERGE_PSI_DROPPED)
    g_printerr ("ncfm-synset: warning: the shards' learned-sampler states (psi.*) differ; %s "
        "holds none, and a run resumed from it starts psi afresh\n", output);
  const int rc = save_set (merged, output);
  if (rc == 0)
    g_print ("%s: %u shards merged\n", output, n);
  return rc;
}

static int
cmd_split (const gchar *path, const gchar *count_text, const gchar *prefix)
{
  g_autoptr (GError) error = NULL;
  guint64 count = 0;
  if (!g_ascii_string_to_unsigned (count_text, 10, 1, G_MAXINT, &count, &error)) {
    g_printerr ("ncfm-synset: COUNT \"%s\": %s\n%s", count_text, error->message, usage);
    return EXIT_USAGE;
  }
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  if (!st)
    return fail (error->message);
  g_autoptr (GPtrArray) shards = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto (GStrv) outputs = g_new0 (gchar *, count + 1);
  for (guint r = 0; r < count; r++) {
    outputs[r] = g_strdup_printf ("%s-%u.safetensors", prefix, r);
    NcfmSafetensors *shard = ncfm_synset_shard_split (st, path, r, (guint) count, &error);
    if (!shard)
      return fail (error->message);
    g_ptr_array_add (shards, shard);
    if (refuse_existing (outputs[r]))
      return EXIT_INVALID;
  }
  for (guint r = 0; r < count; r++)
    if (save_set (g_ptr_array_index (shards, r), outputs[r]) != 0)
      return EXIT_INVALID;
  g_print ("%s: %u class shards written to %s-0.safetensors ...\n", path, (guint) count, prefix);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 2 && (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h")
          || !strcmp (argv[1], "help"))) {
    g_print ("%s", usage);
    return 0;
  }
  if (argc == 3 && !strcmp (argv[1], "info"))
    return cmd_info (argv[2]);
  if (argc == 3 && !strcmp (argv[1], "check"))
    return cmd_check (argv[2]);
  if (argc == 4 && !strcmp (argv[1], "export"))
    return cmd_export (argv[2], argv[3]);
  if (argc >= 5 && !strcmp (argv[1], "merge") && !strcmp (argv[argc - 2], "-o"))
    return cmd_merge ((guint) argc - 4, (const gchar *const *) argv + 2, argv[argc - 1]);
  if (argc == 5 && !strcmp (argv[1], "split"))
    return cmd_split (argv[2], argv[3], argv[4]);
  g_printerr ("%s", usage);
  return EXIT_USAGE;
}
