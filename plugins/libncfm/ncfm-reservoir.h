/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_RESERVOIR_H
#define NCFM_RESERVOIR_H

#include <glib-object.h>
#include "ncfm-device.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmReservoirOutcome:
 * @NCFM_RESERVOIR_STORED: the sample took a free slot of its class
 * @NCFM_RESERVOIR_REPLACED: the class was full; the sample replaced a stored one
 * @NCFM_RESERVOIR_DISCARDED: the class was full and the draw kept the stored samples
 *
 * What ncfm_reservoir_add() did with a sample.
 */
typedef enum {
  NCFM_RESERVOIR_STORED,
  NCFM_RESERVOIR_REPLACED,
  NCFM_RESERVOIR_DISCARDED,
} NcfmReservoirOutcome;

#define NCFM_TYPE_RESERVOIR (ncfm_reservoir_get_type ())
G_DECLARE_FINAL_TYPE (NcfmReservoir, ncfm_reservoir, NCFM, RESERVOIR, GObject)

NcfmReservoir *ncfm_reservoir_new (guint num_classes, guint capacity, guint channels,
    guint height, guint width, guint64 seed);
NcfmReservoir *ncfm_reservoir_new_from_file (const gchar *path, GError **error);
gboolean ncfm_reservoir_save (NcfmReservoir *self, const gchar *path, GError **error);

guint ncfm_reservoir_get_num_classes (NcfmReservoir *self);
guint ncfm_reservoir_get_capacity (NcfmReservoir *self);
void ncfm_reservoir_get_sample_shape (NcfmReservoir *self, guint *channels, guint *height,
    guint *width);
guint64 ncfm_reservoir_get_seed (NcfmReservoir *self);
guint ncfm_reservoir_get_n_stored (NcfmReservoir *self, guint class_id);
guint64 ncfm_reservoir_get_n_seen (NcfmReservoir *self, guint class_id);
guint64 ncfm_reservoir_get_n_new (NcfmReservoir *self, guint class_id);
guint64 ncfm_reservoir_get_n_draws (NcfmReservoir *self, guint class_id);
gsize ncfm_reservoir_get_bytes (NcfmReservoir *self);
gsize ncfm_reservoir_get_max_bytes (NcfmReservoir *self);

NcfmReservoirOutcome ncfm_reservoir_add (NcfmReservoir *self, guint class_id,
    const gfloat *sample, gsize n_values);
gint ncfm_reservoir_next_ready (NcfmReservoir *self, guint batch_size, guint64 min_new,
    guint start);
guint ncfm_reservoir_draw_into (NcfmReservoir *self, guint class_id, guint batch_size,
    gfloat *dst);
NcfmTensor *ncfm_reservoir_draw (NcfmReservoir *self, NcfmDevice *device, guint class_id,
    guint batch_size, GError **error);

G_END_DECLS
#endif
