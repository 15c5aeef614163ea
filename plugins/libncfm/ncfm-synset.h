/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_SYNSET_H
#define NCFM_SYNSET_H

#include <glib-object.h>
#include "ncfm-dataset.h"
#include "ncfm-device.h"
#include "ncfm-multiformation.h"
#include "ncfm-safetensors.h"
#include "ncfm-sampler.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

/**
 * NCFM_SYNSET_ERROR:
 *
 * Error domain of the synthetic-set checks.  Every message starts with the
 * file name and names the tensor or metadata key at fault.
 */
#define NCFM_SYNSET_ERROR (ncfm_synset_error_quark ())
GQuark ncfm_synset_error_quark (void);

/**
 * NcfmSynsetError:
 * @NCFM_SYNSET_ERROR_FORMAT: not a synthetic set (ncfm.format), an unsupported
 *   ncfm.format_version, or metadata that does not parse (ncfm.factor, ncfm.ipc,
 *   ncfm.step, ncfm.class_names)
 * @NCFM_SYNSET_ERROR_TENSOR: a tensor is missing or has the wrong dtype or shape
 * @NCFM_SYNSET_ERROR_LABELS: a label is negative or not a class of ncfm.class_names
 * @NCFM_SYNSET_ERROR_VALUE: a value is not finite or out of its range (pixels
 *   outside [0, 1], a negative second moment, an absurd step count)
 */
typedef enum {
  NCFM_SYNSET_ERROR_FORMAT,
  NCFM_SYNSET_ERROR_TENSOR,
  NCFM_SYNSET_ERROR_LABELS,
  NCFM_SYNSET_ERROR_VALUE,
} NcfmSynsetError;

/**
 * NCFM_SYNSET_MAX_FACTOR:
 *
 * The largest multi-formation factor (ncfm.factor) a synthetic set may have.
 */
#define NCFM_SYNSET_MAX_FACTOR 16

/**
 * NCFM_SYNSET_PIXEL_TOLERANCE:
 *
 * How far outside [0, 1] a stored pixel may lie (float rounding of a
 * writer that clamps in another precision); anything beyond is an error.
 */
#define NCFM_SYNSET_PIXEL_TOLERANCE 1e-4

/**
 * NCFM_SYNSET_MAX_STEP:
 *
 * The largest step count (ncfm.step, adamw.step) a synthetic set may hold:
 * 2^53, where a double stops counting exactly; a wrapped negative count
 * read as unsigned lies far beyond.
 */
#define NCFM_SYNSET_MAX_STEP (G_GUINT64_CONSTANT (1) << 53)

gboolean ncfm_synset_validate (NcfmSafetensors *set, const gchar *name, GError **error);
gboolean ncfm_synset_file_validate (const gchar *path, GError **error);
gchar **ncfm_synset_get_class_names (NcfmSafetensors *set, const gchar *name, GError **error);

#define NCFM_TYPE_SYNSET (ncfm_synset_get_type ())
G_DECLARE_FINAL_TYPE (NcfmSynset, ncfm_synset, NCFM, SYNSET, GObject)

NcfmSynset *ncfm_synset_new (NcfmDataset *dataset, guint ipc, guint factor, NcfmDevice *device,
    GError **error);
NcfmSynset *ncfm_synset_new_class_shard (NcfmDataset *dataset, guint ipc, guint factor,
    guint shard_index, guint shard_count, NcfmDevice *device, GError **error);
guint ncfm_synset_get_class_shard (NcfmSynset *self, guint *shard_count);
gboolean ncfm_synset_holds_class (NcfmSynset *self, guint c);
gboolean ncfm_synset_init_images (NcfmSynset *self, NcfmDataset *dataset, NcfmSynsetInit init,
    guint64 seed, GError **error);
gboolean ncfm_synset_load_state (NcfmSynset *self, NcfmSafetensors *file, GError **error);
NcfmSafetensors *ncfm_synset_to_safetensors (NcfmSynset *self, NcfmSampler *psi);
gboolean ncfm_synset_save (NcfmSynset *self, const gchar *path, NcfmSampler *psi,
    GError **error);
gchar *ncfm_synset_class_names_json (NcfmSynset *self);
void ncfm_synset_set_metadata (NcfmSynset *self, const gchar *key, const gchar *value);
void ncfm_synset_set_dataset_path (NcfmSynset *self, const gchar *path);
gboolean ncfm_synset_set_normalization (NcfmSynset *self, const gfloat *mean,
    const gfloat *std, guint n_channels);
guint ncfm_synset_get_normalization (NcfmSynset *self, gfloat *mean, gfloat *std);
NcfmTensor *ncfm_synset_get_images (NcfmSynset *self, guint c);
gboolean ncfm_synset_adamw_step (NcfmSynset *self, guint c, NcfmTensor *grad, gfloat lr,
    gfloat weight_decay, GError **error);
guint64 ncfm_synset_get_step (NcfmSynset *self);
void ncfm_synset_set_step (NcfmSynset *self, guint64 step);
NcfmDevice *ncfm_synset_get_device (NcfmSynset *self);
void ncfm_synset_get_shape (NcfmSynset *self, guint *num_classes, guint *ipc, guint *channels,
    guint *height, guint *width, guint *factor);

G_END_DECLS
#endif
