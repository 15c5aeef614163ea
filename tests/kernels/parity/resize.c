/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/resize.c: STUB, to be implemented with the resize kernels. */
#include "parity.h"

void
parity_add_resize (ParityEnv *env)
{
  (void) env;
}
