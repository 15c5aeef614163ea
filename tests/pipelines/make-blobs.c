/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The blobs of tests/elements/blobs.h for the pipeline tests:
 *   make-blobs idx DIR CLASSES N_TRAIN N_TEST   IDX splits (N_TEST 0: no test split)
 *   make-blobs synset FILE CLASSES IPC          a synthetic set of CLASSES classes, as
 *                                               ncfmdistill writes them (IDX has 10)
 *   make-blobs pool DIR CLASSES                 a model pool of two untrained members
 *                                               (premodel{0,1}_{init,trained}), ConvNets
 *                                               of depth 2 and width 8 for CLASSES classes */
#include <stdio.h>
#include <ncfm.h>

#include "blobs.h"

static gboolean
write_synset (const gchar *path, guint k, guint ipc, GError **error)
{
  const guint n = k * ipc, px = BLOBS_SIZE * BLOBS_SIZE;
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree guint8 *pixels = g_malloc (px);
  g_autofree gfloat *images = g_new (gfloat, (gsize) n * px);
  g_autofree gint64 *labels = g_new (gint64, n);
  for (guint i = 0; i < n; i++) {
    blobs_image (i / ipc, rand, pixels);
    for (guint p = 0; p < px; p++)
      images[(gsize) i * px + p] = pixels[p] / 255.0f;
    labels[i] = i / ipc;
  }
  g_autoptr (GString) names = g_string_new ("[");
  for (guint c = 0; c < k; c++)
    g_string_append_printf (names, "%s\"%u\"", c ? "," : "", c);
  g_string_append (names, "]");
  const gint64 ishape[4] = { n, 1, BLOBS_SIZE, BLOBS_SIZE }, lshape[1] = { n };
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  ncfm_safetensors_set (st, "images", NCFM_DTYPE_F32, ishape, 4, images,
      (gsize) n * px * sizeof (gfloat));
  ncfm_safetensors_set (st, "labels", NCFM_DTYPE_I64, lshape, 1, labels, n * sizeof (gint64));
  ncfm_safetensors_set_metadata (st, "ncfm.format", "synset");
  ncfm_safetensors_set_metadata (st, "ncfm.format_version", "1");
  ncfm_safetensors_set_metadata (st, "ncfm.class_names", names->str);
  ncfm_safetensors_set_metadata (st, "ncfm.dataset", "blobs");
  return ncfm_safetensors_save (st, path, error);
}

/* What ncfmconvnet pool=DIR depth=2 width=8 reads, as tests/elements/distill-pin.c
 * writes it. */
static gboolean
write_pool (const gchar *dir, guint k, GError **error)
{
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", error);
  if (!dev)
    return FALSE;
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot make the folder %s", dir);
    return FALSE;
  }
  for (guint m = 0; m < 2; m++)
    for (guint j = 0; j < 2; j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", m,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, 1, BLOBS_SIZE, BLOBS_SIZE, k, 2, 8,
          NCFM_NORM_INSTANCE, 100 + 10 * m + j, error);
      if (!net || !ncfm_convnet_save (net, path, error))
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  const gboolean idx = argc == 6 && g_str_equal (argv[1], "idx");
  const gboolean synset = argc == 5 && g_str_equal (argv[1], "synset");
  const gboolean pool = argc == 4 && g_str_equal (argv[1], "pool");
  guint64 v[3] = { 0 };
  if (!idx && !synset && !pool) {
    fprintf (stderr, "usage: %s idx DIR CLASSES N_TRAIN N_TEST | synset FILE CLASSES IPC | "
        "pool DIR CLASSES\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < argc - 3; i++) {
    if (!g_ascii_string_to_unsigned (argv[i + 3], 10, i == 0 ? 1 : 0,
            i == 0 ? BLOBS_MAX_CLASSES : 1000000, &v[i], &error)) {
      fprintf (stderr, "%s: %s\n", argv[0], error->message);
      return 2;
    }
  }
  const gboolean ok = pool ? write_pool (argv[2], (guint) v[0], &error) : idx ? blobs_write (argv[2], (guint) v[0], (guint) v[1], (guint) v[2], 1,
      &error) : write_synset (argv[2], (guint) v[0], MAX ((guint) v[1], 1), &error);
  if (!ok) {
    fprintf (stderr, "%s: %s\n", argv[0], error->message);
    return 1;
  }
  return 0;
}
