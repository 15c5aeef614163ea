/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_MODEL_H
#define NCFM_MODEL_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_MODEL (ncfm_model_get_type ())
G_DECLARE_INTERFACE (NcfmModel, ncfm_model, NCFM, MODEL, GObject)

/**
 * NcfmModelInterface:
 * @parent_iface: the parent interface
 * @get_architecture: the architecture's name as written to the `ncfm.arch`
 *   metadata of its weights ("convnet", "resnet-ap")
 * @get_device: where the parameters live
 * @get_input_shape: the image shape [C,H,W] the model takes
 * @get_feature_dim: length D of the feature vector in front of the classifier
 * @get_num_classes: number of logits
 * @set_training: training mode (BatchNorm batch statistics) or evaluation mode
 * @get_training: the current mode
 * @set_frozen: when frozen, forward changes nothing in the model (BatchNorm in
 *   training mode still uses batch statistics but leaves its running
 *   statistics alone), so threads may share it
 * @get_samples_independent: whether each image's outputs depend on that image
 *   alone (not so for BatchNorm in training mode), so a batch may be split
 * @get_n_parameters: the number of named tensors (parameters and buffers
 *   such as BatchNorm running statistics), in a fixed order
 * @get_parameter_name: the PyTorch name of tensor @index
 * @get_parameter: the tensor called @name, %NULL if there is none
 * @get_gradient: the gradient of parameter @name, %NULL for buffers
 * @reset_parameters: PyTorch's default initialisation from @seed
 * @new_like: a fresh model of the same architecture and shape on @device,
 *   initialised from @seed
 * @forward: images [N,C,H,W] (normalised) -> features [N,D] and logits
 *   [N,K] in @activations
 * @backward: from gradients wrt features and/or logits (either may be
 *   %NULL) to the gradient wrt the images (in @activations) and, if
 *   @parameter_gradients, the parameter gradients (overwritten)
 * @to_safetensors: the weights under PyTorch's names, architecture in the
 *   metadata
 * @load_safetensors: loads weights; on error the model is unchanged
 * @forward_features: optional: the features of @images into @features (F32
 *   [N,D] on the model's device), the values forward() gives, without
 *   keeping anything for backward (e.g. fused layers); %NULL: forward()
 *   and a copy
 *
 * What every feature extractor and classifier implements, so elements
 * (ncfmdistill, ncfmtrain, ncfmevaluate) and the model meta work with any
 * architecture.  A model is not thread-safe while it is changed; a model
 * that has been handed to other elements in an #NcfmModelMeta is never
 * changed again (its forward and backward keep all per-call state in the
 * caller's #NcfmActivations).
 */
struct _NcfmModelInterface {
  GTypeInterface parent_iface;

  const gchar *(*get_architecture) (NcfmModel *self);
  NcfmDevice *(*get_device) (NcfmModel *self);
  void (*get_input_shape) (NcfmModel *self, guint *channels, guint *height, guint *width);
  guint (*get_feature_dim) (NcfmModel *self);
  guint (*get_num_classes) (NcfmModel *self);
  void (*set_training) (NcfmModel *self, gboolean training);
  gboolean (*get_training) (NcfmModel *self);
  void (*set_frozen) (NcfmModel *self, gboolean frozen);
  gboolean (*get_samples_independent) (NcfmModel *self);
  guint (*get_n_parameters) (NcfmModel *self);
  const gchar *(*get_parameter_name) (NcfmModel *self, guint index);
  NcfmTensor *(*get_parameter) (NcfmModel *self, const gchar *name);
  NcfmTensor *(*get_gradient) (NcfmModel *self, const gchar *name);
  void (*reset_parameters) (NcfmModel *self, guint64 seed);
  NcfmModel *(*new_like) (NcfmModel *self, NcfmDevice *device, guint64 seed, GError **error);
  gboolean (*forward) (NcfmModel *self, NcfmTensor *images, NcfmActivations *activations,
      GError **error);
  gboolean (*backward) (NcfmModel *self, NcfmActivations *activations,
      NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
      GError **error);
  NcfmSafetensors *(*to_safetensors) (NcfmModel *self);
  gboolean (*load_safetensors) (NcfmModel *self, NcfmSafetensors *file, GError **error);
  gboolean (*forward_features) (NcfmModel *self, NcfmTensor *images, NcfmTensor *features,
      NcfmActivations *activations, GError **error);
};

const gchar *ncfm_model_get_architecture (NcfmModel *self);
NcfmDevice *ncfm_model_get_device (NcfmModel *self);
void ncfm_model_get_input_shape (NcfmModel *self, guint *channels, guint *height,
    guint *width);
guint ncfm_model_get_feature_dim (NcfmModel *self);
guint ncfm_model_get_num_classes (NcfmModel *self);
void ncfm_model_set_training (NcfmModel *self, gboolean training);
gboolean ncfm_model_get_training (NcfmModel *self);
void ncfm_model_set_frozen (NcfmModel *self, gboolean frozen);
gboolean ncfm_model_get_samples_independent (NcfmModel *self);
guint ncfm_model_get_n_parameters (NcfmModel *self);
const gchar *ncfm_model_get_parameter_name (NcfmModel *self, guint index);
NcfmTensor *ncfm_model_get_parameter (NcfmModel *self, const gchar *name);
NcfmTensor *ncfm_model_get_gradient (NcfmModel *self, const gchar *name);
void ncfm_model_reset_parameters (NcfmModel *self, guint64 seed);
NcfmModel *ncfm_model_new_like (NcfmModel *self, NcfmDevice *device, guint64 seed,
    GError **error);
gboolean ncfm_model_forward (NcfmModel *self, NcfmTensor *images,
    NcfmActivations *activations, GError **error);
NcfmTensor *ncfm_model_forward_features (NcfmModel *self, NcfmTensor *images, gint64 chunk,
    NcfmActivations *activations, GError **error);
gboolean ncfm_model_backward (NcfmModel *self, NcfmActivations *activations,
    NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error);
NcfmSafetensors *ncfm_model_to_safetensors (NcfmModel *self);
gboolean ncfm_model_load_safetensors (NcfmModel *self, NcfmSafetensors *file,
    GError **error);

gboolean ncfm_model_save (NcfmModel *self, const gchar *path, GError **error);
gboolean ncfm_model_load (NcfmModel *self, const gchar *path, GError **error);
NcfmModel *ncfm_model_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file,
    GError **error);
NcfmModel *ncfm_model_new_from_file (NcfmDevice *device, const gchar *path, GError **error);
NcfmModel *ncfm_model_new_blend (NcfmModel *init, NcfmModel *trained, gdouble lambda,
    GError **error);
gboolean ncfm_model_copy_parameters (NcfmModel *self, NcfmModel *source, GError **error);
/* in ncfm-finite.c */
gboolean ncfm_model_check_finite (NcfmModel *self, GError **error);

#ifndef __GI_SCANNER__
/* The architectures ncfm_model_new_from_safetensors() knows, by their
 * `ncfm.arch` metadata; each model file registers its constructor here. */
typedef NcfmModel *(*NcfmModelFromSafetensorsFunc) (NcfmDevice *device, NcfmSafetensors *file,
    GError **error);
#endif

G_END_DECLS
#endif
