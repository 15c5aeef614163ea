/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dsa: STUB, to be implemented. */
#include "common.cuh"
#include <stdio.h>
#include <stdlib.h>

void ncfm_cuda_dsa_brightness (NcfmBackend *be, int n, int chw, const float *delta, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_brightness not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_saturation (NcfmBackend *be, int n, int c, int hw, const float *factor, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_saturation not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_contrast (NcfmBackend *be, int n, int chw, const float *factor, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_contrast not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_translate (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift, int sign, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_translate not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_cutout (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_cutout not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_flip (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_flip not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_affine_forward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda dsa_affine_forward not implemented\n");
  abort ();
}

void ncfm_cuda_dsa_affine_backward (NcfmBackend *be, int n, int c, int h, int w, const float *theta, const float *dy, float *dx)
{
  fprintf (stderr, "ncfm: cuda dsa_affine_backward not implemented\n");
  abort ();
}

void ncfm_cuda_cutmix (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm, const int32_t *box, const float *x, float *y)
{
  fprintf (stderr, "ncfm: cuda cutmix not implemented\n");
  abort ();
}
