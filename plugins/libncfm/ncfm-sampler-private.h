/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-sampler-private.h: what ncfm-sampler.c shares with the structured
 * sampler's file (ncfm-sampler-sorf.c). */
#ifndef NCFM_SAMPLER_PRIVATE_H
#define NCFM_SAMPLER_PRIVATE_H

#include "ncfm-sampler.h"

G_BEGIN_DECLS

/* A sampler of @kind with the given sizes, unchecked (ncfm-sampler.c). */
NcfmSampler *ncfm_sampler_new_unchecked (NcfmDevice *device, NcfmSamplerKind kind,
    guint num_freqs, guint dim, gfloat sigma, guint64 seed);

/* The structured draw number @index of @seed, F32 [num_freqs, dim] on
 * @device, with what the sorf ops need to compute x t^T without it: *signs
 * F32 [blocks, 3 p] and *scale F32 [num_freqs, 1], or both NULL when a row
 * fell back to an axis (ncfm-sampler-sorf.c). */
NcfmTensor *ncfm_sorf_draw (NcfmDevice *device, guint num_freqs, guint dim, gfloat sigma,
    guint64 seed, guint64 index, NcfmTensor **signs, NcfmTensor **scale, GError **error);

G_END_DECLS
#endif
