/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity.h: CUDA-vs-CPU parity tests (ggml's test-backend-ops idea): each op
 * family adds its cases in parity/<family>.c; the program reports itself
 * skipped (TAP "1..0 # SKIP") when no CUDA device is usable. */
#ifndef NCFM_PARITY_H
#define NCFM_PARITY_H

#include "../test-util.h"

typedef struct {
  NcfmBackend *cpu;
  NcfmBackend *gpu;
} ParityEnv;

/* Copies n floats (or bytes) from the host to a new buffer on `be`. */
float *parity_upload (NcfmBackend *be, const float *host, size_t n);
void *parity_upload_bytes (NcfmBackend *be, const void *host, size_t bytes);
/* Downloads n floats from `be` into a new g_malloc'd host buffer. */
float *parity_download (NcfmBackend *be, const float *dev, size_t n);
/* Downloads gpu_buf and compares with cpu_buf (host) within rtol/atol. */
void parity_compare (const ParityEnv *env, const char *what, const float *gpu_buf,
    const float *cpu_buf, size_t n, double rtol, double atol);

/* One per family; each registers its g_test cases with `env` as data. */
void parity_add_elementwise (ParityEnv *env);
void parity_add_activation (ParityEnv *env);
void parity_add_conv2d (ParityEnv *env);
void parity_add_norm (ParityEnv *env);
void parity_add_pool (ParityEnv *env);
void parity_add_linear (ParityEnv *env);
void parity_add_loss (ParityEnv *env);
void parity_add_l2norm (ParityEnv *env);
void parity_add_resize (ParityEnv *env);
void parity_add_optim (ParityEnv *env);
void parity_add_random (ParityEnv *env);
void parity_add_cf (ParityEnv *env);
void parity_add_sorf (ParityEnv *env);
void parity_add_image (ParityEnv *env);
void parity_add_dsa (ParityEnv *env);

#endif
