/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "synset-test-util.h"

#include <math.h>
#include <glib/gstdio.h>

static const gchar *const targets[SYNSET_N_POISONS] = {
  "images", "images", "adamw.m", "adamw.v", "adamw.step", "ncfm.step", "psi.",
};

const gchar *
synset_poison_target (SynsetPoison poison)
{
  return targets[poison];
}

NcfmSafetensors *
synset_test_make (guint k, guint ipc, guint c, guint h, guint w)
{
  NcfmSafetensors *st = ncfm_safetensors_new ();
  const gsize n = (gsize) k * ipc, per = (gsize) c * h * w;
  const gint64 shape[4] = { n, c, h, w }, lshape[1] = { n }, kshape[1] = { k };
  g_autofree gfloat *img = g_new (gfloat, n * per);
  g_autofree gfloat *v = g_new (gfloat, n * per);
  g_autofree gint64 *labels = g_new (gint64, n);
  g_autofree gint64 *steps = g_new (gint64, k);
  for (gsize i = 0; i < n * per; i++) {
    img[i] = (gfloat) ((i * 37) % 256) / 255.0f;
    v[i] = 1e-6f * (gfloat) (i % 7);
  }
  for (gsize i = 0; i < n; i++)
    labels[i] = (gint64) (i / ipc);
  for (guint i = 0; i < k; i++)
    steps[i] = 3;
  ncfm_safetensors_set (st, "images", NCFM_DTYPE_F32, shape, 4, img, n * per * sizeof (gfloat));
  ncfm_safetensors_set (st, "labels", NCFM_DTYPE_I64, lshape, 1, labels, n * sizeof (gint64));
  ncfm_safetensors_set (st, "adamw.m", NCFM_DTYPE_F32, shape, 4, v, n * per * sizeof (gfloat));
  ncfm_safetensors_set (st, "adamw.v", NCFM_DTYPE_F32, shape, 4, v, n * per * sizeof (gfloat));
  ncfm_safetensors_set (st, "adamw.step", NCFM_DTYPE_I64, kshape, 1, steps, k * sizeof (gint64));
  const gint64 pshape[2] = { 2, 3 };
  const gfloat psi[6] = { 0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.25f };
  ncfm_safetensors_set (st, "psi.weight", NCFM_DTYPE_F32, pshape, 2, psi, sizeof psi);
  GString *names = g_string_new ("[");
  for (guint i = 0; i < k; i++)
    g_string_append_printf (names, "%s\"class%u\"", i ? "," : "", i);
  g_string_append_c (names, ']');
  ncfm_safetensors_set_metadata (st, "ncfm.format", "synset");
  ncfm_safetensors_set_metadata (st, "ncfm.format_version", "1");
  ncfm_safetensors_set_metadata (st, "ncfm.class_names", names->str);
  ncfm_safetensors_set_metadata (st, "ncfm.dataset", "toy");
  ncfm_safetensors_set_metadata (st, "ncfm.factor", "1");
  g_autofree gchar *ipcs = g_strdup_printf ("%u", ipc);
  ncfm_safetensors_set_metadata (st, "ncfm.ipc", ipcs);
  ncfm_safetensors_set_metadata (st, "ncfm.step", "3");
  ncfm_safetensors_set_metadata (st, "ncfm.lr", "0.01");
  ncfm_safetensors_set_metadata (st, "ncfm.metric", "ncfd");
  g_string_free (names, TRUE);
  return st;
}

/* Sets the middle element of F32 tensor name to value. */
static void
poison_f32 (NcfmSafetensors *set, const gchar *name, gfloat value)
{
  gint64 shape[NCFM_MAX_DIMS];
  guint nd = 0;
  gsize n = 0;
  g_assert_true (ncfm_safetensors_get_info (set, name, NULL, &nd, shape, NULL));
  g_autofree gfloat *x = ncfm_safetensors_dup_f32 (set, name, &n, NULL);
  x[n / 2] = value;
  ncfm_safetensors_set (set, name, NCFM_DTYPE_F32, shape, nd, x, n * sizeof (gfloat));
}

static const gchar *
first_psi_f32 (NcfmSafetensors *set)
{
  g_auto (GStrv) names = ncfm_safetensors_list_names (set);
  for (guint i = 0; names[i]; i++) {
    NcfmDType dt;
    ncfm_safetensors_get_info (set, names[i], &dt, NULL, NULL, NULL);
    if (g_str_has_prefix (names[i], "psi.") && dt == NCFM_DTYPE_F32)
      return g_intern_string (names[i]);
  }
  g_assert_not_reached ();
}

void
synset_test_poison (NcfmSafetensors *set, SynsetPoison poison)
{
  switch (poison) {
    case SYNSET_POISON_NAN_PIXEL: poison_f32 (set, "images", NAN); break;
    case SYNSET_POISON_PIXEL_300: poison_f32 (set, "images", 300.0f); break;
    case SYNSET_POISON_INF_ADAMW_M: poison_f32 (set, "adamw.m", INFINITY); break;
    case SYNSET_POISON_NEG_ADAMW_V: poison_f32 (set, "adamw.v", -1.0f); break;
    case SYNSET_POISON_NEG_STEP: {
      gint64 shape[1];
      gsize nb = 0;
      g_assert_true (ncfm_safetensors_get_info (set, "adamw.step", NULL, NULL, shape, NULL));
      gconstpointer raw = ncfm_safetensors_peek (set, "adamw.step", NULL, &nb, NULL);
      g_autofree gint64 *s = g_memdup2 (raw, nb);
      s[shape[0] / 2] = GINT64_TO_LE (-1);
      ncfm_safetensors_set (set, "adamw.step", NCFM_DTYPE_I64, shape, 1, s, nb);
      break;
    }
    case SYNSET_POISON_WRAPPED_STEP:
      ncfm_safetensors_set_metadata (set, "ncfm.step", "18446744073709551615");
      break;
    case SYNSET_POISON_NAN_PSI: poison_f32 (set, first_psi_f32 (set), NAN); break;
    default: g_assert_not_reached ();
  }
}

void
synset_test_poison_file (const gchar *path, SynsetPoison poison)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  synset_test_poison (st, poison);
  g_assert_true (ncfm_safetensors_save (st, path, &error));
  g_assert_no_error (error);
}

gchar *
synset_test_file_hash (const gchar *path)
{
  g_autofree gchar *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) data, len);
}

void
synset_test_rm_tree (const gchar *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  for (const gchar *e; d && (e = g_dir_read_name (d));) {
    g_autofree gchar *p = g_build_filename (path, e, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      synset_test_rm_tree (p);
    else
      g_unlink (p);
  }
  g_clear_pointer (&d, g_dir_close);
  g_rmdir (path);
}
