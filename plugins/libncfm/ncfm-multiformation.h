/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_MULTIFORMATION_H
#define NCFM_MULTIFORMATION_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-dataset.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NcfmSynsetInit:
 * @NCFM_SYNSET_INIT_NOISE: uniform noise in [0, 1)
 * @NCFM_SYNSET_INIT_REAL: a real image of the class per stored image
 * @NCFM_SYNSET_INIT_MIX: every tile of a stored image is a real image of the
 *   class downsampled to the tile size (so decoding starts near real images)
 *
 * How the stored images of a synthetic set start.
 */
typedef enum {
  NCFM_SYNSET_INIT_NOISE,
  NCFM_SYNSET_INIT_REAL,
  NCFM_SYNSET_INIT_MIX,
} NcfmSynsetInit;

const gchar *ncfm_synset_init_to_string (NcfmSynsetInit mode);
gboolean ncfm_synset_init_from_string (const gchar *name, NcfmSynsetInit *mode);

NcfmTensor *ncfm_multiformation_decode (NcfmTensor *images, guint factor,
    NcfmActivations *work, GError **error);
NcfmTensor *ncfm_multiformation_backward (NcfmTensor *grad_decoded, guint factor,
    NcfmActivations *work, GError **error);

gboolean ncfm_multiformation_init (NcfmDataset *dataset, guint ipc, guint factor,
    NcfmSynsetInit mode, guint64 seed, NcfmDevice *device, NcfmTensor **images,
    NcfmTensor **labels, GError **error);

G_END_DECLS
#endif
