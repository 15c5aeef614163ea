/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/pool.c: STUB, to be implemented with the pool kernels. */
#include "parity.h"

void
parity_add_pool (ParityEnv *env)
{
  (void) env;
}
