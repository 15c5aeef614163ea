/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-model-io.c: the weights of any NcfmModel to and from safetensors,
 * under PyTorch's names (a `module.` prefix from multi-GPU training is
 * stripped), with the architecture and its configuration in the metadata;
 * rebuilding a model from that metadata; copying and blending (model pools). */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-model-private.h"
#include "ncfm-finite-private.h"
#include "ncfm-ops.h"

#include <string.h>

#define PRIV(self) ncfm_model_private (self)

/* The file a #NcfmSafetensors came from, for messages. */
const gchar *
ncfm_model_file_name (NcfmSafetensors *file)
{
  const gchar *n = ncfm_safetensors_get_path (file);
  return n ? n : "weights";
}

/* "ConvNet-3 (width 128, instancenorm, 10 classes)", for messages. */
gchar *
ncfm_model_describe (NcfmModel *self)
{
  NcfmModelPrivate *p = PRIV (self);
  return g_strdup_printf ("%s-%u (width %u, %s, %u classes)", ncfm_model_title (self),
      p->depth, p->net_width, ncfm_norm_to_string (p->norm), p->num_classes);
}

/**
 * ncfm_model_load_safetensors:
 * @self: a #NcfmModel
 * @file: weights with PyTorch's names (an optional `module.` prefix is stripped)
 * @error: return location for a #GError
 *
 * Loads every parameter and buffer (BatchNorm running statistics; a
 * `num_batches_tracked` counter is accepted and ignored).  A missing tensor,
 * a shape that does not fit, a tensor the model does not have or a value
 * that is not finite is an error naming the file and the tensor.
 *
 * Returns: %TRUE on success; on error the model is unchanged
 */
gboolean
ncfm_model_load_safetensors (NcfmModel *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (file), FALSE);
  NcfmModelPrivate *priv = PRIV (self);
  const gchar *fname = ncfm_model_file_name (file);
  g_auto (GStrv) names = ncfm_safetensors_list_names (file);
  for (guint i = 0; names[i]; i++) {
    const gchar *n = g_str_has_prefix (names[i], "module.") ? names[i] + 7 : names[i];
    if (ncfm_model_find_parameter (self, n)
        || (priv->norm == NCFM_NORM_BATCH && g_str_has_suffix (n, ".num_batches_tracked")))
      continue;
    g_autofree gchar *what = ncfm_model_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: tensor '%s' is not a parameter of a %s", fname, names[i], what);
    return FALSE;
  }
  /* everything to the host first, so a failure leaves the model as it was */
  g_autoptr (GPtrArray) staged = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < priv->params->len; i++) {
    NcfmModelParam *p = g_ptr_array_index (priv->params, i);
    g_autofree gchar *prefixed = g_strconcat ("module.", p->name, NULL);
    const gchar *key = ncfm_safetensors_contains (file, p->name) ? p->name
        : ncfm_safetensors_contains (file, prefixed) ? prefixed : NULL;
    if (!key) {
      g_autofree gchar *what = ncfm_model_describe (self);
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "%s: tensor '%s' is missing (a %s needs it)", fname, p->name, what);
      return FALSE;
    }
    guint nd;
    const gint64 *shape = ncfm_tensor_get_shape (p->value, &nd);
    gfloat *host = g_new (gfloat, MAX (ncfm_tensor_get_numel (p->value), 1));
    g_ptr_array_add (staged, host);
    if (!ncfm_safetensors_read_f32 (file, key, shape, nd, host, error)
        || !ncfm_check_finite_f32 (host, (gsize) ncfm_tensor_get_numel (p->value), fname, key,
            error))
      return FALSE;
  }
  for (guint i = 0; i < priv->params->len; i++) {
    NcfmModelParam *p = g_ptr_array_index (priv->params, i);
    ncfm_tensor_set_data (p->value, staged->pdata[i], ncfm_tensor_get_n_bytes (p->value), NULL);
  }
  return TRUE;
}

/**
 * ncfm_model_to_safetensors:
 * @self: a #NcfmModel
 *
 * Returns: (transfer full): the weights under PyTorch's names, with the
 *   architecture (`ncfm.arch`) and its configuration in the metadata, so
 *   ncfm_model_new_from_safetensors() can rebuild the model
 */
