/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-cuda.cu: device memory, the stream and cuBLAS handle, the CUDA op table, and
 * the entry point of the CUDA module (libncfm-cuda.so, see ../backend-private.h). */
#include "common.cuh"
#include "../backend-private.h"

#include <cstdint>
#include <cstring>

int
ncfm_cuda_usable_devices (char *why, size_t why_len)
{
  int count = 0;
  cudaError_t err = cudaGetDeviceCount (&count);
  if (err != cudaSuccess) {
    if (why && why_len)
      snprintf (why, why_len, "%s", cudaGetErrorString (err));
    (void) cudaGetLastError ();   /* clear the sticky error */
    return 0;
  }
  if (count == 0 && why && why_len)
    snprintf (why, why_len, "no CUDA device found");
  return count;
}

/* Tensors come and go with every buffer (images, features, t): with the
 * device's memory pool (cudaMallocAsync, release threshold at the maximum)
 * a free returns the block to the pool in stream order and the next
 * allocation of that size reuses it, without cudaMalloc/cudaFree and their
 * device-wide synchronisation. */
void *
ncfm_cuda_alloc (NcfmBackend *be, size_t bytes)
{
  void *p = NULL;
  NcfmCudaState *st = ncfm_cuda_state (be);
  CUDA_CHECK (cudaSetDevice (be->device_index));
  cudaError_t e = st->pooled ? cudaMallocAsync (&p, bytes ? bytes : 1, st->stream)
      : cudaMalloc (&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    (void) cudaGetLastError ();
    return NULL;
  }
  CUDA_CHECK (cudaMemsetAsync (p, 0, bytes, ncfm_cuda_stream (be)));
  ncfm_backend_note_alloc (be, p, bytes);
  return p;
}

void
ncfm_cuda_free (NcfmBackend *be, void *ptr)
{
  if (!ptr)
    return;
  NcfmCudaState *st = ncfm_cuda_state (be);
  ncfm_backend_note_free (be, ptr);
  if (st->pooled) {
    /* after the work already queued on the stream, which may still use ptr */
    CUDA_CHECK (cudaFreeAsync (ptr, st->stream));
    return;
  }
  /* the stream may still use ptr */
  CUDA_CHECK (cudaStreamSynchronize (st->stream));
  CUDA_CHECK (cudaFree (ptr));
}

void
ncfm_cuda_upload (NcfmBackend *be, void *dst, const void *host_src, size_t bytes)
{
  if (!bytes)
    return;
  CUDA_CHECK (cudaMemcpyAsync (dst, host_src, bytes, cudaMemcpyHostToDevice, ncfm_cuda_stream (be)));
  /* pageable host memory: make the copy complete before the caller may free it */
  CUDA_CHECK (cudaStreamSynchronize (ncfm_cuda_stream (be)));
}

void
ncfm_cuda_download (NcfmBackend *be, void *host_dst, const void *src, size_t bytes)
{
  if (!bytes)
    return;
  CUDA_CHECK (cudaMemcpyAsync (host_dst, src, bytes, cudaMemcpyDeviceToHost, ncfm_cuda_stream (be)));
  CUDA_CHECK (cudaStreamSynchronize (ncfm_cuda_stream (be)));
}

void
ncfm_cuda_copy (NcfmBackend *be, void *dst, const void *src, size_t bytes)
{
  if (!bytes || dst == src)
    return;
  CUDA_CHECK (cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToDevice, ncfm_cuda_stream (be)));
}

void
ncfm_cuda_synchronize (NcfmBackend *be)
{
  CUDA_CHECK (cudaStreamSynchronize (ncfm_cuda_stream (be)));
}

