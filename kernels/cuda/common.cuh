/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common.cuh: the one place for CUDA/cuBLAS error checks and the CUDA
 * backend's private state (stream, cuBLAS handle).  Included by every .cu. */
#ifndef NCFM_CUDA_COMMON_CUH
#define NCFM_CUDA_COMMON_CUH

#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "cuda-ops.h"

#define CUDA_CHECK(call)                                                        \
  do {                                                                          \
    cudaError_t err_ = (call);                                                  \
    if (err_ != cudaSuccess) {                                                  \
      fprintf (stderr, "ncfm: CUDA error %s at %s:%d: %s\n", cudaGetErrorName (err_), \
          __FILE__, __LINE__, cudaGetErrorString (err_));                       \
      abort ();                                                                 \
    }                                                                           \
  } while (0)

#define CUBLAS_CHECK(call)                                                      \
  do {                                                                          \
    cublasStatus_t st_ = (call);                                                \
    if (st_ != CUBLAS_STATUS_SUCCESS) {                                         \
      fprintf (stderr, "ncfm: cuBLAS error %d at %s:%d\n", (int) st_, __FILE__, __LINE__); \
      abort ();                                                                 \
    }                                                                           \
  } while (0)

/* Launch errors are checked right after every launch. */
#define CUDA_CHECK_LAUNCH() CUDA_CHECK (cudaGetLastError ())

typedef struct {
  int device;
  cudaStream_t stream;
  cublasHandle_t cublas;
  int pooled;   /* stream-ordered allocation from the device's memory pool */
} NcfmCudaState;

static inline NcfmCudaState *
ncfm_cuda_state (NcfmBackend *be)
{
  return (NcfmCudaState *) be->impl;
}

static inline cudaStream_t
ncfm_cuda_stream (NcfmBackend *be)
{
  return ncfm_cuda_state (be)->stream;
}

static inline cublasHandle_t
ncfm_cuda_cublas (NcfmBackend *be)
{
  return ncfm_cuda_state (be)->cublas;
}

/* Grid size for a 1-D elementwise launch of `count` items, capped so a
 * grid-stride loop covers the rest. */
static inline unsigned int
ncfm_cuda_blocks (size_t count, unsigned int threads)
{
  size_t b = (count + threads - 1) / threads;
  if (b > 65535u * 8u)
    b = 65535u * 8u;
  return (unsigned int) (b ? b : 1);
}

/* Grid-stride loop over [0, count). */
#define GRID_STRIDE(i, count) \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (count); \
      i += (size_t) gridDim.x * blockDim.x)

/* 1-D launch of kernel(count, ...) on the backend's stream (expects `be` in scope). */
#define LAUNCH_1D(kernel, count, ...)                                          \
  do {                                                                         \
    if (count) {                                                               \
      kernel<<<ncfm_cuda_blocks (count, 256), 256, 0, ncfm_cuda_stream (be)>>> (count, __VA_ARGS__); \
      CUDA_CHECK_LAUNCH ();                                                    \
    }                                                                          \
  } while (0)

/* Warp- and block-wide reductions (blockDim.x a multiple of 32, at most 1024). */
static __device__ __forceinline__ float
ncfm_warp_sum (float v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

static __device__ __forceinline__ float
ncfm_warp_max (float v)
{
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf (v, __shfl_xor_sync (0xffffffffu, v, o));
  return v;
}

/* Block-wide sum / max, the result returned to every thread.  `shared` holds
 * 32 floats; the trailing __syncthreads lets the caller reuse it at once. */
static __device__ __forceinline__ float
ncfm_block_sum (float v, float *shared)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = ncfm_warp_sum (v);
  if (lane == 0)
    shared[warp] = v;
  __syncthreads ();
  if (warp == 0) {
    v = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : 0.0f;
    v = ncfm_warp_sum (v);
    if (lane == 0)
      shared[0] = v;
  }
  __syncthreads ();
  v = shared[0];
  __syncthreads ();
  return v;
}

#endif
