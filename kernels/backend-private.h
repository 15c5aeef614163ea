/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-private.h: constructors of the individual backends (backend.c picks
 * one) and the interface of the CUDA backend module. */
#ifndef NCFM_BACKEND_PRIVATE_H
#define NCFM_BACKEND_PRIVATE_H

#include "ncfm-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

NcfmBackend *ncfm_backend_new_cpu (void);

/* ---- the CUDA backend module ----
 * The CUDA backend (kernels/cuda/, linked against cudart and cuBLAS) is a
 * separate shared module, libncfm-cuda.so, so that loading libncfm costs no
 * CUDA runtime: backend.c dlopens it only when a CUDA backend is asked for.
 * The module exports one symbol, NCFM_CUDA_MODULE_ENTRY, a function that
 * returns the table below.  backend.c refuses a module whose table was built
 * from different structs (another checkout's build, say). */
#define NCFM_CUDA_MODULE_ENTRY "ncfm_cuda_module_table"
#define NCFM_CUDA_MODULE_ABI 1      /* bump when the table's meaning changes */

typedef struct {
  int abi;                          /* NCFM_CUDA_MODULE_ABI of the module's build */
  size_t backend_size;              /* sizeof (NcfmBackend) there */
  size_t ops_size;                  /* sizeof (NcfmBackendOps) there */
  /* Number of usable devices; 0 when the driver or a GPU is missing, with
   * the CUDA error text in why (may be NULL). */
  int (*usable_devices) (char *why, size_t why_len);
  /* NULL with a message in err if the device cannot be opened. */
  NcfmBackend *(*backend_new) (int device, char *err, size_t err_len);
  /* Frees the backend's CUDA state and be itself (not its scratch memory). */
  void (*backend_free) (NcfmBackend *be);
} NcfmCudaModule;

typedef const NcfmCudaModule *(*NcfmCudaModuleEntry) (void);

/* Defined in the module only (kernels/cuda/backend-cuda.cu); the first is
 * its entry point, the others fill the table. */
const NcfmCudaModule *ncfm_cuda_module_table (void);
int ncfm_cuda_usable_devices (char *why, size_t why_len);
NcfmBackend *ncfm_backend_new_cuda (int device, char *err, size_t err_len);
void ncfm_backend_free_cuda (NcfmBackend *be);

#ifdef __cplusplus
}
#endif
#endif
