/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/dsa.c: STUB, to be implemented with the dsa kernels. */
#include "parity.h"

void
parity_add_dsa (ParityEnv *env)
{
  (void) env;
}
