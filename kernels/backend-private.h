/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-private.h: constructors of the individual backends (backend.c picks one). */
#ifndef NCFM_BACKEND_PRIVATE_H
#define NCFM_BACKEND_PRIVATE_H

#include "ncfm-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

NcfmBackend *ncfm_backend_new_cpu (void);

#ifdef NCFM_HAVE_CUDA
/* Number of usable devices; 0 when the driver or a GPU is missing.  If
 * why is non-NULL it receives the CUDA error text in that case. */
int ncfm_cuda_usable_devices (char *why, size_t why_len);
/* NULL with a message in err if the device cannot be opened. */
NcfmBackend *ncfm_backend_new_cuda (int device, char *err, size_t err_len);
void ncfm_backend_free_cuda (NcfmBackend *be);
#endif

#ifdef __cplusplus
}
#endif
#endif
