/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_LOADER_H
#define NCFM_LOADER_H

#include <glib-object.h>
#include "ncfm-dataset.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmLoaderMode:
 * @NCFM_LOADER_MODE_PER_CLASS: every batch holds images of one class; the
 *   classes take turns (round-robin) and each batch is a fresh random draw
 *   of that class's images (the reference's class_sample), for NCFM matching
 * @NCFM_LOADER_MODE_MIXED: batches walk a (shuffled) order of the whole set,
 *   for training and evaluation
 *
 * How a #NcfmLoader forms its batches.
 */
typedef enum {
  NCFM_LOADER_MODE_PER_CLASS,
  NCFM_LOADER_MODE_MIXED,
} NcfmLoaderMode;

const gchar *ncfm_loader_mode_to_string (NcfmLoaderMode mode);
gboolean ncfm_loader_mode_from_string (const gchar *name, NcfmLoaderMode *mode);

#define NCFM_TYPE_LOADER (ncfm_loader_get_type ())
G_DECLARE_FINAL_TYPE (NcfmLoader, ncfm_loader, NCFM, LOADER, GObject)

NcfmLoader *ncfm_loader_new (NcfmDataset *dataset, NcfmDevice *device, guint batch_size,
    NcfmLoaderMode mode, guint64 seed, guint epochs, gboolean shuffle, const guint *classes,
    guint n_classes, GError **error);

gboolean ncfm_loader_next (NcfmLoader *self, NcfmTensor **images, NcfmTensor **labels,
    GError **error);
gboolean ncfm_loader_seek (NcfmLoader *self, guint64 position, GError **error);
gboolean ncfm_loader_set_slice (NcfmLoader *self, guint index, guint count, GError **error);
gboolean ncfm_loader_set_class_shard (NcfmLoader *self, guint index, guint count,
    GError **error);

NcfmDataset *ncfm_loader_get_dataset (NcfmLoader *self);
NcfmDevice *ncfm_loader_get_device (NcfmLoader *self);
NcfmLoaderMode ncfm_loader_get_mode (NcfmLoader *self);
guint ncfm_loader_get_batch_size (NcfmLoader *self);
const guint *ncfm_loader_get_classes (NcfmLoader *self, guint *n_classes);
guint64 ncfm_loader_get_position (NcfmLoader *self);
guint64 ncfm_loader_get_epoch (NcfmLoader *self);
guint64 ncfm_loader_get_batches_per_epoch (NcfmLoader *self);
guint64 ncfm_loader_get_images_per_epoch (NcfmLoader *self);
gint64 ncfm_loader_get_total (NcfmLoader *self);

#ifndef __GI_SCANNER__
/* Reproducible shuffling for libncfm (C only): reorders values[0..n) so that
 * values[0..m) is a uniformly drawn m-subset in random order (m = n: a full
 * permutation), from Philox4x32-10 keyed by (seed, stream).  The same
 * arguments give the same order on every machine. */
void ncfm_shuffle_indices (guint64 seed, guint64 stream, guint *values, gsize n, gsize m);
#endif

G_END_DECLS
#endif