NcfmSafetensors *
ncfm_model_to_safetensors (NcfmModel *self)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  NcfmModelPrivate *priv = PRIV (self);
  NcfmSafetensors *file = ncfm_safetensors_new ();
  for (guint i = 0; i < priv->params->len; i++) {
    NcfmModelParam *p = g_ptr_array_index (priv->params, i);
    ncfm_tensor_to_safetensors (p->value, file, p->name);
    if (g_str_has_suffix (p->name, ".running_var")) {
      /* PyTorch's strict load_state_dict wants the counter too */
      g_autofree gchar *base = g_strndup (p->name, strlen (p->name) - strlen ("running_var"));
      g_autofree gchar *nbt = g_strconcat (base, "num_batches_tracked", NULL);
      ncfm_safetensors_set (file, nbt, NCFM_DTYPE_I64, NULL, 0, &priv->num_batches_tracked,
          sizeof (gint64));
    }
  }
  const struct { const gchar *key; guint value; } meta[] = {
    { "ncfm.in_channels", priv->in_channels }, { "ncfm.height", priv->height },
    { "ncfm.width", priv->width }, { "ncfm.num_classes", priv->num_classes },
    { "ncfm.depth", priv->depth }, { "ncfm.net_width", priv->net_width },
  };
  ncfm_safetensors_set_metadata (file, "ncfm.arch", ncfm_model_get_architecture (self));
  ncfm_safetensors_set_metadata (file, "ncfm.norm", ncfm_norm_to_string (priv->norm));
  for (guint i = 0; i < G_N_ELEMENTS (meta); i++) {
    g_autofree gchar *v = g_strdup_printf ("%u", meta[i].value);
    ncfm_safetensors_set_metadata (file, meta[i].key, v);
  }
  return file;
}

/**
 * ncfm_model_save:
 * @self: a #NcfmModel
 * @path: destination, written atomically
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_save (NcfmModel *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_model_to_safetensors (self);
  return file && ncfm_safetensors_save (file, path, error);
}

/**
 * ncfm_model_load:
 * @self: a #NcfmModel
 * @path: a safetensors file
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; on error the model is unchanged
 */
gboolean
ncfm_model_load (NcfmModel *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  return file && ncfm_model_load_safetensors (self, file, error);
}

static gboolean
meta_uint (NcfmSafetensors *file, const gchar *key, guint *out, GError **error)
{
  const gchar *v = ncfm_safetensors_get_metadata (file, key);
  guint64 n;
  if (!v || !g_ascii_string_to_unsigned (v, 10, 1, G_MAXUINT, &n, NULL)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%s' is %s (expected a positive integer; was the file written by "
        "ncfm_model_save?)", ncfm_model_file_name (file), key, v ? v : "missing");
    return FALSE;
  }
  *out = (guint) n;
  return TRUE;
}

/* A model of @type (which the file's `ncfm.arch` must name) in the
 * configuration of the file's metadata, with the file's weights. */
NcfmModel *
ncfm_model_new_of_type_from_safetensors (GType type, NcfmDevice *device, NcfmSafetensors *file,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (file), NULL);
  const gchar *fname = ncfm_model_file_name (file);
  const gchar *want = ncfm_model_architecture_of_type (type);
  const gchar *arch = ncfm_safetensors_get_metadata (file, "ncfm.arch");
  if (g_strcmp0 (arch, want) != 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "%s: metadata 'ncfm.arch' is %s, not %s",
        fname, arch ? arch : "missing", want);
    return NULL;
  }
  guint ic, h, w, nc, depth, width;
  NcfmNorm norm;
  if (!ncfm_norm_from_string (ncfm_safetensors_get_metadata (file, "ncfm.norm"), &norm)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata 'ncfm.norm' is missing or unknown", fname);
    return NULL;
  }
  if (!meta_uint (file, "ncfm.in_channels", &ic, error)
      || !meta_uint (file, "ncfm.height", &h, error) || !meta_uint (file, "ncfm.width", &w, error)
      || !meta_uint (file, "ncfm.num_classes", &nc, error)
      || !meta_uint (file, "ncfm.depth", &depth, error)
      || !meta_uint (file, "ncfm.net_width", &width, error))
    return NULL;
  g_autoptr (NcfmModel) self = ncfm_model_new_of_type (type, device, ic, h, w, nc, depth, width,
      norm, 0, error);
  if (!self) {
    g_prefix_error (error, "%s: ", fname);
    return NULL;
  }
  if (!ncfm_model_load_safetensors (self, file, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * ncfm_model_new_from_safetensors:
 * @device: where the model runs
 * @file: weights written by ncfm_model_save() (architecture in the metadata)
 * @error: return location for a #GError
 *
 * The architecture is the registered one (ncfm_model_list_architectures())
 * that the file's `ncfm.arch` names; an unknown or missing one is an error
 * naming the file, the value and the known ones.
 *
 * Returns: (transfer full): the model the file describes, with its weights
 */
NcfmModel *
ncfm_model_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (file), NULL);
  const gchar *arch = ncfm_safetensors_get_metadata (file, "ncfm.arch");
  g_autoptr (GError) unknown = NULL;
  const GType type = ncfm_model_lookup_architecture (arch ? arch : "", &unknown);
  if (type == G_TYPE_INVALID) {
    g_auto (GStrv) names = ncfm_model_list_architectures ();
    g_autofree gchar *known = g_strjoinv (", ", names);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata 'ncfm.arch' is %s (known: %s); weights converted from PyTorch need the "
        "architecture given explicitly", ncfm_model_file_name (file), arch ? arch : "missing",
        known);
    return NULL;
  }
  return ncfm_model_new_of_type_from_safetensors (type, device, file, error);
}

