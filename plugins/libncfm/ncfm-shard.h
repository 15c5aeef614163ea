/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_SHARD_H
#define NCFM_SHARD_H

#include <glib-object.h>

G_BEGIN_DECLS

gboolean ncfm_shard_resolve (guint *index, guint *count, GError **error);
guint *ncfm_shard_classes (const guint *classes, guint n_classes, guint index, guint count,
    guint *n_out, GError **error);
guint *ncfm_shard_slice (const guint *indices, guint n_indices, guint index, guint count,
    guint *n_out);

G_END_DECLS
#endif
