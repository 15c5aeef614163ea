/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-synset-shard.c: class shards of a synthetic set (a run over N ranks,
 * rank r distilling classes r, r + N, ...) and their merge into one set,
 * bitwise equal to the set one process would have written.
 *
 * A shard is a valid synthetic set with the whole ncfm.class_names, holding
 * the images (and AdamW moments) of its classes only, labelled with their
 * class ids in the whole set; adamw.step keeps one entry per class of the
 * whole set, 0 for the classes of other shards; metadata ncfm.class_shard
 * says "INDEX/COUNT".  A merge reads the classes a shard holds from its
 * labels, so it joins any partition of the classes. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-synset-shard.h"
#include "ncfm-synset.h"
#include "ncfm-dataset-private.h"

#include <string.h>

#define SHARD_KEY "ncfm.class_shard"

/* The tensors with one row per stored image. */
static const gchar *const row_tensors[] = { "images", "adamw.m", "adamw.v", NULL };

static gboolean
fail (GError **error, NcfmSynsetError code, const gchar *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, NcfmSynsetError code, const gchar *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, NCFM_SYNSET_ERROR, code, msg);
  return FALSE;
}

/* A validated set's image count, class names and labels. */
typedef struct {
  NcfmSafetensors *set;     /* borrowed */
  const gchar *name;
  gint64 shape[NCFM_MAX_DIMS];
  gchar **class_names;
  guint n_classes;
  gint64 *labels;
} Shard;

static void
shard_clear (Shard *s)
{
  g_strfreev (s->class_names);
  g_free (s->labels);
}

static gboolean
shard_read (Shard *s, NcfmSafetensors *set, const gchar *name, GError **error)
{
  s->set = set;
  s->name = name;
  if (!ncfm_synset_validate (set, name, error))
    return FALSE;
  ncfm_safetensors_get_info (set, "images", NULL, NULL, s->shape, NULL);
  s->class_names = ncfm_synset_get_class_names (set, name, NULL);
  if (!s->class_names)
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, "%s: no metadata ncfm.class_names, which "
        "says which classes a shard holds", name);
  s->n_classes = g_strv_length (s->class_names);
  s->labels = ncfm_synset_read_labels (set, name, s->shape[0], s->n_classes, error);
  return s->labels != NULL;
}

static gsize
row_bytes (const Shard *s)
{
  return (gsize) s->shape[1] * s->shape[2] * s->shape[3] * sizeof (gfloat);
}

/* Output row i is row rows[i] of shard from[i]: images, adamw.m, adamw.v and
 * the labels (I64), into out. */
static void
gather_rows (NcfmSafetensors *out, const Shard *shards, const guint *from, const gint64 *rows,
    gint64 n)
{
  const gsize rb = row_bytes (&shards[0]);
  gint64 shape[4] = { n, shards[0].shape[1], shards[0].shape[2], shards[0].shape[3] };
  g_autofree guint8 *buf = g_malloc (MAX (rb * n, 1));
  for (guint t = 0; row_tensors[t]; t++) {
    if (!ncfm_safetensors_contains (shards[0].set, row_tensors[t]))
      continue;
    for (gint64 i = 0; i < n; i++) {
      const guint8 *src = ncfm_safetensors_peek (shards[from[i]].set, row_tensors[t], NULL,
          NULL, NULL);
      memcpy (buf + rb * i, src + rb * rows[i], rb);
    }
    ncfm_safetensors_set (out, row_tensors[t], NCFM_DTYPE_F32, shape, 4, buf, rb * n);
  }
  g_autofree gint64 *labels = g_new (gint64, MAX (n, 1));
  for (gint64 i = 0; i < n; i++)
    labels[i] = GINT64_TO_LE (shards[from[i]].labels[rows[i]]);
  ncfm_safetensors_set (out, "labels", NCFM_DTYPE_I64, &n, 1, labels, n * sizeof (gint64));
}

/* adamw.step [K]: entry c from the set owner[c] (kept as 0 when owner[c] is
 * -1). */
static void
gather_steps (NcfmSafetensors *out, const Shard *shards, const gint *owner, guint k)
{
  if (!ncfm_safetensors_contains (shards[0].set, "adamw.step"))
    return;
  g_autofree gint64 *steps = g_new0 (gint64, MAX (k, 1));
  for (guint c = 0; c < k; c++)
    if (owner[c] >= 0)
      memcpy (steps + c, (const gint64 *) ncfm_safetensors_peek (shards[owner[c]].set,
              "adamw.step", NULL, NULL, NULL) + c, sizeof (gint64));
  const gint64 kshape[1] = { k };
  ncfm_safetensors_set (out, "adamw.step", NCFM_DTYPE_I64, kshape, 1, steps, k * sizeof (gint64));
}

