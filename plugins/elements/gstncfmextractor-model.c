/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmextractor-model.c: where an extractor's models come from: a weights
 * file or a model pool opened at start, then once per rotation the file's
 * model, a pool member blended with its initial weights
 * (ncfm_model_new_blend), or a fresh random init.  The draws depend only on
 * the seed property and the rotation index. */
#include "gstncfmextractor-private.h"

#include "gstncfmmeta.h"

#define FALLBACK_NUM_CLASSES 10

/* Reads @path and checks that all its tensors are finite: a NaN weight hides
 * in the forward pass and poisons the synthetic set through the backward. */
static gboolean
check_file (const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  return file && ncfm_safetensors_check_finite (file, error);
}

/* Checks every member of the pool at start, rather than when a rotation
 * first draws it, so that a bad member stops the run before any step. */
static gboolean
check_members (const gchar *dir, guint n_members, gboolean blend, GError **error)
{
  for (guint k = 0; k < n_members; k++) {
    for (guint j = 0; j < (blend ? 2u : 1u); j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      if (!check_file (path, error))
        return FALSE;
    }
  }
  return TRUE;
}

/* The pool members premodel0 .. premodel{K-1} present in @dir (init needed only to blend). */
static guint
count_members (const gchar *dir, gboolean blend)
{
  for (guint k = 0;; k++) {
    g_autofree gchar *t = g_strdup_printf ("%s/premodel%u_trained.safetensors", dir, k);
    g_autofree gchar *i = g_strdup_printf ("%s/premodel%u_init.safetensors", dir, k);
    if (!g_file_test (t, G_FILE_TEST_IS_REGULAR)
        || (blend && !g_file_test (i, G_FILE_TEST_IS_REGULAR)))
      return k;
  }
}

/* Rows of the classifier in a weights file, 0 if it has none. */
static guint
classes_in_file (GstNcfmExtractor *self, NcfmSafetensors *file)
{
  const gchar *name = GST_NCFM_EXTRACTOR_GET_CLASS (self)->classifier_weight;
  g_autofree gchar *prefixed = g_strconcat ("module.", name, NULL);
  const gchar *names[] = { name, prefixed };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    guint nd = 0;
    g_autofree gint64 *shape = ncfm_safetensors_contains (file, names[i])
        ? ncfm_safetensors_get_shape (file, names[i], &nd, NULL) : NULL;
    if (shape && nd == 2 && shape[0] > 0 && shape[0] <= G_MAXINT)
      return (guint) shape[0];
  }
  return 0;
}

/* num-classes, else the weights' classifier, else the batch meta, else 10. */
static guint
resolve_num_classes (GstNcfmExtractor *self, NcfmSafetensors *file, GstBuffer *inbuf)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  guint n = priv->num_classes;
  if (!n && file)
    n = classes_in_file (self, file);
  NcfmBatchMeta *batch = gst_buffer_get_ncfm_batch_meta (inbuf);
  if (!n && batch)
    n = batch->num_classes;
  return n ? n : FALLBACK_NUM_CLASSES;
}

static NcfmModel *
new_model (GstNcfmExtractor *self, NcfmDevice *dev, guint classes, guint64 seed, GError **error)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  GstNcfmExtractorClass *klass = GST_NCFM_EXTRACTOR_GET_CLASS (self);
  guint depth, width;
  NcfmNorm norm;
  GST_OBJECT_LOCK (self);
  klass->model_settings (self, &depth, &width, &norm);
  GST_OBJECT_UNLOCK (self);
  return ncfm_model_new_for_architecture (klass->architecture, dev, priv->in_c, priv->in_h,
      priv->in_w, classes, depth, width, norm, seed, error);
}

/* A model of the element's architecture with the weights of @file. */
static NcfmModel *
model_from_file (GstNcfmExtractor *self, NcfmDevice *dev, NcfmSafetensors *file, guint classes,
    GError **error)
{
  g_autoptr (NcfmModel) m = new_model (self, dev, classes, 0, error);
  if (!m || !ncfm_model_load_safetensors (m, file, error))
    return NULL;
  return g_steal_pointer (&m);
}

static NcfmModel *
member_from_pool (GstNcfmExtractor *self, NcfmDevice *dev, guint k, const gchar *which,
    GstBuffer *inbuf, GError **error)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k, which);
  /* a member is read once per run: rotations draw the same K members again and
   * again, and reading and checking two files each time cost more than the
   * step's calibration (the models are frozen: rotations may share them) */
  NcfmModel *cached = priv->member_cache ? g_hash_table_lookup (priv->member_cache, name) : NULL;
  if (cached && ncfm_model_get_device (cached) == dev)
    return g_object_ref (cached);
  g_autofree gchar *path = g_build_filename (priv->pool, name, NULL);
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  if (!file)
    return NULL;
  NcfmModel *m = model_from_file (self, dev, file, resolve_num_classes (self, file, inbuf), error);
  if (!m)
    return NULL;
  ncfm_model_set_frozen (m, TRUE);
  if (!priv->member_cache)
    priv->member_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  g_hash_table_replace (priv->member_cache, g_steal_pointer (&name), g_object_ref (m));
  return m;
}

