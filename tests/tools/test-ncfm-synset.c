/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-ncfm-synset.c: the ncfm-synset tool ($NCFM_SYNSET) on good sets (info,
 * check, export to PNGs read back and compared with the reader's decoding),
 * on broken and poisoned files (exit 1, the file and tensor named, the file
 * untouched) and on usage errors (exit 2). */
#include <string.h>
#include <glib/gstdio.h>
#include <png.h>

#include "synset-test-util.h"

static gchar *tmp_root;

typedef struct {
  gint status;
  gchar *out, *err;
} ToolRun;

static void
tool_run_clear (ToolRun *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs the tool with the arguments args (NULL-terminated, at most 8). */
static ToolRun
run_tool_argv (const gchar *const *args)
{
  const gchar *argv[10] = { g_getenv ("NCFM_SYNSET") };
  g_assert_nonnull (argv[0]);
  for (guint i = 0; args[i]; i++) {
    g_assert_cmpuint (i, <, 8);
    argv[i + 1] = args[i];
  }
  const gchar *a = args[0], *b = a ? args[1] : NULL;
  ToolRun r = { 0 };
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
          &r.out, &r.err, &r.status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (r.status));
  r.status = WEXITSTATUS (r.status);
  g_test_message ("%s %s: %d\n%s%s", a ? a : "", b ? b : "", r.status, r.out, r.err);
  return r;
}

/* Runs the tool with up to three arguments (NULL-terminated). */
static ToolRun
run_tool (const gchar *a, const gchar *b, const gchar *c)
{
  const gchar *args[4] = { a, b, c, NULL };
  return run_tool_argv (args);
}

static gchar *
write_set (const gchar *name, NcfmSafetensors *st)
{
  gchar *path = g_build_filename (tmp_root, name, NULL);
  g_assert_true (ncfm_safetensors_save (st, path, NULL));
  return path;
}

static guint
count_pngs (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  for (const gchar *e; d && (e = g_dir_read_name (d));)
    n += g_str_has_suffix (e, ".png");
  g_clear_pointer (&d, g_dir_close);
  return n;
}

/* Asserts that PNG file holds image index of the set's decoding (the
 * reader's, as ncfmevaluate reads the set) to within 1/255. */
static void
assert_png_is (const gchar *file, NcfmDataset *ds, guint index)
{
  const guint c = ncfm_dataset_get_channels (ds), h = ncfm_dataset_get_height (ds),
      w = ncfm_dataset_get_width (ds);
  png_image img = { .version = PNG_IMAGE_VERSION };
  g_assert_true (png_image_begin_read_from_file (&img, file));
  g_assert_cmpuint (img.width, ==, w);
  g_assert_cmpuint (img.height, ==, h);
  img.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  g_autofree guint8 *px = g_malloc (PNG_IMAGE_SIZE (img));
  g_assert_true (png_image_finish_read (&img, NULL, px, 0, NULL));
  const gfloat *x = ncfm_dataset_peek_image (ds, index);
  for (guint ch = 0; ch < c; ch++)
    for (guint p = 0; p < h * w; p++)
      g_assert_cmpfloat_with_epsilon (px[p * c + ch] / 255.0f, x[ch * h * w + p],
          1.0f / 255.0f);
}

static void
test_good_gray (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (3, 2, 1, 4, 4);
  g_autofree gchar *path = write_set ("gray.safetensors", st);
  ToolRun r = run_tool ("check", path, NULL);
  g_assert_cmpint (r.status, ==, 0);
  tool_run_clear (&r);

  r = run_tool ("info", path, NULL);
  g_assert_cmpint (r.status, ==, 0);
  const gchar *want[] = { "classes: 3 (class0, class1, class2)", "ipc: 2", "factor: 1",
    "images: 6 of 1x4x4", "step: 3", "dataset: toy", "metric: ncfd", "lr: 0.01",
    "check: valid", NULL };
  for (guint i = 0; want[i]; i++)
    g_assert_nonnull (strstr (r.out, want[i]));
  tool_run_clear (&r);

  g_autofree gchar *dir = g_build_filename (tmp_root, "gray", NULL);
  r = run_tool ("export", path, dir);
  g_assert_cmpint (r.status, ==, 0);
  tool_run_clear (&r);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_SYNSET, NULL, 0,
      NCFM_DATASET_FLAGS_NONE, NULL, NULL);
  for (guint k = 0; k < 3; k++) {
    g_autofree gchar *name = g_strdup_printf ("class%u", k);
    g_autofree gchar *folder = g_build_filename (dir, name, NULL);
    g_assert_cmpuint (count_pngs (folder), ==, 2);
  }
  g_autofree gchar *png = g_build_filename (dir, "class1", "1.png", NULL);
  assert_png_is (png, ds, 3);
}