static gboolean
is_row_state (const gchar *tensor)
{
  return g_strv_contains (row_tensors, tensor) || !strcmp (tensor, "labels")
      || !strcmp (tensor, "adamw.step");
}

/* Copies tensor name of src into out as it is. */
static void
copy_tensor (NcfmSafetensors *out, NcfmSafetensors *src, const gchar *name)
{
  NcfmDType dt;
  guint nd = 0;
  gint64 shape[NCFM_MAX_DIMS];
  gsize nb = 0;
  ncfm_safetensors_get_info (src, name, &dt, &nd, shape, NULL);
  gconstpointer data = ncfm_safetensors_peek (src, name, NULL, &nb, NULL);
  ncfm_safetensors_set (out, name, dt, shape, nd, data, nb);
}

/* Metadata of src into out, except ncfm.class_shard (and psi.* unless
 * with_psi); every tensor that is not per image or per class (psi.* only if
 * with_psi). */
static void
copy_rest (NcfmSafetensors *out, NcfmSafetensors *src, gboolean with_psi)
{
  g_auto (GStrv) keys = ncfm_safetensors_list_metadata_keys (src);
  for (guint i = 0; keys[i]; i++)
    if (strcmp (keys[i], SHARD_KEY) != 0 && (with_psi || !g_str_has_prefix (keys[i], "psi.")))
      ncfm_safetensors_set_metadata (out, keys[i], ncfm_safetensors_get_metadata (src, keys[i]));
  g_auto (GStrv) names = ncfm_safetensors_list_names (src);
  for (guint i = 0; names[i]; i++)
    if (!is_row_state (names[i]) && (with_psi || !g_str_has_prefix (names[i], "psi.")))
      copy_tensor (out, src, names[i]);
}

/**
 * ncfm_synset_shard_split:
 * @set: a synthetic set
 * @name: its file name, for messages
 * @index: the shard, in [0, @count)
 * @count: the number of shards (ranks)
 * @error: return location for a #GError (%NCFM_SYNSET_ERROR)
 *
 * The class shard @index of @count of @set: the classes @index,
 * @index + @count, ... with their images, labels and AdamW moments; the
 * per-class AdamW steps of the other classes set to 0; every other tensor
 * (the learned sampler's psi.*) and all metadata as in @set, plus
 * ncfm.class_shard "@index/@count".  The shard of rank r of a run over
 * @count ranks, and the input of ncfm_synset_merge().
 *
 * Returns: (transfer full) (nullable): the shard, or %NULL with @error set
 *   (an invalid @set, or a shard that would hold no class)
 */
NcfmSafetensors *
ncfm_synset_shard_split (NcfmSafetensors *set, const gchar *name, guint index, guint count,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (set), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  Shard s = { 0 };
  if (!shard_read (&s, set, name, error)) {
    shard_clear (&s);
    return NULL;
  }
  if (count == 0 || index >= count || index >= s.n_classes) {
    fail (error, NCFM_SYNSET_ERROR_VALUE, "%s: class shard %u of %u holds no class (the set "
        "has %u)", name, index, count, s.n_classes);
    shard_clear (&s);
    return NULL;
  }
  g_autofree gint64 *rows = g_new (gint64, s.shape[0]);
  g_autofree guint *from = g_new0 (guint, s.shape[0]);
  gint64 n = 0;
  for (gint64 i = 0; i < s.shape[0]; i++)
    if (s.labels[i] % count == index)
      rows[n++] = i;
  g_autofree gint *owner = g_new (gint, s.n_classes);
  for (guint c = 0; c < s.n_classes; c++)
    owner[c] = c % count == index ? 0 : -1;
  NcfmSafetensors *out = ncfm_safetensors_new ();
  gather_rows (out, &s, from, rows, n);
  gather_steps (out, &s, owner, s.n_classes);
  copy_rest (out, set, TRUE);
  g_autofree gchar *tag = g_strdup_printf ("%u/%u", index, count);
  ncfm_safetensors_set_metadata (out, SHARD_KEY, tag);
  shard_clear (&s);
  return out;
}

