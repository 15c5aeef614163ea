/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmclassifier.c: the input checks of the classifier sinks (caps,
 * weights files against the stream), as element errors.  The training step
 * and the label checks are libncfm's (NcfmTrainer, ncfm-trainer.h). */
#include "gstncfmclassifier.h"

#include "gstncfmcaps.h"
#include "gstncfmtensormemory.h"

/**
 * gst_ncfm_image_batch_caps:
 * @element: the element that posts the error
 * @caps: the sink caps
 * @channels: (out): C
 * @height: (out): H
 * @width: (out): W
 *
 * Returns: %TRUE if @caps are labelled image batches (float32 [B, C, H, W]
 *   and int32 [B])
 */
gboolean
gst_ncfm_image_batch_caps (GstElement *element, GstCaps *caps, guint *channels, guint *height,
    guint *width)
{
  g_autoptr (GError) error = NULL;
  GstNcfmTensorsInfo info;
  if (!gst_ncfm_tensors_info_from_caps (&info, caps, &error)) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("%s", error->message),
        ("%" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  const GstNcfmTensorInfo *img = &info.tensors[0], *lab = &info.tensors[1];
  if (info.n_tensors != 2 || img->dtype != NCFM_DTYPE_F32 || lab->dtype != NCFM_DTYPE_I32
      || img->n_dims != 4 || lab->n_dims != 1 || img->shape[1] < 1 || img->shape[1] > G_MAXINT
      || img->shape[2] > G_MAXINT || img->shape[3] > G_MAXINT) {
    g_autofree gchar *dims = gst_ncfm_tensors_info_dimensions (&info);
    g_autofree gchar *types = gst_ncfm_tensors_info_types (&info);
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("caps fields dimensions \"%s\" and types "
            "\"%s\": %s takes labelled image batches, W:H:C:B,B of float32,int32", dims, types,
            GST_ELEMENT_NAME (element)), ("%" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  *channels = (guint) img->shape[1];
  *height = (guint) img->shape[2];
  *width = (guint) img->shape[3];
  return TRUE;
}

/**
 * gst_ncfm_load_weights:
 * @element: the element that posts the error
 * @path: a weights file
 * @property: the property that named it
 *
 * Returns: (transfer full) (nullable): the file, which remembers its path;
 *   %NULL (an error posted) if it cannot be read or holds a NaN or infinity
 */
NcfmSafetensors *
gst_ncfm_load_weights (GstElement *element, const gchar *path, const gchar *property)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, &error);
  if (!file || !ncfm_safetensors_check_finite (file, &error)) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ, ("Cannot use the weights %s (property "
            "%s): %s", path, property, error->message), (NULL));
    return NULL;
  }
  return g_steal_pointer (&file);
}

/**
 * gst_ncfm_model_for_stream:
 * @element: the element that posts the error
 * @device: where the model runs
 * @file: weights from gst_ncfm_load_weights()
 * @property: the property that named the file
 * @channels: C of the stream
 * @height: H of the stream
 * @width: W of the stream
 * @num_classes: the stream's classes; 0 skips that check
 *
 * Returns: (transfer full) (nullable): the model of @file, if it takes the
 *   stream's images and classes
 */
NcfmModel *
gst_ncfm_model_for_stream (GstElement *element, NcfmDevice *device, NcfmSafetensors *file,
    const gchar *property, guint channels, guint height, guint width, guint num_classes)
{
  g_autoptr (GError) error = NULL;
  const gchar *path = ncfm_safetensors_get_path (file);
  g_autoptr (NcfmModel) m = ncfm_model_new_from_safetensors (device, file, &error);
  if (!m) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("Cannot build a model from %s (property "
            "%s): %s", path, property, error->message), (NULL));
    return NULL;
  }
  guint c, h, w;
  ncfm_model_get_input_shape (m, &c, &h, &w);
  if (c != channels || h != height || w != width) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("The model of %s (property %s) takes images "
            "of [%u,%u,%u] (C,H,W) but the stream has [%u,%u,%u]", path, property, c, h, w,
            channels, height, width), (NULL));
    return NULL;
  }
  if (num_classes && ncfm_model_get_num_classes (m) != num_classes) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("The model of %s (property %s) has %u classes "
            "but the stream has %u", path, property, ncfm_model_get_num_classes (m),
            num_classes), (NULL));
    return NULL;
  }
  return g_steal_pointer (&m);
}
