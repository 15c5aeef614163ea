/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-convnet-io.c: ConvNet weights to and from safetensors, under the
 * reference implementation's PyTorch names (a `module.` prefix is stripped),
 * with the architecture in the metadata. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-convnet-private.h"
#include "ncfm-finite-private.h"

#include <string.h>

static const gchar *
file_name_of (NcfmSafetensors *file)
{
  const gchar *n = g_object_get_data (G_OBJECT (file), "ncfm-path");
  return n ? n : "weights";
}

/**
 * ncfm_convnet_load_safetensors:
 * @self: a #NcfmConvNet
 * @file: weights with the reference's names (an optional `module.` prefix is stripped)
 * @error: return location for a #GError
 *
 * Loads every parameter (and BatchNorm running statistics).  A missing
 * tensor, a shape that does not fit, or a tensor the model does not have is
 * an error naming it; on error the model keeps its previous weights.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_load_safetensors (NcfmConvNet *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), FALSE);
  const gchar *fname = file_name_of (file);
  g_auto (GStrv) names = ncfm_safetensors_list_names (file);

  /* every name in the file must be ours (num_batches_tracked is accepted) */
  for (guint i = 0; names[i]; i++) {
    const gchar *n = g_str_has_prefix (names[i], "module.") ? names[i] + 7 : names[i];
    if (ncfm_convnet_find_param (self, n))
      continue;
    if (self->norm == NCFM_NORM_BATCH && g_str_has_suffix (n, ".num_batches_tracked"))
      continue;
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: tensor '%s' is not a parameter of a ConvNet-%u (width %u, %s, %u classes)",
        fname, names[i], self->depth, self->net_width, ncfm_norm_to_string (self->norm),
        self->num_classes);
    return FALSE;
  }
  /* read everything to the host first so a failure leaves the model as it was */
  GPtrArray *staged = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->params->len; i++) {
    Param *p = &g_array_index (self->params, Param, i);
    g_autofree gchar *prefixed = g_strconcat ("module.", p->name, NULL);
    const gchar *key = ncfm_safetensors_contains (file, p->name) ? p->name
        : ncfm_safetensors_contains (file, prefixed) ? prefixed : NULL;
    if (!key) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
          "%s: tensor '%s' is missing (a ConvNet-%u of width %u with %s needs it)", fname,
          p->name, self->depth, self->net_width, ncfm_norm_to_string (self->norm));
      g_ptr_array_unref (staged);
      return FALSE;
    }
    guint nd;
    const gint64 *shape = ncfm_tensor_get_shape (p->value, &nd);
    gfloat *host = g_new (gfloat, MAX (ncfm_tensor_get_numel (p->value), 1));
    g_ptr_array_add (staged, host);
    if (!ncfm_safetensors_read_f32 (file, key, shape, nd, host, error)
        || !ncfm_check_finite_f32 (host, (gsize) ncfm_tensor_get_numel (p->value), fname, key,
            error)) {
      g_ptr_array_unref (staged);
      return FALSE;
    }
  }
  for (guint i = 0; i < self->params->len; i++) {
    Param *p = &g_array_index (self->params, Param, i);
    ncfm_tensor_set_data (p->value, staged->pdata[i], ncfm_tensor_get_n_bytes (p->value), NULL);
  }
  g_ptr_array_unref (staged);
  return TRUE;
}

/**
 * ncfm_convnet_load:
 * @self: a #NcfmConvNet
 * @path: a safetensors file
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_load (NcfmConvNet *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, error);
  if (!file)
    return FALSE;
  g_object_set_data_full (G_OBJECT (file), "ncfm-path", g_strdup (path), g_free);
  return ncfm_convnet_load_safetensors (self, file, error);
}

/**
 * ncfm_convnet_to_safetensors:
 * @self: a #NcfmConvNet
 *
 * Returns: (transfer full): the parameters under PyTorch's names, with the
 *   architecture in the metadata (so ncfm_convnet_new_from_safetensors()
 *   can rebuild it)
 */