/* Metadata key by key (ncfm.class_shard aside; psi.* only when with_psi). */
static gboolean
same_metadata (const Shard *a, const Shard *b, gboolean with_psi, const gchar **key)
{
  for (guint pass = 0; pass < 2; pass++) {
    g_auto (GStrv) keys = ncfm_safetensors_list_metadata_keys (pass ? b->set : a->set);
    for (guint i = 0; keys[i]; i++) {
      if (!strcmp (keys[i], SHARD_KEY) || (!with_psi) != !g_str_has_prefix (keys[i], "psi."))
        continue;
      if (g_strcmp0 (ncfm_safetensors_get_metadata (a->set, keys[i]),
              ncfm_safetensors_get_metadata (b->set, keys[i])) != 0) {
        *key = g_intern_string (keys[i]);
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* The same dtype, shape and bytes, or both absent. */
static gboolean
same_tensor (NcfmSafetensors *a, NcfmSafetensors *b, const gchar *name)
{
  NcfmDType da, db;
  guint na = 0, nb = 0;
  gint64 sa[NCFM_MAX_DIMS], sb[NCFM_MAX_DIMS];
  const gboolean ha = ncfm_safetensors_get_info (a, name, &da, &na, sa, NULL);
  const gboolean hb = ncfm_safetensors_get_info (b, name, &db, &nb, sb, NULL);
  if (!ha || !hb)
    return ha == hb;
  gsize la = 0, lb = 0;
  gconstpointer pa = ncfm_safetensors_peek (a, name, NULL, &la, NULL);
  gconstpointer pb = ncfm_safetensors_peek (b, name, NULL, &lb, NULL);
  return da == db && na == nb && !memcmp (sa, sb, na * sizeof (gint64)) && la == lb
      && !memcmp (pa, pb, la);
}

/* Every tensor of a or b that matches psi (psi.* or not) is the same in both;
 * else *tensor names the first that differs. */
static gboolean
same_tensors (const Shard *a, const Shard *b, gboolean psi, const gchar **tensor)
{
  for (guint pass = 0; pass < 2; pass++) {
    g_auto (GStrv) names = ncfm_safetensors_list_names (pass ? b->set : a->set);
    for (guint i = 0; names[i]; i++) {
      if ((!psi) != !g_str_has_prefix (names[i], "psi.") || is_row_state (names[i]))
        continue;
      if (!same_tensor (a->set, b->set, names[i])) {
        *tensor = g_intern_string (names[i]);
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* Shard b against shard a (the first): the same metadata (the shard tag and
 * psi aside), image shape, optimiser state and other tensors. */
static gboolean
check_agree (const Shard *a, const Shard *b, GError **error)
{
  const gchar *key = NULL;
  if (!same_metadata (a, b, FALSE, &key)) {
    const gchar *va = ncfm_safetensors_get_metadata (a->set, key);
    const gchar *vb = ncfm_safetensors_get_metadata (b->set, key);
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, "%s and %s disagree on metadata %s (%s%s%s "
        "vs %s%s%s): not shards of one run", a->name, b->name, key, va ? "\"" : "",
        va ? va : "missing", va ? "\"" : "", vb ? "\"" : "", vb ? vb : "missing", vb ? "\"" : "");
  }
  if (memcmp (a->shape + 1, b->shape + 1, 3 * sizeof (gint64)) != 0)
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, "%s and %s disagree on tensor images: [C, H, "
        "W] = [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] vs [%"
        G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", a->name, b->name,
        a->shape[1], a->shape[2], a->shape[3], b->shape[1], b->shape[2], b->shape[3]);
  const gchar *state[] = { "adamw.m", "adamw.step" };
  for (guint i = 0; i < G_N_ELEMENTS (state); i++)
    if (ncfm_safetensors_contains (a->set, state[i])
        != ncfm_safetensors_contains (b->set, state[i]))
      return fail (error, NCFM_SYNSET_ERROR_TENSOR, "%s and %s disagree on tensor %s: only one "
          "holds it", a->name, b->name, state[i]);
  const gchar *tensor = NULL;
  if (!same_tensors (a, b, FALSE, &tensor))
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, "%s and %s disagree on tensor %s", a->name,
        b->name, tensor);
  return TRUE;
}

/* owner[c]: the shard holding class c; an overlap or a class no shard holds
 * is an error. */
static gboolean
assign_classes (const Shard *shards, guint n, gint *owner, GError **error)
{
  const guint k = shards[0].n_classes;
  for (guint c = 0; c < k; c++)
    owner[c] = -1;
  for (guint s = 0; s < n; s++)
    for (gint64 i = 0; i < shards[s].shape[0]; i++) {
      const gint64 c = shards[s].labels[i];
      if (owner[c] >= 0 && (guint) owner[c] != s)
        return fail (error, NCFM_SYNSET_ERROR_LABELS, "%s and %s both hold class %" G_GINT64_FORMAT
            " \"%s\": the shards overlap", shards[owner[c]].name, shards[s].name, c,
            shards[0].class_names[c]);
      owner[c] = (gint) s;
    }
  for (guint c = 0; c < k; c++)
    if (owner[c] < 0)
      return fail (error, NCFM_SYNSET_ERROR_LABELS, "No shard holds class %u \"%s\" (%u "
          "shards given, %s first): a shard is missing", c, shards[0].class_names[c], n,
          shards[0].name);
  return TRUE;
}

/**
 * ncfm_synset_merge:
 * @shards: (array length=n_shards): the class shards of one run
 * @names: (array length=n_shards): their file names, for messages
 * @n_shards: how many, at least 1
 * @flags: (out) (optional): what was done beyond joining the classes
 * @error: return location for a #GError (%NCFM_SYNSET_ERROR)
 *
 * Joins class shards (ncfm_synset_shard_split(), or the sets of a run over
 * several ranks) into one set: the classes in order, each with its shard's
 * images, labels, AdamW moments and step, so that the merged set resumes
 * exactly and equals (once saved, byte for byte) the set the shards were
 * split from.  The shards must be valid sets that agree on every metadata
 * key but ncfm.class_shard (dataset name and path, class names, ipc,
 * factor, mean and std, the method's hyperparameters, step...), on the image
 * shape and on every tensor that is neither per image nor per class, and
 * together hold each class exactly once.  The learned sampler's state
 * (psi.*) is kept when it is the same in every shard; otherwise the merged
 * set holds none (a resumed run starts psi afresh) and @flags says
 * %NCFM_SYNSET_MERGE_PSI_DROPPED.
 *
 * Returns: (transfer full) (nullable): the merged set, or %NULL with @error
 *   set naming the two files and the field or class at fault
 */
NcfmSafetensors *
ncfm_synset_merge (NcfmSafetensors **shards, const gchar *const *names, guint n_shards,
    NcfmSynsetMergeFlags *flags, GError **error)
{
  g_return_val_if_fail (shards != NULL && names != NULL && n_shards > 0, NULL);
  g_autofree Shard *s = g_new0 (Shard, n_shards);
  NcfmSafetensors *out = NULL;
  g_autofree gint *owner = NULL;
  g_autofree gint64 *rows = NULL;
  g_autofree guint *from = NULL;
  gboolean with_psi = TRUE;
  for (guint i = 0; i < n_shards; i++) {
    const gchar *tensor = NULL, *key = NULL;
    if (!shard_read (&s[i], shards[i], names[i], error) || (i && !check_agree (&s[0], &s[i],
                error)))
      goto out;
    if (i && (!same_tensors (&s[0], &s[i], TRUE, &tensor)
            || !same_metadata (&s[0], &s[i], TRUE, &key)))
      with_psi = FALSE;
  }
  const guint k = s[0].n_classes;
  owner = g_new (gint, k);
  if (!assign_classes (s, n_shards, owner, error))
    goto out;
  gint64 n = 0, at = 0;
  for (guint i = 0; i < n_shards; i++)
    n += s[i].shape[0];
  rows = g_new (gint64, n);
  from = g_new (guint, n);
  for (guint c = 0; c < k; c++) {
    const Shard *o = &s[owner[c]];
    for (gint64 i = 0; i < o->shape[0]; i++)
      if (o->labels[i] == c) {
        from[at] = (guint) owner[c];
        rows[at++] = i;
      }
  }
  out = ncfm_safetensors_new ();
  gather_rows (out, s, from, rows, n);
  gather_steps (out, s, owner, k);
  copy_rest (out, s[0].set, with_psi);
  if (flags)
    *flags = with_psi ? NCFM_SYNSET_MERGE_NONE : NCFM_SYNSET_MERGE_PSI_DROPPED;
  if (!ncfm_synset_validate (out, "the merged set", error))
    g_clear_object (&out);
out:
  for (guint i = 0; i < n_shards; i++)
    shard_clear (&s[i]);
  return out;
}
