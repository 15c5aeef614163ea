/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-cpu.c: host memory and the CPU op table (the reference backend). */
#include "cpu-ops.h"
#include "backend-private.h"
#include "cpu-blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* 64-byte alignment: whole cache lines and AVX-512 friendly. */
#define NCFM_CPU_ALIGN 64

void *
ncfm_cpu_alloc (NcfmBackend *be, size_t bytes)
{
  size_t rounded = (bytes + NCFM_CPU_ALIGN - 1) / NCFM_CPU_ALIGN * NCFM_CPU_ALIGN;
  void *p = aligned_alloc (NCFM_CPU_ALIGN, rounded ? rounded : NCFM_CPU_ALIGN);
  if (p) {
    memset (p, 0, rounded);
    ncfm_backend_note_alloc (be, p, rounded);
  }
  return p;
}

void
ncfm_cpu_free (NcfmBackend *be, void *ptr)
{
  if (!ptr)
    return;
  ncfm_backend_note_free (be, ptr);
  free (ptr);
}

void
ncfm_cpu_upload (NcfmBackend *be, void *dst, const void *host_src, size_t bytes)
{
  (void) be;
  if (bytes)
    memcpy (dst, host_src, bytes);
}

void
ncfm_cpu_download (NcfmBackend *be, void *host_dst, const void *src, size_t bytes)
{
  (void) be;
  if (bytes)
    memcpy (host_dst, src, bytes);
}

void
ncfm_cpu_copy (NcfmBackend *be, void *dst, const void *src, size_t bytes)
{
  (void) be;
  if (bytes && dst != src)
    memmove (dst, src, bytes);
}

void
ncfm_cpu_synchronize (NcfmBackend *be)
{
  (void) be;
}

static const NcfmBackendOps ncfm_cpu_ops = {
  .alloc = ncfm_cpu_alloc,
  .free = ncfm_cpu_free,
  .upload = ncfm_cpu_upload,
  .download = ncfm_cpu_download,
  .copy = ncfm_cpu_copy,
  .synchronize = ncfm_cpu_synchronize,
  .fill = ncfm_cpu_fill,
  .axpby = ncfm_cpu_axpby,
  .clamp = ncfm_cpu_clamp,
  .scale_rows = ncfm_cpu_scale_rows,
  .conv2d_forward = ncfm_cpu_conv2d_forward,
  .conv2d_backward = ncfm_cpu_conv2d_backward,
  .conv_block_forward = ncfm_cpu_conv_block_forward,
  .groupnorm_forward = ncfm_cpu_groupnorm_forward,
  .groupnorm_backward = ncfm_cpu_groupnorm_backward,
  .batchnorm_forward_train = ncfm_cpu_batchnorm_forward_train,
  .batchnorm_forward_eval = ncfm_cpu_batchnorm_forward_eval,
  .batchnorm_backward = ncfm_cpu_batchnorm_backward,
  .leaky_relu_forward = ncfm_cpu_leaky_relu_forward,
  .leaky_relu_backward = ncfm_cpu_leaky_relu_backward,
  .tanh_forward = ncfm_cpu_tanh_forward,
  .tanh_backward = ncfm_cpu_tanh_backward,
  .avgpool2x2_forward = ncfm_cpu_avgpool2x2_forward,
  .avgpool2x2_backward = ncfm_cpu_avgpool2x2_backward,
  .linear_forward = ncfm_cpu_linear_forward,
  .linear_backward = ncfm_cpu_linear_backward,
  .cross_entropy_forward = ncfm_cpu_cross_entropy_forward,
  .cross_entropy_backward = ncfm_cpu_cross_entropy_backward,
  .l2norm_rows_forward = ncfm_cpu_l2norm_rows_forward,
  .l2norm_rows_backward = ncfm_cpu_l2norm_rows_backward,
  .resize_bilinear_forward = ncfm_cpu_resize_bilinear_forward,
  .resize_bilinear_backward = ncfm_cpu_resize_bilinear_backward,
  .fill_normal = ncfm_cpu_fill_normal,
  .cf_accumulate = ncfm_cpu_cf_accumulate,
  .cf_backward_weights = ncfm_cpu_cf_backward_weights,
  .ncfd_forward_backward = ncfm_cpu_ncfd_forward_backward,
  .mmd_forward_backward = ncfm_cpu_mmd_forward_backward,
  .sorf_forward = ncfm_cpu_sorf_forward,
  .sorf_backward = ncfm_cpu_sorf_backward,
  .u8_to_f32 = ncfm_cpu_u8_to_f32,
  .channel_affine = ncfm_cpu_channel_affine,
  .tiles_split = ncfm_cpu_tiles_split,
  .tiles_merge = ncfm_cpu_tiles_merge,
  .dsa_brightness = ncfm_cpu_dsa_brightness,
  .dsa_saturation = ncfm_cpu_dsa_saturation,
  .dsa_contrast = ncfm_cpu_dsa_contrast,
  .dsa_translate = ncfm_cpu_dsa_translate,
  .dsa_cutout = ncfm_cpu_dsa_cutout,
  .dsa_flip = ncfm_cpu_dsa_flip,
  .dsa_affine_forward = ncfm_cpu_dsa_affine_forward,
  .dsa_affine_backward = ncfm_cpu_dsa_affine_backward,
  .cutmix = ncfm_cpu_cutmix,
  .adamw_step = ncfm_cpu_adamw_step,
  .sgd_step = ncfm_cpu_sgd_step,
};

NcfmBackend *
ncfm_backend_new_cpu (void)
{
  NcfmBackend *be = calloc (1, sizeof *be);
  if (!be)
    return NULL;
  be->ops = &ncfm_cpu_ops;
  be->type = NCFM_DEVICE_CPU;
  ncfm_cpu_blas_init ();
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads ();
#endif
  snprintf (be->name, sizeof be->name, "cpu (%d thread%s)", threads, threads == 1 ? "" : "s");
  return be;
}
