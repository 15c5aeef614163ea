/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sorf.c: phases x t^T and their input gradient for structured orthogonal
 * random frequencies, by fast Walsh-Hadamard transforms, without t (CPU
 * reference; ncfm-backend.h describes t). */
#include "cpu-ops.h"
#include "../hadamard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SIGNS 3

/* One thread's work row of p floats. */
static float *
work_row (int p)
{
  float *y = malloc ((size_t) p * sizeof (float));
  if (!y) {
    fprintf (stderr, "ncfm: out of memory in sorf\n");
    abort ();
  }
  return y;
}

static void
times_signs (float *y, const float *signs, int p)
{
  for (int j = 0; j < p; j++)
    y[j] *= signs[j];
}

/* phase[i, b p + r] = scale[b p + r] (x_i B_b^T)[r], B_b^T = D3 H D2 H D1 H. */
void
ncfm_cpu_sorf_forward (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
    const float *scale, const float *x, float *phase)
{
  (void) be;
#pragma omp parallel if ((size_t) n * m > 65536)
  {
    float *y = work_row (p);
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++)
      for (int row0 = 0; row0 < m; row0 += p) {
        const float *s = signs + (size_t) (row0 / p) * N_SIGNS * p;
        const int rows = m - row0 < p ? m - row0 : p;
        memcpy (y, x + (size_t) i * d, (size_t) d * sizeof (float));
        memset (y + d, 0, (size_t) (p - d) * sizeof (float));
        for (int l = N_SIGNS - 1; l >= 0; l--) {
          times_signs (y, s + (size_t) l * p, p);
          ncfm_hadamard_rows (y, (unsigned) p);
        }
        float *out = phase + (size_t) i * m + row0;
        for (int r = 0; r < rows; r++)
          out[r] = scale[row0 + r] * y[r];
      }
    free (y);
  }
}

/* dx_i = sum_b ((dphase_i * scale)_b B_b)[:d], B_b = H D1 H D2 H D3. */
void
ncfm_cpu_sorf_backward (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
    const float *scale, const float *dphase, float *dx)
{
  (void) be;
#pragma omp parallel if ((size_t) n * m > 65536)
  {
    float *y = work_row (p);
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
      float *dxi = dx + (size_t) i * d;
      memset (dxi, 0, (size_t) d * sizeof (float));
      for (int row0 = 0; row0 < m; row0 += p) {
        const float *s = signs + (size_t) (row0 / p) * N_SIGNS * p;
        const int rows = m - row0 < p ? m - row0 : p;
        const float *g = dphase + (size_t) i * m + row0;
        for (int r = 0; r < p; r++)
          y[r] = r < rows ? g[r] * scale[row0 + r] : 0.0f;
        for (int l = 0; l < N_SIGNS; l++) {
          ncfm_hadamard_rows (y, (unsigned) p);
          times_signs (y, s + (size_t) l * p, p);
        }
        for (int j = 0; j < d; j++)
          dxi[j] += y[j];
      }
    }
    free (y);
  }
}
