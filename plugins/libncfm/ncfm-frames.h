/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-frames.h: 8-bit video samples into normalised F32 image batches
 * (ncfmtensorize's data path), and the two tensor ops it adds to ncfm-ops.h. */
#ifndef NCFM_FRAMES_H
#define NCFM_FRAMES_H

#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_FRAME_BATCH (ncfm_frame_batch_get_type ())
G_DECLARE_FINAL_TYPE (NcfmFrameBatch, ncfm_frame_batch, NCFM, FRAME_BATCH, GObject)

NcfmFrameBatch *ncfm_frame_batch_new (NcfmDevice *device, guint batch_size, guint channels,
    guint height, guint width, const gfloat *mean, const gfloat *std, guint n_channels,
    GError **error);
gboolean ncfm_frame_batch_add (NcfmFrameBatch *self, const guint8 *planar, gsize n_bytes,
    guint in_channels, guint in_height, guint in_width, GError **error);
guint ncfm_frame_batch_get_count (NcfmFrameBatch *self);
guint ncfm_frame_batch_get_batch_size (NcfmFrameBatch *self);
NcfmTensor *ncfm_frame_batch_finish (NcfmFrameBatch *self, GError **error);
void ncfm_frame_batch_discard (NcfmFrameBatch *self);

gboolean ncfm_ops_u8_to_f32 (NcfmTensor *x, gfloat scale, NcfmTensor *y, GError **error);
gboolean ncfm_ops_resize_bilinear (NcfmTensor *x, NcfmTensor *y, GError **error);

G_END_DECLS
#endif