static const NcfmBackendOps ncfm_cuda_ops = {
  .alloc = ncfm_cuda_alloc,
  .free = ncfm_cuda_free,
  .upload = ncfm_cuda_upload,
  .download = ncfm_cuda_download,
  .copy = ncfm_cuda_copy,
  .synchronize = ncfm_cuda_synchronize,
  .fill = ncfm_cuda_fill,
  .axpby = ncfm_cuda_axpby,
  .clamp = ncfm_cuda_clamp,
  .scale_rows = ncfm_cuda_scale_rows,
  .conv2d_forward = ncfm_cuda_conv2d_forward,
  .conv2d_backward = ncfm_cuda_conv2d_backward,
  .conv_block_forward = ncfm_cuda_conv_block_forward,
  .groupnorm_forward = ncfm_cuda_groupnorm_forward,
  .groupnorm_backward = ncfm_cuda_groupnorm_backward,
  .batchnorm_forward_train = ncfm_cuda_batchnorm_forward_train,
  .batchnorm_forward_eval = ncfm_cuda_batchnorm_forward_eval,
  .batchnorm_backward = ncfm_cuda_batchnorm_backward,
  .leaky_relu_forward = ncfm_cuda_leaky_relu_forward,
  .leaky_relu_backward = ncfm_cuda_leaky_relu_backward,
  .tanh_forward = ncfm_cuda_tanh_forward,
  .tanh_backward = ncfm_cuda_tanh_backward,
  .avgpool2x2_forward = ncfm_cuda_avgpool2x2_forward,
  .avgpool2x2_backward = ncfm_cuda_avgpool2x2_backward,
  .linear_forward = ncfm_cuda_linear_forward,
  .linear_backward = ncfm_cuda_linear_backward,
  .cross_entropy_forward = ncfm_cuda_cross_entropy_forward,
  .cross_entropy_backward = ncfm_cuda_cross_entropy_backward,
  .l2norm_rows_forward = ncfm_cuda_l2norm_rows_forward,
  .l2norm_rows_backward = ncfm_cuda_l2norm_rows_backward,
  .resize_bilinear_forward = ncfm_cuda_resize_bilinear_forward,
  .resize_bilinear_backward = ncfm_cuda_resize_bilinear_backward,
  .fill_normal = ncfm_cuda_fill_normal,
  .cf_accumulate = ncfm_cuda_cf_accumulate,
  .cf_backward_weights = ncfm_cuda_cf_backward_weights,
  .ncfd_forward_backward = ncfm_cuda_ncfd_forward_backward,
  .mmd_forward_backward = ncfm_cuda_mmd_forward_backward,
  .sorf_forward = ncfm_cuda_sorf_forward,
  .sorf_backward = ncfm_cuda_sorf_backward,
  .u8_to_f32 = ncfm_cuda_u8_to_f32,
  .channel_affine = ncfm_cuda_channel_affine,
  .tiles_split = ncfm_cuda_tiles_split,
  .tiles_merge = ncfm_cuda_tiles_merge,
  .dsa_brightness = ncfm_cuda_dsa_brightness,
  .dsa_saturation = ncfm_cuda_dsa_saturation,
  .dsa_contrast = ncfm_cuda_dsa_contrast,
  .dsa_translate = ncfm_cuda_dsa_translate,
  .dsa_cutout = ncfm_cuda_dsa_cutout,
  .dsa_flip = ncfm_cuda_dsa_flip,
  .dsa_affine_forward = ncfm_cuda_dsa_affine_forward,
  .dsa_affine_backward = ncfm_cuda_dsa_affine_backward,
  .cutmix = ncfm_cuda_cutmix,
  .adamw_step = ncfm_cuda_adamw_step,
  .sgd_step = ncfm_cuda_sgd_step,
};

NcfmBackend *
ncfm_backend_new_cuda (int device, char *err, size_t err_len)
{
  cudaDeviceProp prop;
  cudaError_t e = cudaSetDevice (device);
  if (e == cudaSuccess)
    e = cudaGetDeviceProperties (&prop, device);
  if (e != cudaSuccess) {
    if (err && err_len)
      snprintf (err, err_len, "cannot open cuda:%d: %s", device, cudaGetErrorString (e));
    (void) cudaGetLastError ();
    return NULL;
  }
  NcfmBackend *be = (NcfmBackend *) calloc (1, sizeof *be);
  NcfmCudaState *st = (NcfmCudaState *) calloc (1, sizeof *st);
  if (!be || !st) {
    free (be);
    free (st);
    return NULL;
  }
  st->device = device;
  CUDA_CHECK (cudaStreamCreateWithFlags (&st->stream, cudaStreamNonBlocking));
  CUBLAS_CHECK (cublasCreate (&st->cublas));
  CUBLAS_CHECK (cublasSetStream (st->cublas, st->stream));
  /* plain FP32 maths: parity with the CPU reference matters more than TF32 speed */
  CUBLAS_CHECK (cublasSetMathMode (st->cublas, CUBLAS_DEFAULT_MATH));
  /* keep freed blocks in the device's pool instead of returning them to the driver */
  CUDA_CHECK (cudaDeviceGetAttribute (&st->pooled, cudaDevAttrMemoryPoolsSupported, device));
  if (st->pooled) {
    cudaMemPool_t pool;
    uint64_t keep = UINT64_MAX;
    CUDA_CHECK (cudaDeviceGetDefaultMemPool (&pool, device));
    CUDA_CHECK (cudaMemPoolSetAttribute (pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  be->ops = &ncfm_cuda_ops;
  be->type = NCFM_DEVICE_CUDA;
  be->device_index = device;
  be->impl = st;
  snprintf (be->name, sizeof be->name, "cuda:%d (%.96s)", device, prop.name);
  return be;
}

void
ncfm_backend_free_cuda (NcfmBackend *be)
{
  NcfmCudaState *st = ncfm_cuda_state (be);
  CUDA_CHECK (cudaSetDevice (st->device));
  CUDA_CHECK (cudaStreamSynchronize (st->stream));
  CUBLAS_CHECK (cublasDestroy (st->cublas));
  CUDA_CHECK (cudaStreamDestroy (st->stream));
  free (st);
  free (be);
}

/* The module's one exported symbol (NCFM_CUDA_MODULE_ENTRY in
 * backend-private.h): libncfm-cuda.so is built with hidden visibility. */
__attribute__ ((visibility ("default"))) const NcfmCudaModule *
ncfm_cuda_module_table (void)
{
  static const NcfmCudaModule table = {
    .abi = NCFM_CUDA_MODULE_ABI,
    .backend_size = sizeof (NcfmBackend),
    .ops_size = sizeof (NcfmBackendOps),
    .usable_devices = ncfm_cuda_usable_devices,
    .backend_new = ncfm_backend_new_cuda,
    .backend_free = ncfm_backend_free_cuda,
  };
  return &table;
}
