/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_MODEL_H
#define NCFM_MODEL_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmNorm:
 * @NCFM_NORM_NONE: no normalisation layer
 * @NCFM_NORM_INSTANCE: instance norm (GroupNorm with one group per channel, affine)
 * @NCFM_NORM_BATCH: BatchNorm2d (affine, running statistics)
 *
 * The normalisation after each convolution of a model.
 */
typedef enum {
  NCFM_NORM_NONE,
  NCFM_NORM_INSTANCE,
  NCFM_NORM_BATCH,
} NcfmNorm;

const gchar *ncfm_norm_to_string (NcfmNorm norm);
gboolean ncfm_norm_from_string (const gchar *name, NcfmNorm *norm);

#define NCFM_TYPE_MODEL (ncfm_model_get_type ())
G_DECLARE_DERIVABLE_TYPE (NcfmModel, ncfm_model, NCFM, MODEL, GObject)

/**
 * NcfmModelClass:
 * @parent_class: the parent class
 * @title: the architecture in messages ("ConvNet", "ResNet-AP"); %NULL: its
 *   registered name
 * @init_salt: mixed into the seed of ncfm_model_reset_parameters(), so two
 *   architectures drawn from the same seed differ
 * @build: creates the layers and their named tensors
 *   (ncfm_model_add_parameter(), in PyTorch's state_dict order) for the
 *   configuration in the base (ncfm_model_get_input_shape(), _get_depth(),
 *   ...), and sets the feature length; an impossible configuration is an
 *   error naming it.  The base then draws the initial values.
 * @forward: @n images [N,C,H,W] (normalised, already checked by the base)
 *   -> features [N,D] and logits [N,K] in @activations
 * @backward: from gradients wrt features and/or logits (either may be
 *   %NULL; the base checked their shapes) of a forward of @n images to the
 *   gradient wrt the images (in @activations) and, if
 *   @parameter_gradients, the parameter gradients (overwritten)
 * @forward_features: optional: the features of @images into @features (F32
 *   [N,D] on the model's device, checked), the values forward() gives,
 *   without keeping anything for backward (e.g. fused layers); %NULL:
 *   forward() and a copy
 *
 * The base class of every feature extractor and classifier, so elements
 * (ncfmdistill, ncfmtrain, ncfmevaluate) and the model meta work with any
 * architecture.  The base owns the configuration (input shape, classes,
 * depth, width, norm), the named tensors (parameters, their gradients and
 * buffers such as BatchNorm running statistics, in a fixed order), the
 * training and frozen flags, weights I/O, blending and the argument checks
 * of forward and backward; a subclass owns its layers.  Architectures are
 * found by name in a registry (ncfm_model_register_architecture()).
 *
 * A model is not thread-safe while it is changed; a model that has been
 * handed to other elements in an #NcfmModelMeta is frozen and never changed
 * again (its forward and backward keep all per-call state in the caller's
 * #NcfmActivations).
 */
struct _NcfmModelClass {
  GObjectClass parent_class;

  const gchar *title;
  guint32 init_salt;
  gboolean (*build) (NcfmModel *self, GError **error);
  gboolean (*forward) (NcfmModel *self, NcfmTensor *images, gint64 n,
      NcfmActivations *activations, GError **error);
  gboolean (*backward) (NcfmModel *self, NcfmActivations *activations, gint64 n,
      NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
      GError **error);
  gboolean (*forward_features) (NcfmModel *self, NcfmTensor *images, NcfmTensor *features,
      NcfmActivations *activations, GError **error);

  /*< private >*/
  gpointer padding[8];
};

gboolean ncfm_model_register_architecture (const gchar *name, GType type, GError **error);
GType ncfm_model_lookup_architecture (const gchar *name, GError **error);
gchar **ncfm_model_list_architectures (void);
NcfmModel *ncfm_model_new_for_architecture (const gchar *name, NcfmDevice *device,
    guint in_channels, guint height, guint width, guint num_classes, guint depth,
    guint net_width, NcfmNorm norm, guint64 seed, GError **error);

const gchar *ncfm_model_get_architecture (NcfmModel *self);
NcfmDevice *ncfm_model_get_device (NcfmModel *self);
void ncfm_model_get_input_shape (NcfmModel *self, guint *channels, guint *height,
    guint *width);
guint ncfm_model_get_feature_dim (NcfmModel *self);
guint ncfm_model_get_num_classes (NcfmModel *self);
guint ncfm_model_get_depth (NcfmModel *self);
guint ncfm_model_get_net_width (NcfmModel *self);
NcfmNorm ncfm_model_get_norm (NcfmModel *self);
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


G_END_DECLS
#endif
