/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conv2d-private.h: the Winograd F(2x2,3x3) and direct paths of the CPU
 * conv2d (conv2d-winograd.c, conv2d-direct.c), shared with conv2d.c only. */
#ifndef NCFM_CPU_CONV2D_PRIVATE_H
#define NCFM_CPU_CONV2D_PRIVATE_H

#include "cpu-ops.h"

/* One 3x3 stride-1 convolution by Winograd F(2x2,3x3):
 *   y[i, co, oh, ow] = bias[co] + sum_{ci,a,b} x[i, ci, oh - pad + a, ow - pad + b] * g(co, ci, a, b)
 * with x [n, c_in, h_in, w_in], y [n, c_out, h_out, w_out] (overwritten),
 * out-of-range x read as 0 (pad may be negative: a crop), bias may be NULL.
 * Weights:
 *   flipped == 0: g(co, ci, a, b) = w[co, ci, a, b]              (w [c_out, c_in, 3, 3])
 *   flipped == 1: g(co, ci, a, b) = w[ci, co, 2 - a, 2 - b]      (w [c_in, c_out, 3, 3])
 * the second is the dx of a 3x3 stride-1 convolution (dy as x, pad 2 - pad). */
/* What the fused conv block (ncfm_cpu_conv_block_forward) does with each
 * output plane of a forward convolution, in place of storing it: instance
 * norm (when gamma != NULL), ReLU and 2x2 average pooling into
 * y [n, c_out, h_out / 2, w_out / 2]. */
typedef struct {
  int c_out;
  float eps;
  const float *gamma, *beta;
  float *y;
} NcfmCpuConvBlock;

/* plane [h, w]: output channel co of image img, bias added; overwritten */
void ncfm_cpu_conv_block_plane (const NcfmCpuConvBlock *blk, int img, int co, float *plane,
    int h, int w);

/* blk NULL: y gets the convolution; else y is unused and every output plane
 * goes through blk. */
void ncfm_cpu_conv2d_winograd (NcfmBackend *be, int n, int c_in, int h_in, int w_in,
    int c_out, int h_out, int w_out, int pad, const float *x, const float *w, int flipped,
    const float *bias, float *y, const NcfmCpuConvBlock *blk);

/* The direct convolution (conv2d-direct.c): any stride-1 geometry with a
 * non-empty output; y and blk as for ncfm_cpu_conv2d_winograd. */
int ncfm_cpu_conv2d_direct_supported (const NcfmConv2dShape *s);
void ncfm_cpu_conv2d_direct (NcfmBackend *be, const NcfmConv2dShape *s, const float *x,
    const float *w, const float *bias, float *y, const NcfmCpuConvBlock *blk);

#endif
