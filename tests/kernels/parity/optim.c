/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/optim.c: STUB, to be implemented with the optim kernels. */
#include "parity.h"

void
parity_add_optim (ParityEnv *env)
{
  (void) env;
}
