/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blobs.h: a tiny separable image dataset for the training and evaluation
 * tests: 16x16 grey images, class c = a bright 4x4 square at a position of
 * its own (column c % 4, row c / 4 of a 4x4 grid) on uniform noise, labels
 * i % k.  Written as the IDX train and t10k splits of a directory. */
#ifndef NCFM_TEST_BLOBS_H
#define NCFM_TEST_BLOBS_H

#include <glib.h>

#define BLOBS_SIZE 16
#define BLOBS_MAX_CLASSES 16

/* One image of class @c (BLOBS_SIZE x BLOBS_SIZE bytes) drawn from @rand. */
void blobs_image (guint c, GRand *rand, guint8 *out);
gboolean blobs_write (const gchar *dir, guint num_classes, guint n_train, guint n_test,
    guint64 seed, GError **error);

#endif