NcfmSafetensors *
ncfm_convnet_to_safetensors (NcfmConvNet *self)
{
  g_return_val_if_fail (NCFM_IS_CONVNET (self), NULL);
  NcfmSafetensors *file = ncfm_safetensors_new ();
  for (guint i = 0; i < self->params->len; i++) {
    Param *p = &g_array_index (self->params, Param, i);
    ncfm_tensor_to_safetensors (p->value, file, p->name);
    if (self->norm == NCFM_NORM_BATCH && g_str_has_suffix (p->name, ".running_var")) {
      /* PyTorch's strict load_state_dict wants the counter too */
      g_autofree gchar *base = g_strndup (p->name, strlen (p->name) - strlen ("running_var"));
      g_autofree gchar *nbt = g_strconcat (base, "num_batches_tracked", NULL);
      ncfm_safetensors_set (file, nbt, NCFM_DTYPE_I64, NULL, 0, &self->num_batches_tracked,
          sizeof (gint64));
    }
  }
  struct { const gchar *key; guint value; } meta[] = {
    { "ncfm.in_channels", self->in_channels }, { "ncfm.height", self->height },
    { "ncfm.width", self->width }, { "ncfm.num_classes", self->num_classes },
    { "ncfm.depth", self->depth }, { "ncfm.net_width", self->net_width },
  };
  ncfm_safetensors_set_metadata (file, "ncfm.arch", "convnet");
  ncfm_safetensors_set_metadata (file, "ncfm.norm", ncfm_norm_to_string (self->norm));
  for (guint i = 0; i < G_N_ELEMENTS (meta); i++) {
    g_autofree gchar *v = g_strdup_printf ("%u", meta[i].value);
    ncfm_safetensors_set_metadata (file, meta[i].key, v);
  }
  return file;
}

/**
 * ncfm_convnet_save:
 * @self: a #NcfmConvNet
 * @path: destination (written atomically)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_convnet_save (NcfmConvNet *self, const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) file = ncfm_convnet_to_safetensors (self);
  return ncfm_safetensors_save (file, path, error);
}

static gboolean
meta_uint (NcfmSafetensors *file, const gchar *key, guint *out, GError **error)
{
  const gchar *v = ncfm_safetensors_get_metadata (file, key);
  guint64 n;
  if (!v || !g_ascii_string_to_unsigned (v, 10, 1, G_MAXUINT, &n, NULL)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%s' is %s (expected a positive integer; was the file written by "
        "ncfm_convnet_save?)", file_name_of (file), key, v ? v : "missing");
    return FALSE;
  }
  *out = (guint) n;
  return TRUE;
}

/**
 * ncfm_convnet_new_from_safetensors:
 * @device: where the model runs
 * @file: weights written by ncfm_convnet_save() (architecture in the metadata)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the model with the file's weights
 */
NcfmConvNet *
ncfm_convnet_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error)
{
  guint ic, h, w, nc, depth, width;
  NcfmNorm norm;
  const gchar *arch = ncfm_safetensors_get_metadata (file, "ncfm.arch");
  if (g_strcmp0 (arch, "convnet") != 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata 'ncfm.arch' is %s, not convnet", file_name_of (file),
        arch ? arch : "missing");
    return NULL;
  }
  if (!ncfm_norm_from_string (ncfm_safetensors_get_metadata (file, "ncfm.norm"), &norm)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata 'ncfm.norm' is missing or unknown", file_name_of (file));
    return NULL;
  }
  if (!meta_uint (file, "ncfm.in_channels", &ic, error) || !meta_uint (file, "ncfm.height", &h, error)
      || !meta_uint (file, "ncfm.width", &w, error)
      || !meta_uint (file, "ncfm.num_classes", &nc, error)
      || !meta_uint (file, "ncfm.depth", &depth, error)
      || !meta_uint (file, "ncfm.net_width", &width, error))
    return NULL;
  g_autoptr (NcfmConvNet) self = ncfm_convnet_new (device, ic, h, w, nc, depth, width, norm, 0,
      error);
  if (!self || !ncfm_convnet_load_safetensors (self, file, error))
    return NULL;
  return g_steal_pointer (&self);
}