/* factor 2, RGB, class names that are no file names */
static void
test_good_rgb_factor (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (2, 1, 3, 4, 4);
  ncfm_safetensors_set_metadata (st, "ncfm.factor", "2");
  ncfm_safetensors_set_metadata (st, "ncfm.class_names", "[\"a/b\", \".hidden\"]");
  g_autofree gchar *path = write_set ("rgb.safetensors", st);
  g_autofree gchar *dir = g_build_filename (tmp_root, "rgb", NULL);
  ToolRun r = run_tool ("export", path, dir);
  g_assert_cmpint (r.status, ==, 0);
  tool_run_clear (&r);
  g_autofree gchar *a = g_build_filename (dir, "a_b", NULL);
  g_autofree gchar *b = g_build_filename (dir, "_hidden", NULL);
  g_assert_cmpuint (count_pngs (a), ==, 4);
  g_assert_cmpuint (count_pngs (b), ==, 4);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_SYNSET, NULL, 0,
      NCFM_DATASET_FLAGS_NONE, NULL, NULL);
  g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 8);
  g_autofree gchar *png = g_build_filename (b, "2.png", NULL);
  assert_png_is (png, ds, 6);
}

/* every command on files that are not valid sets: exit 1, the file named on
 * stderr (and the tensor for a poisoned one), nothing exported, the file
 * byte-identical */
static void
check_refused (const gchar *path, const gchar *needle)
{
  const gboolean exists = g_file_test (path, G_FILE_TEST_EXISTS);
  g_autofree gchar *before = exists ? synset_test_file_hash (path) : NULL;
  g_autofree gchar *dir = g_build_filename (tmp_root, "refused", NULL);
  const gchar *cmds[3] = { "check", "info", "export" };
  for (guint i = 0; i < 3; i++) {
    ToolRun r = run_tool (cmds[i], path, i == 2 ? dir : NULL);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, path));
    g_assert_nonnull (strstr (r.err, needle));
    tool_run_clear (&r);
  }
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  if (exists) {
    g_autofree gchar *after = synset_test_file_hash (path);
    g_assert_cmpstr (before, ==, after);
  }
}

static void
test_bad_files (void)
{
  g_autofree gchar *missing = g_build_filename (tmp_root, "missing.safetensors", NULL);
  check_refused (missing, "missing.safetensors");

  g_autofree gchar *text = g_build_filename (tmp_root, "text.safetensors", NULL);
  g_assert_true (g_file_set_contents (text, "not a tensor file at all", -1, NULL));
  check_refused (text, "text.safetensors");

  g_autoptr (NcfmSafetensors) st = synset_test_make (2, 1, 1, 4, 4);
  g_autoptr (GBytes) whole = ncfm_safetensors_serialize (st);
  g_autofree gchar *cut = g_build_filename (tmp_root, "cut.safetensors", NULL);
  g_assert_true (g_file_set_contents (cut, g_bytes_get_data (whole, NULL),
          g_bytes_get_size (whole) / 2, NULL));
  check_refused (cut, "cut.safetensors");

  ncfm_safetensors_set_metadata (st, "ncfm.format", "weights");
  g_autofree gchar *weights = write_set ("weights.safetensors", st);
  check_refused (weights, "ncfm.format");

  for (guint p = 0; p < SYNSET_N_POISONS; p++) {
    g_autoptr (NcfmSafetensors) bad = synset_test_make (2, 2, 1, 4, 4);
    synset_test_poison (bad, p);
    g_autofree gchar *path = write_set ("poisoned.safetensors", bad);
    check_refused (path, synset_poison_target (p));
  }
}

/* Splits set (saved as NAME.safetensors) into count shards with the tool;
 * returns the shard paths (NULL-terminated). */
