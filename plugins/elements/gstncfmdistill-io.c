/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-io.c: ncfmdistill's synthetic-set file: the atomic save and
 * the checks on an existing file before resuming from it. */
#include "gstncfmdistill-private.h"

#include <stdlib.h>
#include <json-glib/json-glib.h>

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

gchar *
gst_ncfm_distill_class_names_json (NcfmDataset *ds)
{
  const guint k = ncfm_dataset_get_num_classes (ds);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < k; i++)
    json_builder_add_string_value (b, ncfm_dataset_get_class_name (ds, i));
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Writes the set, its AdamW state, psi's state and metadata atomically to
 * the location, once they pass the checks of a synthetic set. */
gboolean
gst_ncfm_distill_save (GstNcfmDistill *self)
{
  g_autoptr (GError) error = NULL;
  if (self->dp_follower) {     /* data parallel: rank 0 writes the set */
    self->saved_step = self->step;
    return TRUE;
  }
  ncfm_synset_set_step (self->synset, self->step);
  if (!ncfm_synset_save (self->synset, self->s_location, self->psi, &error)) {
    /* a non-finite value that got past the class steps' checks is never
     * written: the file keeps its last good save */
    if (error->domain == NCFM_SYNSET_ERROR)
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Step %" G_GUINT64_FORMAT ": not saving the "
              "synthetic set, which is no longer valid (%s keeps its last good save): %s",
              self->step, self->s_location, error->message), ("property location"));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Cannot save the synthetic set to %s: %s",
              self->s_location, error->message), ("property location"));
    return FALSE;
  }
  self->saved_step = self->step;
  GST_DEBUG_OBJECT (self, "saved step %" G_GUINT64_FORMAT " to %s", self->step,
      self->s_location);
  return TRUE;
}

gboolean
gst_ncfm_distill_meta_uint (NcfmSafetensors *st, const gchar *key, guint64 *out)
{
  const gchar *v = ncfm_safetensors_get_metadata (st, key);
  return v && g_ascii_string_to_unsigned (v, 10, 0, G_MAXUINT64, out, NULL);
}

/* The dataset property as an absolute path without symbolic links (it may
 * not exist: then as given, made absolute). */
gchar *
gst_ncfm_distill_dataset_path (const gchar *location)
{
  g_autofree gchar *real = realpath (location, NULL);
  return real ? g_strdup (real) : g_canonicalize_filename (location, NULL);
}

/* The file's class names as the JSON of gst_ncfm_distill_class_names_json(). */
static gchar *
file_class_names_json (NcfmSafetensors *st, const gchar *file)
{
  g_auto (GStrv) names = ncfm_synset_get_class_names (st, file, NULL);
  if (!names)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; names[i]; i++)
    json_builder_add_string_value (b, names[i]);
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* The file must come from the dataset of the dataset property: the same name,
 * class names and (when the file records it) path, unless allow-dataset-change. */
static gboolean
check_same_dataset (GstNcfmDistill *self, NcfmSafetensors *st)
{
  const gchar *file = self->s_location;
  const gchar *name = ncfm_safetensors_get_metadata (st, "ncfm.dataset");
  const gchar *path = ncfm_safetensors_get_metadata (st, "ncfm.dataset_path");
  g_autofree gchar *classes = file_class_names_json (st, file);
  const gchar *what = NULL;
  if (name && g_strcmp0 (name, self->ds_name) != 0)
    what = "name";
  else if (path && g_strcmp0 (path, self->ds_path) != 0)
    what = "path";
  else if (classes && g_strcmp0 (classes, self->ds_class_names) != 0)
    what = "class names";
  if (!what)
    return TRUE;
  if (self->s_allow_dataset_change) {
    GST_WARNING_OBJECT (self, "%s was distilled from dataset %s (%s), continuing it on %s (%s): "
        "allow-dataset-change is set", file, name ? name : "?", path ? path : "?",
        self->ds_name, self->ds_path);
    return TRUE;
  }
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s was distilled from dataset %s (%s, classes "
          "%s) but property dataset is %s (%s, classes %s): the %s differs; not resuming from (or "
          "overwriting) it", file, name ? name : "?", path ? path : "path not recorded",
          classes ? classes : "?", self->ds_name, self->ds_path, self->ds_class_names, what),
      ("set property allow-dataset-change=true to continue the set on the other dataset, or "
          "choose another location"));
  return FALSE;
}

/* The file at the location, when there is one, read and checked for
 * resuming (self->resume); FALSE with an error posted. */
gboolean
gst_ncfm_distill_open_resume (GstNcfmDistill *self)
{
  g_autoptr (GError) error = NULL;
  if (!g_file_test (self->s_location, G_FILE_TEST_EXISTS))
    return TRUE;
  self->resume = ncfm_safetensors_load (self->s_location, &error);
  if (!self->resume) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s exists but cannot be read: %s "
            "(not overwriting it)", self->s_location, error->message), ("property location"));
    return FALSE;
  }
  return gst_ncfm_distill_check_resume (self, self->resume);
}

