/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* weights-test-util.h: bad weights files and file hashes for the tests that
 * check that NaN weights never get in and saved files stay as they were. */
#ifndef NCFM_WEIGHTS_TEST_UTIL_H
#define NCFM_WEIGHTS_TEST_UTIL_H

#include <glib.h>

/* Rewrites the weights file @path with a NaN at element @at of @tensor. */
void poison_weights_file (const gchar *path, const gchar *tensor, gsize at);
/* The SHA-256 of the file's bytes (the test fails if it cannot be read). */
gchar *file_sha256 (const gchar *path);

#endif
