/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_EXTRACTOR_H
#define GST_NCFM_EXTRACTOR_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_EXTRACTOR (gst_ncfm_extractor_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstNcfmExtractor, gst_ncfm_extractor, GST, NCFM_EXTRACTOR,
    GstBaseTransform)

/**
 * GstNcfmExtractorClass:
 * @parent_class: the parent class
 * @model_name: the architecture in messages ("ConvNet", "ResNet-AP")
 * @classifier_weight: the PyTorch name of the classifier's weight, whose
 *   rows are the classes ("classifier.weight", "fc.weight")
 * @debug_category: the element's category, which the base class logs into
 * @feature_dim: the feature length D for images [@channels, @height,
 *   @width] with the subclass's properties; %FALSE with an error naming the
 *   caps field and the property at fault when the model cannot take them
 * @architecture: the #NcfmModel it builds, by its registered name
 *   (ncfm_model_new_for_architecture(): "convnet", "resnet-ap")
 * @model_settings: the subclass's depth, width and norm properties, which
 *   configure a fresh model (called under the object lock)
 *
 * The base of the feature extractors (ncfmconvnet, ncfmresnet): everything
 * but the architecture.  Subclasses read their own properties under the
 * object lock in the vfuncs, and set them through
 * gst_ncfm_extractor_lock_settings().
 */
struct _GstNcfmExtractorClass {
  GstBaseTransformClass parent_class;

  const gchar *model_name;
  const gchar *classifier_weight;
  GstDebugCategory *debug_category;
  gboolean (*feature_dim) (GstNcfmExtractor *self, guint channels, guint height, guint width,
      guint *feature_dim, GError **error);
  const gchar *architecture;
  void (*model_settings) (GstNcfmExtractor *self, guint *depth, guint *width, NcfmNorm *norm);

  gpointer _gst_reserved[GST_PADDING];
};

#define GST_TYPE_NCFM_EXTRACTOR_NORM (gst_ncfm_extractor_norm_get_type ())
GType gst_ncfm_extractor_norm_get_type (void);

gboolean gst_ncfm_extractor_lock_settings (GstNcfmExtractor *self, GParamSpec *pspec);

G_END_DECLS
#endif