static gchar **
split_with_tool (NcfmSafetensors *st, const gchar *name, guint count)
{
  g_autofree gchar *file = g_strdup_printf ("%s.safetensors", name);
  g_autofree gchar *path = write_set (file, st);
  g_autofree gchar *prefix = g_build_filename (tmp_root, name, NULL);
  g_autofree gchar *n = g_strdup_printf ("%u", count);
  ToolRun r = run_tool_argv ((const gchar *[]) { "split", path, n, prefix, NULL });
  g_assert_cmpint (r.status, ==, 0);
  tool_run_clear (&r);
  gchar **shards = g_new0 (gchar *, count + 1);
  for (guint i = 0; i < count; i++) {
    shards[i] = g_strdup_printf ("%s-%u.safetensors", prefix, i);
    g_assert_true (ncfm_synset_file_validate (shards[i], NULL));
  }
  return shards;
}

/* merge a b [c] -o out */
static ToolRun
merge (const gchar *a, const gchar *b, const gchar *c, const gchar *out)
{
  return run_tool_argv (c ? (const gchar *[]) { "merge", a, b, c, "-o", out, NULL }
      : (const gchar *[]) { "merge", a, b, "-o", out, NULL });
}

/* 5 classes in 3 shards, merged in another order: the file's bytes again */
static void
test_merge_round_trip (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (5, 2, 1, 4, 4);
  g_auto (GStrv) shards = split_with_tool (st, "whole", 3);
  g_autofree gchar *whole = g_build_filename (tmp_root, "whole.safetensors", NULL);
  g_autofree gchar *merged = g_build_filename (tmp_root, "merged.safetensors", NULL);
  g_autoptr (NcfmSafetensors) shard1 = ncfm_safetensors_load (shards[1], NULL);
  gint64 shape[NCFM_MAX_DIMS];
  ncfm_safetensors_get_info (shard1, "images", NULL, NULL, shape, NULL);
  g_assert_cmpint (shape[0], ==, 4);  /* classes 1 and 4 */
  g_assert_cmpstr (ncfm_safetensors_get_metadata (shard1, "ncfm.class_shard"), ==, "1/3");
  ToolRun r = merge (shards[2], shards[0], shards[1], merged);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  tool_run_clear (&r);
  g_autofree gchar *a = synset_test_file_hash (whole);
  g_autofree gchar *b = synset_test_file_hash (merged);
  g_assert_cmpstr (a, ==, b);
}

/* shards whose learned samplers went different ways: merged without psi.* */
static void
test_merge_psi_differs (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st, "psi.kind", "learned");
  g_auto (GStrv) shards = split_with_tool (st, "psi", 2);
  g_autoptr (NcfmSafetensors) moved = ncfm_safetensors_load (shards[1], NULL);
  const gfloat psi[6] = { 0 };
  const gint64 pshape[2] = { 2, 3 };
  ncfm_safetensors_set (moved, "psi.weight", NCFM_DTYPE_F32, pshape, 2, psi, sizeof psi);
  g_assert_true (ncfm_safetensors_save (moved, shards[1], NULL));
  g_autofree gchar *merged = g_build_filename (tmp_root, "psi-merged.safetensors", NULL);
  ToolRun r = merge (shards[0], shards[1], NULL, merged);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "psi.*"));
  g_assert_nonnull (strstr (r.err, "starts psi afresh"));
  tool_run_clear (&r);
  g_autoptr (NcfmSafetensors) m = ncfm_safetensors_load (merged, NULL);
  g_assert_false (ncfm_safetensors_contains (m, "psi.weight"));
  g_assert_null (ncfm_safetensors_get_metadata (m, "psi.kind"));
  g_assert_true (ncfm_safetensors_contains (m, "adamw.m"));
}