/* One pool rotation: member k ~ U{0..K-1}, lambda ~ U(0,1), drawn from (seed, rotation). */
static gboolean
pool_rotation (GstNcfmExtractor *self, NcfmDevice *dev, GstBuffer *inbuf, guint64 rotation,
    GError **error)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  const guint64 s = ncfm_mix64 (priv->seed ^ ncfm_mix64 (rotation));
  guint32 seeds[2] = { (guint32) s, (guint32) (s >> 32) };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  const guint k = (guint) g_rand_int_range (rand, 0, (gint32) priv->n_members);
  const gdouble lam = priv->blend ? g_rand_double (rand) : 0.0;
  g_autoptr (NcfmModel) trained = member_from_pool (self, dev, k, "trained", inbuf, error);
  if (!trained)
    return FALSE;
  g_autoptr (NcfmModel) model = NULL;
  if (priv->blend) {
    g_autoptr (NcfmModel) init = member_from_pool (self, dev, k, "init", inbuf, error);
    if (!init || !(model = ncfm_model_new_blend (init, trained, lam, error)))
      return FALSE;
  } else {
    model = g_object_ref (trained);
  }
  g_set_object (&priv->model, model);
  g_set_object (&priv->trained, trained);
  priv->member = (gint) k;
  priv->lambda = lam;
  return TRUE;
}

/* Makes the model of @rotation on @dev (a new object: pushed models never
 * change); posts the error itself. */
gboolean
gst_ncfm_extractor_build_model (GstNcfmExtractor *self, NcfmDevice *dev, GstBuffer *inbuf,
    guint64 rotation)
{
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  const gchar *arch = GST_NCFM_EXTRACTOR_GET_CLASS (self)->model_name;
  g_autoptr (GError) error = NULL;
  g_clear_object (&priv->model);
  g_clear_object (&priv->trained);
  priv->member = -1;
  priv->lambda = -1.0;
  if (priv->weights_file) {
    const guint classes = resolve_num_classes (self, priv->weights_file, inbuf);
    priv->model = model_from_file (self, dev, priv->weights_file, classes, &error);
    if (!priv->model) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the weights \"%s\" (property weights): %s", priv->weights,
              error->message), ("a %s of the element's properties", arch));
      return FALSE;
    }
  } else if (priv->n_members > 0) {
    if (!pool_rotation (self, dev, inbuf, rotation, &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the model pool \"%s\" (property pool): %s", priv->pool, error->message),
          ("a %s of the element's properties", arch));
      return FALSE;
    }
  } else {
    const guint classes = resolve_num_classes (self, NULL, inbuf);
    priv->model = new_model (self, dev, classes, ncfm_mix64 (priv->seed ^ ncfm_mix64 (rotation)), &error);
    if (!priv->model) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot build a %s: %s", arch,
              error->message), ("the element's model properties and num-classes"));
      return FALSE;
    }
  }
  /* handed to the distiller in the meta: from now on only read, from two threads */
  ncfm_model_set_frozen (priv->model, TRUE);
  if (priv->trained)
    ncfm_model_set_frozen (priv->trained, TRUE);
  priv->model_rotation = rotation;
  GST_DEBUG_OBJECT (self, "rotation %" G_GUINT64_FORMAT ": %s %p, member %d, lambda %f",
      rotation, arch, (gpointer) priv->model, priv->member, priv->lambda);
  return TRUE;
}

/* Opens the weights file or counts the pool members; the device to insist on. */
gboolean
gst_ncfm_extractor_start (GstBaseTransform *trans)
{
  GstNcfmExtractor *self = GST_NCFM_EXTRACTOR (trans);
  GstNcfmExtractorPrivate *priv = gst_ncfm_extractor_get_priv (self);
  g_autoptr (GError) error = NULL;
  GST_OBJECT_LOCK (self);
  g_autofree gchar *device = g_strdup (priv->device ? priv->device : g_getenv ("NCFM_DEVICE"));
  g_autofree gchar *weights = g_strdup (priv->weights);
  g_autofree gchar *pool = g_strdup (priv->pool);
  const gboolean blend = priv->blend;
  const gboolean have_weights = weights && *weights;
  const gboolean have_pool = pool && *pool;
  GST_OBJECT_UNLOCK (self);

  if (have_weights && have_pool) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Set either weights or pool, not both."),
        ("weights \"%s\", pool \"%s\"", weights, pool));
    return FALSE;
  }
  g_autoptr (NcfmDevice) want = NULL;
  if (device && *device && g_ascii_strcasecmp (device, "auto") != 0) {
    want = ncfm_device_new (device, &error);
    if (!want) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use device \"%s\" (property device): %s", device, error->message), (NULL));
      return FALSE;
    }
  }
  g_autoptr (NcfmSafetensors) file = NULL;
  if (have_weights && (!(file = ncfm_safetensors_load (weights, &error))
          || !ncfm_safetensors_check_finite (file, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Cannot use the weights file \"%s\" (property weights): %s", weights,
            error->message), (NULL));
    return FALSE;
  }
  guint members = 0;
  if (have_pool && !(members = count_members (pool, blend))) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("The model pool \"%s\" (property pool) holds no premodel0_trained.safetensors%s",
            pool, blend ? " and premodel0_init.safetensors" : ""), (NULL));
    return FALSE;
  }
  if (have_pool && !check_members (pool, members, blend, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot use the model pool \"%s\" (property "
            "pool): %s", pool, error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "weights: %s; device %s", have_weights ? weights
      : have_pool ? "pool" : "random per rotation", want ? ncfm_device_get_name (want) : "of the input");
  if (have_pool)
    GST_INFO_OBJECT (self, "pool %s: %u members, blend %d", pool, members, blend);

  GST_OBJECT_LOCK (self);
  priv->import_device = want ? g_object_ref (want) : NULL;
  priv->want_device = g_steal_pointer (&want);
  priv->weights_file = g_steal_pointer (&file);
  priv->n_members = members;
  priv->activations = ncfm_activations_new ();
  priv->n_buffers = 0;
  priv->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}
