/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-model-private.h: what the NcfmModel base (ncfm-model*.c) shares with
 * the architectures that derive from it: the configuration and the store of
 * named tensors. */
#ifndef NCFM_MODEL_PRIVATE_H
#define NCFM_MODEL_PRIVATE_H

#include "ncfm-model.h"

/* One named tensor and how ncfm_model_reset_parameters() draws it. */
typedef struct {
  gchar *name;
  NcfmTensor *value;
  NcfmTensor *grad;      /* NULL for buffers (running statistics) */
  guint fan_in;          /* > 0: PyTorch's default uniform(+-1/sqrt(fan_in)) init */
  gfloat init_std;       /* > 0: normal(0, init_std) */
  gfloat init_value;     /* otherwise this constant */
} NcfmModelParam;

typedef struct {
  NcfmDevice *device;
  guint in_channels, height, width, num_classes, depth, net_width;
  NcfmNorm norm;
  guint feature_dim;     /* set by the subclass's build */
  gboolean training;
  gboolean frozen;       /* BatchNorm running statistics are not updated */
  gint64 num_batches_tracked;
  GPtrArray *params;     /* NcfmModelParam *, in PyTorch's state_dict order */
} NcfmModelPrivate;

NcfmModelPrivate *ncfm_model_private (gpointer self);
/* the base's fields of a model (no type check: for the layers' inner code) */
#define NCFM_MODEL_BASE(self) ncfm_model_private (self)

NcfmModelParam *ncfm_model_add_parameter (NcfmModel *self, const gchar *name,
    const gchar *suffix, const gint64 *shape, guint n_dims, gboolean with_grad,
    GError **error);
NcfmModelParam *ncfm_model_find_parameter (NcfmModel *self, const gchar *name);
NcfmModel *ncfm_model_new_of_type (GType type, NcfmDevice *device, guint in_channels,
    guint height, guint width, guint num_classes, guint depth, guint net_width, NcfmNorm norm,
    guint64 seed, GError **error);
NcfmModel *ncfm_model_new_of_type_from_safetensors (GType type, NcfmDevice *device,
    NcfmSafetensors *file, GError **error);
const gchar *ncfm_model_architecture_of_type (GType type);
const gchar *ncfm_model_file_name (NcfmSafetensors *file);
const gchar *ncfm_model_title (NcfmModel *self);
gchar *ncfm_model_describe (NcfmModel *self);

/* Defines type_name_new() and type_name_new_from_safetensors(), the
 * constructors each architecture exports under its own name (their doc
 * comments stand at the macro's use). */
#define NCFM_MODEL_DEFINE_CONSTRUCTORS(TypeName, type_name, TYPE) \
  TypeName * \
  type_name##_new (NcfmDevice *device, guint in_channels, guint height, guint width, \
      guint num_classes, guint depth, guint net_width, NcfmNorm norm, guint64 seed, \
      GError **error) \
  { \
    return (TypeName *) ncfm_model_new_of_type (TYPE, device, in_channels, height, width, \
        num_classes, depth, net_width, norm, seed, error); \
  } \
  TypeName * \
  type_name##_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file, GError **error) \
  { \
    return (TypeName *) ncfm_model_new_of_type_from_safetensors (TYPE, device, file, error); \
  }

/* Defines type_name_get_field() as ncfm_model_get_field() for an
 * architecture's instances: the names the API had before the base class. */
#define NCFM_MODEL_DEFINE_GETTER(Ret, TypeName, type_name, field) \
  Ret \
  type_name##_get_##field (TypeName *self) \
  { \
    return ncfm_model_get_##field (NCFM_MODEL (self)); \
  }

static inline float *
ncfm_model_f32 (NcfmTensor *t)
{
  return t ? ncfm_tensor_f32 (t) : NULL;
}

#endif
