/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/loss.c: STUB, to be implemented with the loss kernels. */
#include "parity.h"

void
parity_add_loss (ParityEnv *env)
{
  (void) env;
}
