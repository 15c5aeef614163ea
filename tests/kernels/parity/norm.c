/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/norm.c: STUB, to be implemented with the norm kernels. */
#include "parity.h"

void
parity_add_norm (ParityEnv *env)
{
  (void) env;
}