/* exit 1, every needle on stderr, no output written */
static void
check_merge_refused (const gchar *a, const gchar *b, const gchar *c, const gchar *const *needles)
{
  g_autofree gchar *out = g_build_filename (tmp_root, "refused.safetensors", NULL);
  ToolRun r = merge (a, b, c, out);
  g_assert_cmpint (r.status, ==, 1);
  for (guint i = 0; needles[i]; i++)
    g_assert_nonnull (strstr (r.err, needles[i]));
  tool_run_clear (&r);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

static void
test_merge_refused (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (3, 1, 1, 4, 4);
  g_auto (GStrv) shards = split_with_tool (st, "three", 3);
  /* overlap: the same classes twice */
  check_merge_refused (shards[0], shards[1], shards[1], (const gchar *[]) { shards[1],
        "both hold class 1 \"class1\"", NULL });
  /* a shard missing */
  check_merge_refused (shards[0], shards[2], NULL, (const gchar *[]) { "No shard holds class 1",
        NULL });
  /* a shard of another run: another lr, and another ipc */
  ncfm_safetensors_set_metadata (st, "ncfm.lr", "0.5");
  g_auto (GStrv) other = split_with_tool (st, "other-lr", 3);
  check_merge_refused (shards[0], other[1], shards[2], (const gchar *[]) { shards[0], other[1],
        "disagree on metadata ncfm.lr (\"0.01\" vs \"0.5\")", NULL });
  g_autoptr (NcfmSafetensors) ipc2 = synset_test_make (3, 2, 1, 4, 4);
  g_auto (GStrv) two = split_with_tool (ipc2, "ipc2", 3);
  check_merge_refused (shards[0], shards[1], two[2], (const gchar *[]) { two[2],
        "metadata ncfm.ipc", NULL });
  /* a poisoned shard */
  synset_test_poison_file (other[2], SYNSET_POISON_NAN_PIXEL);
  check_merge_refused (shards[0], shards[1], other[2], (const gchar *[]) { other[2], "images",
        "not finite", NULL });
  /* an output that exists (here: one of the shards) stays as it was */
  g_autofree gchar *before = synset_test_file_hash (shards[0]);
  ToolRun r = merge (shards[0], shards[1], shards[2], shards[0]);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "exists: not overwriting"));
  tool_run_clear (&r);
  g_autofree gchar *after = synset_test_file_hash (shards[0]);
  g_assert_cmpstr (before, ==, after);
  /* more shards than classes; a bad COUNT; merge without -o */
  g_autofree gchar *whole = g_build_filename (tmp_root, "three.safetensors", NULL);
  g_autofree gchar *prefix = g_build_filename (tmp_root, "four", NULL);
  r = run_tool_argv ((const gchar *[]) { "split", whole, "4", prefix, NULL });
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "class shard 3 of 4 holds no class (the set has 3)"));
  tool_run_clear (&r);
  const gchar *counts[] = { "0", "-1", "x" };
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++) {
    r = run_tool_argv ((const gchar *[]) { "split", whole, counts[i], prefix, NULL });
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "COUNT"));
    tool_run_clear (&r);
  }
  r = run_tool_argv ((const gchar *[]) { "merge", shards[0], shards[1], NULL });
  g_assert_cmpint (r.status, ==, 2);
  tool_run_clear (&r);
  g_autofree gchar *p0 = g_strdup_printf ("%s-0.safetensors", prefix);
  g_assert_false (g_file_test (p0, G_FILE_TEST_EXISTS));
}

static void
test_usage (void)
{
  ToolRun r = run_tool ("--help", NULL, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (strstr (r.out, "info") && strstr (r.out, "check") && strstr (r.out, "export"));
  tool_run_clear (&r);
  const gchar *bad[][3] = { { NULL, NULL, NULL }, { "frobnicate", "x", NULL },
    { "check", NULL, NULL }, { "export", "x", NULL }, { "info", "a", "b" } };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    r = run_tool (bad[i][0], bad[i][1], bad[i][2]);
    g_assert_cmpint (r.status, ==, 2);
    g_assert_nonnull (strstr (r.err, "Usage"));
    tool_run_clear (&r);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_root = g_dir_make_tmp ("ncfm-synset-tool-XXXXXX", NULL);
  g_test_add_func ("/ncfm-synset/good-gray", test_good_gray);
  g_test_add_func ("/ncfm-synset/good-rgb-factor", test_good_rgb_factor);
  g_test_add_func ("/ncfm-synset/bad-files", test_bad_files);
  g_test_add_func ("/ncfm-synset/usage", test_usage);
  g_test_add_func ("/ncfm-synset/merge-round-trip", test_merge_round_trip);
  g_test_add_func ("/ncfm-synset/merge-psi-differs", test_merge_psi_differs);
  g_test_add_func ("/ncfm-synset/merge-refused", test_merge_refused);
  const int rc = g_test_run ();
  synset_test_rm_tree (tmp_root);
  g_free (tmp_root);
  return rc;
}