/**
 * ncfm_model_new_from_file:
 * @device: where the model runs
 * @path: a weights file written by ncfm_model_save()
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model the file describes, with its weights
 */
NcfmModel *
ncfm_model_new_from_file (NcfmDevice *device, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  return file ? ncfm_model_new_from_safetensors (device, file, error) : NULL;
}

static gboolean
same_parameters (NcfmModel *a, NcfmModel *b, GError **error)
{
  const guint n = ncfm_model_get_n_parameters (a);
  if (G_OBJECT_TYPE (a) != G_OBJECT_TYPE (b) || n != ncfm_model_get_n_parameters (b)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "models differ: %s with %u tensors vs %s with %u tensors",
        ncfm_model_get_architecture (a), n, ncfm_model_get_architecture (b),
        ncfm_model_get_n_parameters (b));
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    const gchar *name = ncfm_model_get_parameter_name (a, i);
    NcfmTensor *x = ncfm_model_get_parameter (a, name), *y = ncfm_model_get_parameter (b, name);
    guint nd;
    const gint64 *shape = ncfm_tensor_get_shape (x, &nd);
    if (!y || !ncfm_tensor_has_shape (y, shape, nd)
        || ncfm_tensor_get_dtype (x) != ncfm_tensor_get_dtype (y)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "models differ in tensor '%s'", name);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * ncfm_model_copy_parameters:
 * @self: a #NcfmModel
 * @source: a model of the same architecture and shapes
 * @error: return location for a #GError
 *
 * Copies every parameter and buffer of @source into @self.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_copy_parameters (NcfmModel *self, NcfmModel *source, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self) && NCFM_IS_MODEL (source), FALSE);
  if (!same_parameters (self, source, error))
    return FALSE;
  for (guint i = 0; i < ncfm_model_get_n_parameters (self); i++) {
    const gchar *name = ncfm_model_get_parameter_name (self, i);
    if (!ncfm_tensor_copy_from (ncfm_model_get_parameter (self, name),
            ncfm_model_get_parameter (source, name), error))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_model_new_blend:
 * @init: a model (the pool member's initial weights)
 * @trained: the same architecture (its trained weights)
 * @lambda: the blend weight
 * @error: return location for a #GError
 *
 * The NCFM model-pool blend, tensor by tensor (buffers included):
 * lambda * init + (1 - lambda) * trained.
 *
 * Returns: (transfer full): a new model on @init's device
 */
NcfmModel *
ncfm_model_new_blend (NcfmModel *init, NcfmModel *trained, gdouble lambda, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (init) && NCFM_IS_MODEL (trained), NULL);
  if (!same_parameters (init, trained, error))
    return NULL;
  g_autoptr (NcfmModel) m = ncfm_model_new_like (init, NULL, 0, error);
  if (!m)
    return NULL;
  for (guint i = 0; i < ncfm_model_get_n_parameters (m); i++) {
    const gchar *name = ncfm_model_get_parameter_name (m, i);
    NcfmTensor *out = ncfm_model_get_parameter (m, name);
    /* out = trained; float tensors then get lambda * init + (1 - lambda) * out on the
     * device (counters and the like stay the trained member's) */
    if (!ncfm_tensor_copy_from (out, ncfm_model_get_parameter (trained, name), error))
      return NULL;
    if (ncfm_tensor_get_dtype (out) == NCFM_DTYPE_F32
        && !ncfm_ops_axpby ((gfloat) lambda, ncfm_model_get_parameter (init, name),
            (gfloat) (1.0 - lambda), out, error))
      return NULL;
  }
  return g_steal_pointer (&m);
}
