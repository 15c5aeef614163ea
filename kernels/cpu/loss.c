/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loss.c: softmax cross-entropy with hard (class index) or soft (probability)
 * targets, forward and backward (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

/* A label outside [0, k) is the caller's bug (libncfm validates); such a row
 * is treated as having no target (loss 0, gradient probs / n) rather than
 * reading out of bounds. */
static inline int
label_ok (int32_t label, int k)
{
  return label >= 0 && label < k;
}

void
ncfm_cpu_cross_entropy_forward (NcfmBackend *be, int n, int k, const float *logits,
    const int32_t *labels, const float *soft_targets, float *probs, float *loss)
{
  (void) be;
  double total = 0.0;
  if (n <= 0 || k <= 0) {
    loss[0] = 0.0f;
    return;
  }

#pragma omp parallel for reduction(+:total) if ((size_t) n * k > 65536)
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t) i * k;
    float *p = probs + (size_t) i * k;
    /* log-softmax with the max subtracted: exp never overflows, and the
     * largest term is exactly 1 so the sum is >= 1 */
    float zmax = z[0];
    for (int j = 1; j < k; j++)
      zmax = fmaxf (zmax, z[j]);
    double sum = 0.0;
    for (int j = 0; j < k; j++) {
      p[j] = expf (z[j] - zmax);
      sum += p[j];
    }
    double log_sum = log (sum);
    float inv = (float) (1.0 / sum);
    for (int j = 0; j < k; j++)
      p[j] *= inv;

    /* -log softmax_j = log_sum - (z_j - zmax) */
    double row = 0.0;
    if (labels) {
      if (label_ok (labels[i], k))
        row = log_sum - ((double) z[labels[i]] - zmax);
    } else {
      const float *t = soft_targets + (size_t) i * k;
      for (int j = 0; j < k; j++)
        if (t[j] != 0.0f)   /* 0 * (-log p) is 0 even where p underflows */
          row += (double) t[j] * (log_sum - ((double) z[j] - zmax));
    }
    total += row;
  }
  loss[0] = n > 0 ? (float) (total / n) : 0.0f;
}

void
ncfm_cpu_cross_entropy_backward (NcfmBackend *be, int n, int k, const float *probs,
    const int32_t *labels, const float *soft_targets, float *dlogits)
{
  (void) be;
  const float inv_n = 1.0f / (float) n;

#pragma omp parallel for if ((size_t) n * k > 65536)
  for (int i = 0; i < n; i++) {
    const float *p = probs + (size_t) i * k;
    float *d = dlogits + (size_t) i * k;
    if (labels) {
      for (int j = 0; j < k; j++)
        d[j] = p[j] * inv_n;
      if (label_ok (labels[i], k))
        d[labels[i]] = (p[labels[i]] - 1.0f) * inv_n;
    } else {
      const float *t = soft_targets + (size_t) i * k;
      for (int j = 0; j < k; j++)
        d[j] = (p[j] - t[j]) * inv_n;
    }
  }
}
