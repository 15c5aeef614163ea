/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-convnet-model.c: NcfmConvNet as an NcfmModel (the glue from the
 * interface to the ConvNet's own functions). */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-convnet-private.h"

#define CONVNET(m) NCFM_CONVNET (m)

static const gchar *
get_architecture (NcfmModel *m)
{
  (void) m;
  return "convnet";
}

static NcfmDevice *
get_device (NcfmModel *m)
{
  return ncfm_convnet_get_device (CONVNET (m));
}

static void
get_input_shape (NcfmModel *m, guint *c, guint *h, guint *w)
{
  NcfmConvNet *self = CONVNET (m);
  *c = self->in_channels;
  *h = self->height;
  *w = self->width;
}

static guint
get_feature_dim (NcfmModel *m)
{
  return ncfm_convnet_get_feature_dim (CONVNET (m));
}

static guint
get_num_classes (NcfmModel *m)
{
  return ncfm_convnet_get_num_classes (CONVNET (m));
}

static void
set_training (NcfmModel *m, gboolean training)
{
  ncfm_convnet_set_training (CONVNET (m), training);
}

static gboolean
get_training (NcfmModel *m)
{
  return ncfm_convnet_get_training (CONVNET (m));
}

static void
set_frozen (NcfmModel *m, gboolean frozen)
{
  CONVNET (m)->frozen = frozen;
}

static gboolean
get_samples_independent (NcfmModel *m)
{
  return CONVNET (m)->norm != NCFM_NORM_BATCH || !CONVNET (m)->training;
}

static guint
get_n_parameters (NcfmModel *m)
{
  return ncfm_convnet_get_n_parameters (CONVNET (m));
}

static const gchar *
get_parameter_name (NcfmModel *m, guint index)
{
  return ncfm_convnet_get_parameter_name (CONVNET (m), index);
}

static NcfmTensor *
get_parameter (NcfmModel *m, const gchar *name)
{
  return ncfm_convnet_get_parameter (CONVNET (m), name);
}

static NcfmTensor *
get_gradient (NcfmModel *m, const gchar *name)
{
  return ncfm_convnet_get_gradient (CONVNET (m), name);
}

static void
reset_parameters (NcfmModel *m, guint64 seed)
{
  ncfm_convnet_reset_parameters (CONVNET (m), seed);
}

static NcfmModel *
new_like (NcfmModel *m, NcfmDevice *device, guint64 seed, GError **error)
{
  NcfmConvNet *self = CONVNET (m);
  NcfmConvNet *copy = ncfm_convnet_new (device, self->in_channels, self->height, self->width,
      self->num_classes, self->depth, self->net_width, self->norm, seed, error);
  if (copy)
    ncfm_convnet_set_training (copy, self->training);
  return copy ? NCFM_MODEL (copy) : NULL;
}

static gboolean
forward (NcfmModel *m, NcfmTensor *images, NcfmActivations *activations, GError **error)
{
  return ncfm_convnet_forward (CONVNET (m), images, activations, error);
}

static gboolean
forward_features (NcfmModel *m, NcfmTensor *images, NcfmTensor *features,
    NcfmActivations *activations, GError **error)
{
  return ncfm_convnet_forward_features (CONVNET (m), images, features, activations, error);
}

static gboolean
backward (NcfmModel *m, NcfmActivations *activations, NcfmTensor *grad_features,
    NcfmTensor *grad_logits, gboolean parameter_gradients, GError **error)
{
  return ncfm_convnet_backward (CONVNET (m), activations, grad_features, grad_logits,
      parameter_gradients, error);
}

static NcfmSafetensors *
to_safetensors (NcfmModel *m)
{
  return ncfm_convnet_to_safetensors (CONVNET (m));
}

static gboolean
load_safetensors (NcfmModel *m, NcfmSafetensors *file, GError **error)
{
  return ncfm_convnet_load_safetensors (CONVNET (m), file, error);
}

void
ncfm_convnet_model_iface_init (NcfmModelInterface *iface)
{
  iface->get_architecture = get_architecture;
  iface->get_device = get_device;
  iface->get_input_shape = get_input_shape;
  iface->get_feature_dim = get_feature_dim;
  iface->get_num_classes = get_num_classes;
  iface->set_training = set_training;
  iface->get_training = get_training;
  iface->set_frozen = set_frozen;
  iface->get_samples_independent = get_samples_independent;
  iface->get_n_parameters = get_n_parameters;
  iface->get_parameter_name = get_parameter_name;
  iface->get_parameter = get_parameter;
  iface->get_gradient = get_gradient;
  iface->reset_parameters = reset_parameters;
  iface->new_like = new_like;
  iface->forward = forward;
  iface->backward = backward;
  iface->to_safetensors = to_safetensors;
  iface->load_safetensors = load_safetensors;
  iface->forward_features = forward_features;
}
