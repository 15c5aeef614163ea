/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-model-registry.c: the architectures by name, the one list of them.
 * Weights files name their architecture (`ncfm.arch`), elements take it from
 * a property, and both find the #NcfmModel subclass here.  The built-in
 * ones are registered on first use; the table is process-wide (like the
 * GType system it maps into) and guarded by a mutex. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-model-private.h"
#include "ncfm-convnet.h"
#include "ncfm-resnet.h"

typedef struct {
  const gchar *name;     /* interned */
  GType type;
} Architecture;

static GMutex registry_lock;
static GArray *registry;   /* Architecture, in registration order */

static gboolean register_locked (const gchar *name, GType type, GError **error);

/* the built-in architectures: the only place that lists them */
static GArray *
registry_locked (void)
{
  if (!registry) {
    registry = g_array_new (FALSE, FALSE, sizeof (Architecture));
    register_locked ("convnet", NCFM_TYPE_CONVNET, NULL);
    register_locked ("resnet-ap", NCFM_TYPE_RESNET, NULL);
  }
  return registry;
}

static const Architecture *
find_locked (const gchar *name, GType type)
{
  GArray *all = registry_locked ();
  for (guint i = 0; i < all->len; i++) {
    const Architecture *a = &g_array_index (all, Architecture, i);
    if ((name && g_str_equal (a->name, name)) || (!name && a->type == type))
      return a;
  }
  return NULL;
}

static gboolean
register_locked (const gchar *name, GType type, GError **error)
{
  if (!name || !*name || !g_type_is_a (type, NCFM_TYPE_MODEL) || G_TYPE_IS_ABSTRACT (type)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "cannot register model architecture '%s' as %s: it needs a name and a concrete "
        "subclass of NcfmModel", name ? name : "(null)", g_type_name (type));
    return FALSE;
  }
  const Architecture *same = find_locked (name, G_TYPE_INVALID);
  if (!same)
    same = find_locked (NULL, type);
  if (same) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "cannot register model architecture '%s' as %s: '%s' is already registered as %s",
        name, g_type_name (type), same->name, g_type_name (same->type));
    return FALSE;
  }
  const Architecture a = { g_intern_string (name), type };
  g_array_append_val (registry, a);
  return TRUE;
}

/**
 * ncfm_model_register_architecture:
 * @name: the architecture's name, as in the `ncfm.arch` metadata of its
 *   weights and in element properties ("convnet")
 * @type: a concrete subclass of #NcfmModel
 * @error: return location for a #GError
 *
 * Makes @type known under @name to ncfm_model_new_for_architecture(),
 * ncfm_model_new_from_safetensors() and every element that builds models.
 * "convnet" (#NcfmConvNet) and "resnet-ap" (#NcfmResNet) are built in.
 * Thread-safe.
 *
 * Returns: %TRUE; %FALSE if @name or @type is already registered, or @type
 *   is not a concrete #NcfmModel
 */
gboolean
ncfm_model_register_architecture (const gchar *name, GType type, GError **error)
{
  g_mutex_lock (&registry_lock);
  registry_locked ();
  const gboolean ok = register_locked (name, type, error);
  g_mutex_unlock (&registry_lock);
  return ok;
}

/**
 * ncfm_model_lookup_architecture:
 * @name: a registered architecture's name
 * @error: return location for a #GError
 *
 * Returns: its #NcfmModel subclass; %G_TYPE_INVALID with an error naming
 *   @name and the known architectures when there is none
 */
GType
ncfm_model_lookup_architecture (const gchar *name, GError **error)
{
  g_return_val_if_fail (name != NULL, G_TYPE_INVALID);
  g_mutex_lock (&registry_lock);
  const Architecture *a = find_locked (name, G_TYPE_INVALID);
  const GType type = a ? a->type : G_TYPE_INVALID;
  g_mutex_unlock (&registry_lock);
  if (type == G_TYPE_INVALID) {
    g_auto (GStrv) names = ncfm_model_list_architectures ();
    g_autofree gchar *known = g_strjoinv (", ", names);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "unknown model architecture '%s' (known: %s)", name, known);
  }
  return type;
}

/**
 * ncfm_model_list_architectures:
 *
 * Returns: (transfer full) (array zero-terminated=1): the registered
 *   architectures' names, in registration order (the built-in ones first)
 */
gchar **
ncfm_model_list_architectures (void)
{
  g_mutex_lock (&registry_lock);
  GArray *all = registry_locked ();
  gchar **names = g_new0 (gchar *, all->len + 1);
  for (guint i = 0; i < all->len; i++)
    names[i] = g_strdup (g_array_index (all, Architecture, i).name);
  g_mutex_unlock (&registry_lock);
  return names;
}

/* The registered name of @type or of its nearest registered ancestor. */
const gchar *
ncfm_model_architecture_of_type (GType type)
{
  const gchar *name = NULL;
  g_mutex_lock (&registry_lock);
  for (GType t = type; !name && t != G_TYPE_INVALID && t != NCFM_TYPE_MODEL;
       t = g_type_parent (t)) {
    const Architecture *a = find_locked (NULL, t);
    name = a ? a->name : NULL;
  }
  g_mutex_unlock (&registry_lock);
  return name ? name : g_type_name (type);
}

/**
 * ncfm_model_new_for_architecture:
 * @name: a registered architecture ("convnet", "resnet-ap")
 * @device: where the parameters live and the model runs
 * @in_channels: image channels
 * @height: image height
 * @width: image width
 * @num_classes: classifier outputs
 * @depth: the architecture's depth (ConvNet blocks 1-8; ResNet-AP 10 or 18)
 * @net_width: the architecture's width (ConvNet channels; ResNet-AP
 *   first-stage channels)
 * @norm: normalisation layer
 * @seed: seed of the random initialisation
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a freshly initialised model, or %NULL if @name
 *   is unknown or the configuration impossible (the error says why)
 */
NcfmModel *
ncfm_model_new_for_architecture (const gchar *name, NcfmDevice *device, guint in_channels,
    guint height, guint width, guint num_classes, guint depth, guint net_width, NcfmNorm norm,
    guint64 seed, GError **error)
{
  const GType type = ncfm_model_lookup_architecture (name, error);
  if (type == G_TYPE_INVALID)
    return NULL;
  return ncfm_model_new_of_type (type, device, in_channels, height, width, num_classes, depth,
      net_width, norm, seed, error);
}
