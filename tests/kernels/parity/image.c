/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/image.c: STUB, to be implemented with the image kernels. */
#include "parity.h"

void
parity_add_image (ParityEnv *env)
{
  (void) env;
}