/* A class shard resumes from its own shard's file only; a whole run from a
 * whole set (ncfm.class_shard absent). */
static gboolean
check_same_shard (GstNcfmDistill *self, NcfmSafetensors *st)
{
  const gchar *tag = ncfm_safetensors_get_metadata (st, "ncfm.class_shard");
  g_autofree gchar *mine = self->shard_count > 1
      ? g_strdup_printf ("%u/%u", self->shard_index, self->shard_count) : NULL;
  if (!g_strcmp0 (tag, mine))
    return TRUE;
  if (!mine) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s holds class shard %s of a run, not a whole "
            "set: not resuming from (or overwriting) it", self->s_location, tag),
        ("property location: a class-shard run writes one file per shard, its location has %%r "
            "(the shard index); ncfm-synset merge joins the shards into a whole set"));
    return FALSE;
  }
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s holds %s%s but this run distils class "
          "shard %s: not resuming from (or overwriting) it", self->s_location, tag ? "class shard "
          : "a whole set", tag ? tag : "", mine),
      ("property location; a shard's classes come from the source's shard-index, shard-count "
          "and class-shard (ncfm-synset merge joins shards into a whole set)"));
  return FALSE;
}

/* The existing file at start: it must be a valid synthetic set that agrees
 * with the properties and the dataset. */
gboolean
gst_ncfm_distill_check_resume (GstNcfmDistill *self, NcfmSafetensors *st)
{
  g_autoptr (GError) error = NULL;
  const gchar *file = self->s_location;
  const gchar *fmt = ncfm_safetensors_get_metadata (st, "ncfm.format");
  guint64 ipc = 0, factor = 0, step = 0;
  if (g_strcmp0 (fmt, "synset") != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s exists and is not a synthetic set "
            "(ncfm.format %s): not overwriting it", file, fmt ? fmt : "(missing)"),
        ("property location"));
    return FALSE;
  }
  if (!ncfm_synset_validate (st, file, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot resume from %s, not overwriting it: "
            "%s", file, error->message), ("property location"));
    return FALSE;
  }
  if (!gst_ncfm_distill_meta_uint (st, "ncfm.ipc", &ipc) || !gst_ncfm_distill_meta_uint (st, "ncfm.factor", &factor)
      || !gst_ncfm_distill_meta_uint (st, "ncfm.step", &step)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s lacks ncfm.ipc, ncfm.factor or ncfm.step: "
            "not resuming from (or overwriting) it", file), ("property location"));
    return FALSE;
  }
  if (ipc != self->s_ipc) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property ipc is %u but %s was distilled "
            "with ipc %" G_GUINT64_FORMAT, self->s_ipc, file, ipc),
        ("set ipc=%" G_GUINT64_FORMAT " to resume, or another location", ipc));
    return FALSE;
  }
  if (factor != self->s_factor) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property factor is %u but %s was distilled "
            "with factor %" G_GUINT64_FORMAT, self->s_factor, file, factor),
        ("set factor=%" G_GUINT64_FORMAT " to resume, or another location", factor));
    return FALSE;
  }
  gint64 shape[NCFM_MAX_DIMS];
  guint nd = 0;
  NcfmDType dt;
  if (!ncfm_safetensors_get_info (st, "images", &dt, &nd, shape, &error) || dt != NCFM_DTYPE_F32
      || nd != 4) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s has no F32 [N,C,H,W] images%s%s", file,
            error ? ": " : "", error ? error->message : ""), ("property location"));
    return FALSE;
  }
  if (shape[1] != self->c || shape[2] != self->h || shape[3] != self->w) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Image shape of %s is [%" G_GINT64_FORMAT
            ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "] but the dataset (property dataset) "
            "has [%u,%u,%u]", file, shape[1], shape[2], shape[3], self->c, self->h, self->w),
        (NULL));
    return FALSE;
  }
  if (!check_same_shard (self, st))
    return FALSE;
  /* a class shard holds classes index, index + count, ... */
  const guint held = (self->k - self->shard_index + self->shard_count - 1) / self->shard_count;
  if (shape[0] != (gint64) held * self->s_ipc) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s holds %" G_GINT64_FORMAT " images, which is "
            "not ipc %u x %u classes of the dataset (property dataset)", file, shape[0],
            self->s_ipc, held), (NULL));
    return FALSE;
  }
  if (!check_same_dataset (self, st))
    return FALSE;
  GST_INFO_OBJECT (self, "resuming from %s at step %" G_GUINT64_FORMAT, file, step);
  return TRUE;
}
