/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-finite-private.h: the one NaN/infinity check of libncfm, shared by
 * the model loaders (ncfm-convnet-io.c, ncfm-resnet-io.c) and the public
 * checks of ncfm-finite.c. */
#ifndef NCFM_FINITE_PRIVATE_H
#define NCFM_FINITE_PRIVATE_H

#include <glib.h>

G_BEGIN_DECLS

/* Fails with NCFM_ERROR_NOT_FINITE ("SOURCE: tensor 'NAME' has a NaN at
 * element I (...)") if v[0..n) holds a NaN or an infinity; `source` is the
 * file (or "model") the tensor came from. */
gboolean ncfm_check_finite_f32 (const gfloat *v, gsize n, const gchar *source,
    const gchar *tensor, GError **error);

G_END_DECLS
#endif
