/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_SAMPLER_H
#define NCFM_SAMPLER_H

#include <glib-object.h>
#include "ncfm-device.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"
#include "ncfm-comm.h"

G_BEGIN_DECLS

/**
 * NcfmSamplerKind:
 * @NCFM_SAMPLER_GAUSSIAN: t ~ sigma N(0, I), drawn afresh every time
 * @NCFM_SAMPLER_LEARNED: t = psi(eps), the learned sampler trained by gradient ascent
 * @NCFM_SAMPLER_STRUCTURED: structured orthogonal random frequencies (SORF):
 *   blocks of orthogonal rows from fast Hadamard transforms and random signs,
 *   row norms of sigma N(0, I)'s law, drawn afresh every time
 *
 * How an #NcfmSampler draws its frequencies.
 */
typedef enum {
  NCFM_SAMPLER_GAUSSIAN,
  NCFM_SAMPLER_LEARNED,
  NCFM_SAMPLER_STRUCTURED,
} NcfmSamplerKind;

const gchar *ncfm_sampler_kind_to_string (NcfmSamplerKind kind);
gboolean ncfm_sampler_kind_from_string (const gchar *name, NcfmSamplerKind *kind);

#define NCFM_TYPE_SAMPLER (ncfm_sampler_get_type ())
G_DECLARE_FINAL_TYPE (NcfmSampler, ncfm_sampler, NCFM, SAMPLER, GObject)

#define NCFM_TYPE_FREQ_DRAW (ncfm_freq_draw_get_type ())
G_DECLARE_FINAL_TYPE (NcfmFreqDraw, ncfm_freq_draw, NCFM, FREQ_DRAW, GObject)

NcfmTensor *ncfm_freq_draw_get_t (NcfmFreqDraw *self);
NcfmTensor *ncfm_freq_draw_get_noise (NcfmFreqDraw *self);
guint64 ncfm_freq_draw_get_index (NcfmFreqDraw *self);
NcfmSampler *ncfm_freq_draw_dup_sampler (NcfmFreqDraw *self);
gboolean ncfm_freq_draw_get_structure (NcfmFreqDraw *self, NcfmTensor **signs,
    NcfmTensor **scale);
gboolean ncfm_freq_draw_phases (NcfmFreqDraw *self, NcfmTensor *x, NcfmTensor *phase,
    GError **error);
gboolean ncfm_freq_draw_phases_backward (NcfmFreqDraw *self, NcfmTensor *dphase, NcfmTensor *dx,
    GError **error);


NcfmSampler *ncfm_sampler_new_gaussian (NcfmDevice *device, guint num_freqs, guint dim,
    gfloat sigma, guint64 seed, GError **error);
NcfmSampler *ncfm_sampler_new_learned (NcfmDevice *device, guint num_freqs, guint dim,
    guint64 seed, GError **error);
NcfmSampler *ncfm_sampler_new_structured (NcfmDevice *device, guint num_freqs, guint dim,
    gfloat sigma, guint64 seed, GError **error);
NcfmSampler *ncfm_sampler_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file,
    const gchar *prefix, GError **error);
void ncfm_sampler_save (NcfmSampler *self, NcfmSafetensors *file, const gchar *prefix);
gboolean ncfm_sampler_load_state (NcfmSampler *self, NcfmSafetensors *file,
    const gchar *prefix, GError **error);

NcfmTensor *ncfm_sampler_sample (NcfmSampler *self, GError **error);
NcfmTensor *ncfm_sampler_sample_with_noise (NcfmSampler *self, NcfmTensor *noise,
    GError **error);
NcfmTensor *ncfm_sampler_sample_distinct (NcfmSampler *self, NcfmTensor *noise,
    GError **error);
NcfmFreqDraw *ncfm_sampler_draw (NcfmSampler *self, NcfmTensor *noise, gboolean distinct,
    GError **error);
NcfmFreqDraw *ncfm_sampler_draw_shared (NcfmSampler *self, NcfmComm *comm, GError **error);
gboolean ncfm_sampler_backward (NcfmSampler *self, NcfmFreqDraw *draw, NcfmTensor *grad_t,
    GError **error);
void ncfm_sampler_ascent_step (NcfmSampler *self);
void ncfm_sampler_zero_grad (NcfmSampler *self);
void ncfm_sampler_lock (NcfmSampler *self);
void ncfm_sampler_unlock (NcfmSampler *self);

gboolean ncfm_sampler_set_optimizer (NcfmSampler *self, gfloat lr, gfloat momentum,
    gfloat weight_decay, GError **error);
void ncfm_sampler_get_optimizer (NcfmSampler *self, gfloat *lr, gfloat *momentum,
    gfloat *weight_decay);

NcfmDevice *ncfm_sampler_get_device (NcfmSampler *self);
NcfmSamplerKind ncfm_sampler_get_kind (NcfmSampler *self);
guint ncfm_sampler_get_num_freqs (NcfmSampler *self);
guint ncfm_sampler_get_distinct_freqs (NcfmSampler *self);
guint ncfm_sampler_get_dim (NcfmSampler *self);
guint ncfm_sampler_get_noise_rows (NcfmSampler *self);
gfloat ncfm_sampler_get_sigma (NcfmSampler *self);
guint64 ncfm_sampler_get_seed (NcfmSampler *self);
guint64 ncfm_sampler_get_offset (NcfmSampler *self);
void ncfm_sampler_seek_draw (NcfmSampler *self, guint64 index);
guint64 ncfm_sampler_get_step (NcfmSampler *self);

guint ncfm_sampler_get_n_parameters (NcfmSampler *self);
const gchar *ncfm_sampler_get_parameter_name (NcfmSampler *self, guint index);
NcfmTensor *ncfm_sampler_get_parameter (NcfmSampler *self, const gchar *name);
NcfmTensor *ncfm_sampler_get_gradient (NcfmSampler *self, const gchar *name);

G_END_DECLS
#endif
