/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-image.c: STUB, to be written with the image kernels. */
#include "test-util.h"

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  return g_test_run ();
}
