/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libncfm-test.h: helpers shared by the libncfm tests: a CPU device, host
 * copies of tensors, and comparison with PyTorch golden files. */
#ifndef NCFM_LIBNCFM_TEST_H
#define NCFM_LIBNCFM_TEST_H

#include "ncfm.h"
#include "test-util.h"

G_BEGIN_DECLS

/* PyTorch agreement: normwise relative error max|ours - ref| / max(max|ref|, scale). */
#define NCFM_TEST_TORCH_RTOL 1e-4

NcfmDevice *ncfm_test_cpu_device (void);
/* A g_malloc'd host copy of a F32 tensor. */
float *ncfm_test_tensor_host (NcfmTensor *t);
/* F32 [rows, cols] of N(0, stddev^2) values on a CPU @dev. */
NcfmTensor *ncfm_test_random_tensor (NcfmDevice *dev, GRand *rand, gint64 rows, gint64 cols,
    float stddev);
/* I32 [n] labels 0, 1, .., k - 1, 0, 1, .. on a CPU @dev. */
NcfmTensor *ncfm_test_labels_tensor (NcfmDevice *dev, gint64 n, guint k);
/* Loads tests/fixtures/FILE (via G_TEST_SRCDIR). */
NcfmSafetensors *ncfm_test_load_fixture (const gchar *file);
/* Asserts host data `got` [n] matches fixture entry `name` to
 * NCFM_TEST_TORCH_RTOL; `scale` (if larger) replaces max|ref| as the
 * denominator for entries that are rounding noise on both sides. */
void ncfm_test_assert_matches (const gchar *what, const float *got, gsize n,
    NcfmSafetensors *ref, const gchar *name, double scale);
void ncfm_test_assert_tensor_matches (const gchar *what, NcfmTensor *t, NcfmSafetensors *ref,
    const gchar *name, double scale);

/* Asserts *@error is (@domain, @code) and its message contains @needle, then clears it. */
void ncfm_test_assert_error (GError **error, GQuark domain, gint code, const gchar *needle);

/* Removes @path and everything below it (a test's scratch directory). */
void ncfm_test_remove_tree (const gchar *path);
/* Writes @v big-endian at @p (IDX and PNG headers). */
void ncfm_test_put_be32 (guint8 *p, guint32 v);

G_END_DECLS
#endif
