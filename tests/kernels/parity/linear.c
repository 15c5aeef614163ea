/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/linear.c: STUB, to be implemented with the linear kernels. */
#include "parity.h"

void
parity_add_linear (ParityEnv *env)
{
  (void) env;
}
