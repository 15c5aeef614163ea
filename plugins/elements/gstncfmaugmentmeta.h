/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_AUGMENT_META_H
#define GST_NCFM_AUGMENT_META_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

#define NCFM_AUGMENT_META_API_TYPE (ncfm_augment_meta_api_get_type ())
#define NCFM_AUGMENT_META_INFO (ncfm_augment_meta_get_info ())

/**
 * NcfmAugmentMeta:
 * @meta: the parent #GstMeta
 * @params: (transfer full): the augmentation parameters drawn for this
 *   buffer (a reference to an immutable value)
 *
 * Attached by ncfmaugment to every batch it augments.  Replaying @params
 * with ncfm_augment_params_apply() gives the identical transform on any
 * batch of the same image size; ncfmdistill replays it on its synthetic
 * images (and runs ncfm_augment_params_backward() for their gradient).
 * Every transform and copy of the buffer keeps it (a new reference to the
 * same parameters), so it reaches the distiller through the extractor and
 * the CF element.
 */
typedef struct {
  GstMeta meta;
  NcfmAugmentParams *params;
} NcfmAugmentMeta;

GType ncfm_augment_meta_api_get_type (void);
const GstMetaInfo *ncfm_augment_meta_get_info (void);

NcfmAugmentMeta *gst_buffer_add_ncfm_augment_meta (GstBuffer *buffer,
    NcfmAugmentParams *params);

#define gst_buffer_get_ncfm_augment_meta(b) \
  ((NcfmAugmentMeta *) gst_buffer_get_meta ((b), NCFM_AUGMENT_META_API_TYPE))

G_END_DECLS
#endif
