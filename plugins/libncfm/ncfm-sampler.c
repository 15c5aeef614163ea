/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-sampler
 * @title: NcfmSampler
 * @short_description: the frequencies t [M, d] of the characteristic functions
 *
 * A Gaussian sampler draws t = sigma N(0, I) afresh at every
 * ncfm_sampler_sample().  A structured one (ncfm_sampler_new_structured(),
 * ncfm-sampler-sorf.c) draws orthogonal blocks of rows from fast Hadamard
 * transforms instead, with row norms of the same law.  A learned sampler is the NCFM network psi (method
 * card section 4): noise eps [M/16, d] ~ N(0, 1), three blocks Linear(d, d) ->
 * BatchNorm1d(d) (training mode) -> LeakyReLU(0.2), the last with Tanh
 * instead, and the M/16 output rows tiled 16 times (PyTorch
 * `out.repeat(16, 1)`).  psi is trained to MAXIMISE the loss:
 * ncfm_sampler_backward() accumulates dL/dpsi for a draw and
 * ncfm_sampler_ascent_step() takes one SGD-with-momentum step uphill.
 *
 * What backward needs of a draw travels with it (#NcfmFreqDraw, from
 * ncfm_sampler_draw()) and goes when it goes, so that every draw still alive
 * can be taken back: in a pipeline with queues ncfmcf draws the next frequencies before
 * the distiller has sent back dL/dt of the previous ones.  A draw made
 * before an ascent step is taken back with the current weights and its own
 * activations (stale by the steps in between, as in pipelined training).
 * Thread-safety: the sampler is shared by the thread that draws (ncfmcf)
 * and the one that takes gradients back (ncfmdistill).  Every call that
 * reads or changes its state holds the sampler's own recursive lock;
 * ncfm_sampler_lock() holds it across several calls.  Take the device lock
 * (if any) before this one, never the other way round.
 * Parameter names are those of an nn.Sequential called `net`
 * (`net.0.weight`, `net.1.running_mean`, ..., `net.7.bias`).
 *
 * Noise comes from the backend's counter-based fill_normal (seed, offset);
 * the offset advances by the size of each draw, so a sampler saved with
 * ncfm_sampler_save() and rebuilt by ncfm_sampler_new_from_safetensors()
 * continues the very same stream and optimisation.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-sampler-private.h"
#include "ncfm-finite-private.h"

#include <math.h>
#include <string.h>

#define N_TILES 16
#define N_BLOCKS 3
#define PARAMS_PER_BLOCK 6       /* linear w, b; norm w, b, running mean, var */
#define N_PARAMS (N_BLOCKS * PARAMS_PER_BLOCK)
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define LEAKY_SLOPE 0.2f
#define DEFAULT_LR 1e-3f
#define DEFAULT_MOMENTUM 0.5f
#define DEFAULT_WEIGHT_DECAY 5e-4f
#define MAX_DIM 65536u
#define MAX_FREQS (1u << 20)

enum { P_LIN_W, P_LIN_B, P_BN_W, P_BN_B, P_BN_MEAN, P_BN_VAR };

typedef struct {
  gchar *name;
  NcfmTensor *value;
  NcfmTensor *grad;       /* accumulated dL/dparam; NULL for running statistics */
  NcfmTensor *momentum;   /* SGD momentum buffer; NULL for running statistics */
} Param;

struct _NcfmSampler {
  GObject parent;
  NcfmDevice *device;
  NcfmSamplerKind kind;
  guint num_freqs, dim, rows;   /* rows of noise: M (Gaussian) or M/16 (learned) */
  gfloat sigma;
  guint64 seed, offset, step;
  gint64 draws;                 /* forward passes of psi (BatchNorm's num_batches_tracked) */
  gfloat lr, momentum, weight_decay;
  Param params[N_PARAMS];       /* learned only; block b at [6 b, 6 b + 6) */
  NcfmTensor *grad_a, *grad_b, *grad_tmp;
  guint64 epoch;                /* grows when a saved state is loaded */
  guint64 n_draws;              /* draws made (NcfmFreqDraw's index) */
  GRecMutex lock;               /* every public call that reads or writes the state */
};

/* A draw: t, the noise it came from, and what backward needs of it. */
struct _NcfmFreqDraw {
  GObject parent;
  GWeakRef sampler;             /* whose draw it is */
  guint64 epoch;                /* the sampler's epoch when drawn */
  guint64 index;                /* the sampler's draws before this one */
  NcfmTensor *t, *noise;
  NcfmTensor *eps, *z[N_BLOCKS], *a[N_BLOCKS], *mean[N_BLOCKS], *rstd[N_BLOCKS];  /* learned */
  NcfmTensor *sorf_signs, *sorf_scale;   /* structured: t without t (ncfm-sampler-sorf.c) */
};
typedef NcfmFreqDraw Draw;

G_DEFINE_FINAL_TYPE (NcfmFreqDraw, ncfm_freq_draw, G_TYPE_OBJECT)

G_DEFINE_FINAL_TYPE (NcfmSampler, ncfm_sampler, G_TYPE_OBJECT)

/* Holds the sampler's lock to the end of the scope. */
#define SAMPLER_LOCKED(s) \
  g_autoptr (GRecMutexLocker) locker G_GNUC_UNUSED = g_rec_mutex_locker_new (&(s)->lock)

static const gchar *kind_names[] = { "gaussian", "learned", "structured" };

/**
 * ncfm_sampler_kind_to_string:
 * @kind: a #NcfmSamplerKind
 *
 * Returns: (transfer none): "gaussian", "learned" or "structured"
 */
const gchar *
ncfm_sampler_kind_to_string (NcfmSamplerKind kind)
{
  return (guint) kind < G_N_ELEMENTS (kind_names) ? kind_names[kind] : "invalid";
}

/**
 * ncfm_sampler_kind_from_string:
 * @name: "gaussian", "learned" or "structured"
 * @kind: (out): the parsed value
 *
 * Returns: %TRUE if @name is known
 */
gboolean
ncfm_sampler_kind_from_string (const gchar *name, NcfmSamplerKind *kind)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (kind_names); i++)
    if (g_str_equal (name, kind_names[i])) {
      *kind = (NcfmSamplerKind) i;
      return TRUE;
    }
  return FALSE;
}

static void
ncfm_sampler_finalize (GObject *object)
{
  NcfmSampler *self = NCFM_SAMPLER (object);
  for (guint i = 0; i < N_PARAMS; i++) {
    g_free (self->params[i].name);
    g_clear_object (&self->params[i].value);
    g_clear_object (&self->params[i].grad);
    g_clear_object (&self->params[i].momentum);
  }
  g_clear_object (&self->grad_a);
  g_clear_object (&self->grad_b);
  g_clear_object (&self->grad_tmp);
  g_clear_object (&self->device);
  g_rec_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_sampler_parent_class)->finalize (object);
}

static void
ncfm_sampler_class_init (NcfmSamplerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_sampler_finalize;
}

static void
ncfm_sampler_init (NcfmSampler *self)
{
  g_rec_mutex_init (&self->lock);
  self->lr = DEFAULT_LR;
  self->momentum = DEFAULT_MOMENTUM;
  self->weight_decay = DEFAULT_WEIGHT_DECAY;
}

static NcfmBackend *
backend (NcfmSampler *self)
{
  return ncfm_device_get_backend (self->device);
}

static float *
f32 (NcfmTensor *t)
{
  return ncfm_tensor_f32 (t);
}

static NcfmTensor *
new_matrix (NcfmSampler *self, gint64 rows, gint64 cols, GError **error)
{
  gint64 shape[2] = { rows, cols };
  return ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, cols ? 2 : 1, error);
}

NcfmSampler *
ncfm_sampler_new_unchecked (NcfmDevice *device, NcfmSamplerKind kind, guint num_freqs, guint dim,
    gfloat sigma, guint64 seed)
{
  NcfmSampler *self = g_object_new (NCFM_TYPE_SAMPLER, NULL);
  self->device = g_object_ref (device);
  self->kind = kind;
  self->num_freqs = num_freqs;
  self->dim = dim;
  self->rows = kind == NCFM_SAMPLER_LEARNED ? num_freqs / N_TILES : num_freqs;
  self->sigma = sigma;
  self->seed = seed;
  return self;
}

/**
 * ncfm_sampler_new_gaussian:
 * @device: where the frequencies are drawn
 * @num_freqs: M, the number of frequencies per draw
 * @dim: d, the feature dimension
 * @sigma: standard deviation of every entry (1 in the method)
 * @seed: seed of the noise stream
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a sampler of t = sigma N(0, I) [M, d], or %NULL
 *   with @error set for sizes out of range or a sigma that is not finite and
 *   positive (0 would make every t zero and the loss blind)
 */
NcfmSampler *
ncfm_sampler_new_gaussian (NcfmDevice *device, guint num_freqs, guint dim, gfloat sigma,
    guint64 seed, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (num_freqs < 1 || num_freqs > MAX_FREQS || dim < 1 || dim > MAX_DIM
      || !isfinite (sigma) || !(sigma > 0)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid Gaussian sampler: num_freqs %u (1..%u), dim %u (1..%u), sigma %g (finite, "
        "> 0)", num_freqs, MAX_FREQS, dim, MAX_DIM, sigma);
    return NULL;
  }
  return ncfm_sampler_new_unchecked (device, NCFM_SAMPLER_GAUSSIAN, num_freqs, dim, sigma, seed);
}

/* PyTorch's default init: Linear uniform(+-1/sqrt(fan_in)), BatchNorm ones/zeros. */
static void
reset_parameters (NcfmSampler *self)
{
  guint32 seeds[3] = { (guint32) self->seed, (guint32) (self->seed >> 32), 0x70736921 };
  g_autoptr (GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  double bound = 1.0 / sqrt ((double) self->dim);
  for (guint i = 0; i < N_PARAMS; i++) {
    Param *p = &self->params[i];
    guint role = i % PARAMS_PER_BLOCK;
    gsize n = (gsize) ncfm_tensor_get_numel (p->value);
    g_autofree gfloat *host = g_new (gfloat, n);
    for (gsize k = 0; k < n; k++)
      host[k] = role <= P_LIN_B ? (gfloat) g_rand_double_range (rand, -bound, bound)
          : (role == P_BN_W || role == P_BN_VAR) ? 1.0f : 0.0f;
    ncfm_tensor_set_data (p->value, (const guint8 *) host, n * sizeof (gfloat), NULL);
  }
}

static gboolean
allocate_psi (NcfmSampler *self, GError **error)
{
  gint64 d = self->dim, r = self->rows;
  for (guint i = 0; i < N_PARAMS; i++) {
    Param *p = &self->params[i];
    guint role = i % PARAMS_PER_BLOCK, layer = (i / PARAMS_PER_BLOCK) * 3;
    static const gchar *suffix[] = { "weight", "bias", "weight", "bias", "running_mean",
      "running_var" };
    p->name = g_strdup_printf ("net.%u.%s", layer + (role >= P_BN_W), suffix[role]);
    gint64 cols = role == P_LIN_W ? d : 0;     /* weights [d, d], vectors [d] */
    p->value = new_matrix (self, d, cols, error);
    if (!p->value)
      return FALSE;
    if (role <= P_BN_B && (!(p->grad = new_matrix (self, d, cols, error))
            || !(p->momentum = new_matrix (self, d, cols, error))))
      return FALSE;
  }
  (void) r;   /* each draw's intermediate values travel with its t (draw_new) */
  /* grad_tmp holds one block's dW, db, dgamma, dbeta before they are accumulated */
  return (self->grad_a = new_matrix (self, self->rows, d, error))
      && (self->grad_b = new_matrix (self, self->rows, d, error))
      && (self->grad_tmp = new_matrix (self, d * d + 3 * d, 0, error));
}

/**
 * ncfm_sampler_new_learned:
 * @device: where psi lives and runs
 * @num_freqs: M, a multiple of 16 and at least 32 (BatchNorm needs two noise rows)
 * @dim: d, the feature dimension
 * @seed: seed of the initialisation and of the noise stream
 * @error: return location for a #GError
 *
 * Creates psi with PyTorch's default initialisation and the optimiser of
 * the method (SGD lr 1e-3, momentum 0.5, weight decay 5e-4; see
 * ncfm_sampler_set_optimizer()).
 *
 * Returns: (transfer full): the learned sampler, or %NULL with @error set
 */
NcfmSampler *
ncfm_sampler_new_learned (NcfmDevice *device, guint num_freqs, guint dim, guint64 seed,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (num_freqs % N_TILES != 0 || num_freqs < 2 * N_TILES || num_freqs > MAX_FREQS
      || dim < 1 || dim > MAX_DIM) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "invalid learned sampler: num_freqs %u must be a multiple of %u in %u..%u (psi tiles "
        "M/%u noise rows %u times, BatchNorm needs at least 2), dim %u (1..%u)", num_freqs,
        N_TILES, 2 * N_TILES, MAX_FREQS, N_TILES, N_TILES, dim, MAX_DIM);
    return NULL;
  }
  g_autoptr (NcfmSampler) self = ncfm_sampler_new_unchecked (device, NCFM_SAMPLER_LEARNED,
      num_freqs, dim, 1.0f, seed);
  if (!allocate_psi (self, error))
    return NULL;
  reset_parameters (self);
  return g_steal_pointer (&self);
}

static Param *
block_param (NcfmSampler *self, guint block, guint role)
{
  return &self->params[block * PARAMS_PER_BLOCK + role];
}

static void
ncfm_freq_draw_finalize (GObject *object)
{
  Draw *rec = NCFM_FREQ_DRAW (object);
  for (guint b = 0; b < N_BLOCKS; b++) {
    g_clear_object (&rec->z[b]);
    g_clear_object (&rec->a[b]);
    g_clear_object (&rec->mean[b]);
    g_clear_object (&rec->rstd[b]);
  }
  g_clear_object (&rec->eps);
  g_clear_object (&rec->sorf_signs);
  g_clear_object (&rec->sorf_scale);
  g_clear_object (&rec->t);
  g_clear_object (&rec->noise);
  g_weak_ref_clear (&rec->sampler);
  G_OBJECT_CLASS (ncfm_freq_draw_parent_class)->finalize (object);
}

static void
ncfm_freq_draw_class_init (NcfmFreqDrawClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_freq_draw_finalize;
}

static void
ncfm_freq_draw_init (NcfmFreqDraw *self)
{
  g_weak_ref_init (&self->sampler, NULL);
}

/* A record for the next draw (with its tensors for a learned sampler). */
static Draw *
draw_new (NcfmSampler *self, GError **error)
{
  Draw *rec = g_object_new (NCFM_TYPE_FREQ_DRAW, NULL);
  g_weak_ref_set (&rec->sampler, self);
  rec->epoch = self->epoch;
  if (self->kind == NCFM_SAMPLER_LEARNED) {
    const gint64 r = self->rows, d = self->dim;
    gboolean ok = (rec->eps = new_matrix (self, r, d, error)) != NULL;
    for (guint b = 0; b < N_BLOCKS && ok; b++)
      ok = (rec->z[b] = new_matrix (self, r, d, error))
          && (rec->a[b] = new_matrix (self, r, d, error))
          && (rec->mean[b] = new_matrix (self, d, 0, error))
          && (rec->rstd[b] = new_matrix (self, d, 0, error));
    if (!ok) {
      g_object_unref (rec);
      return NULL;
    }
  }
  return rec;
}

/* Whether this sampler, in its current state, made the draw. */
static gboolean
owns_draw (NcfmSampler *self, Draw *rec)
{
  g_autoptr (NcfmSampler) owner = g_weak_ref_get (&rec->sampler);
  return owner == self && rec->epoch == self->epoch;
}

/* psi on the noise in rec->eps; returns its output as a new tensor, tiled
 * 16 times or (distinct) once. */
static NcfmTensor *
psi_forward (NcfmSampler *self, Draw *rec, gboolean distinct, GError **error)
{
  NcfmBackend *be = backend (self);
  gint r = (gint) self->rows, d = (gint) self->dim;
  size_t count = (size_t) r * d;
  const float *x = f32 (rec->eps);
  for (guint b = 0; b < N_BLOCKS; b++) {
    be->ops->linear_forward (be, r, d, d, x, f32 (block_param (self, b, P_LIN_W)->value),
        f32 (block_param (self, b, P_LIN_B)->value), f32 (rec->z[b]));
    be->ops->batchnorm_forward_train (be, r, d, 1, BN_EPS, BN_MOMENTUM, f32 (rec->z[b]),
        f32 (block_param (self, b, P_BN_W)->value), f32 (block_param (self, b, P_BN_B)->value),
        f32 (rec->a[b]), f32 (rec->mean[b]), f32 (rec->rstd[b]),
        f32 (block_param (self, b, P_BN_MEAN)->value),
        f32 (block_param (self, b, P_BN_VAR)->value));
    if (b + 1 < N_BLOCKS)
      be->ops->leaky_relu_forward (be, count, LEAKY_SLOPE, f32 (rec->a[b]), f32 (rec->a[b]));
    else
      be->ops->tanh_forward (be, count, f32 (rec->a[b]), f32 (rec->a[b]));
    x = f32 (rec->a[b]);
  }
  self->draws++;
  NcfmTensor *t = new_matrix (self, distinct ? self->rows : self->num_freqs, d, error);
  if (!t)
    return NULL;
  for (guint k = 0; k < (distinct ? 1 : N_TILES); k++)     /* t[k R + i] = out[i] */
    be->ops->copy (be, f32 (t) + k * count, x, count * sizeof (float));
  return t;
}

/* The draw with its t and noise (or NULL, freed, when there is no t). */
static Draw *
remember (NcfmSampler *self, Draw *rec, NcfmTensor *t, NcfmTensor *noise)
{
  if (!t) {
    g_object_unref (rec);
    return NULL;
  }
  rec->t = t;
  rec->noise = noise ? g_object_ref (noise) : NULL;
  rec->index = self->n_draws++;
  return rec;
}

static gboolean
check_matrix (NcfmSampler *self, NcfmTensor *x, gint64 rows, const gchar *what, GError **error)
{
  gint64 shape[2] = { rows, self->dim };
  if (ncfm_tensor_get_dtype (x) == NCFM_DTYPE_F32 && ncfm_tensor_has_shape (x, shape, 2)
      && ncfm_tensor_get_device (x) == self->device)
    return TRUE;
  g_autofree gchar *desc = ncfm_tensor_describe (x);
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "%s sampler: %s must be F32 [%" G_GINT64_FORMAT ", %u] on %s, got %s on %s",
      ncfm_sampler_kind_to_string (self->kind), what, rows, self->dim,
      ncfm_device_get_name (self->device), desc,
      ncfm_device_get_name (ncfm_tensor_get_device (x)));
  return FALSE;
}

/* Rows [first, first + rows) of the Gaussian t of the stream's current draw,
 * sigma N(0, 1) from the counter-based stream (the offset is not advanced). */
static void
fill_gaussian_rows (NcfmSampler *self, NcfmTensor *t, gsize first, gsize rows)
{
  NcfmBackend *be = backend (self);
  be->ops->fill_normal (be, rows * self->dim, self->seed, self->offset + first * self->dim,
      self->sigma, f32 (t) + first * self->dim);
}

/* A draw from noise (NULL: the next slice of the stream), tiled to
 * [num_freqs, dim] or distinct [rows, dim]. */
static Draw *
draw (NcfmSampler *self, NcfmTensor *noise, gboolean distinct, GError **error)
{
  if (noise && self->kind == NCFM_SAMPLER_STRUCTURED) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "structured sampler: takes no noise (its draws come from its seed and draw index)");
    return NULL;
  }
  if (noise && !check_matrix (self, noise, self->rows, "noise", error))
    return NULL;
  NcfmBackend *be = backend (self);
  const size_t count = (size_t) self->rows * self->dim;
  Draw *rec = draw_new (self, error);
  if (!rec)
    return NULL;
  if (self->kind == NCFM_SAMPLER_GAUSSIAN) {   /* rows == num_freqs: always distinct */
    NcfmTensor *t = new_matrix (self, self->num_freqs, self->dim, error);
    if (t && noise)   /* fresh tensors are zero-filled, so b = 0 is safe */
      be->ops->axpby (be, count, self->sigma, f32 (noise), 0.0f, f32 (t));
    else if (t) {
      fill_gaussian_rows (self, t, 0, self->num_freqs);
      self->offset += count;
    }
    return remember (self, rec, t, noise);
  }
  if (self->kind == NCFM_SAMPLER_STRUCTURED) {   /* draw number offset of the seed */
    NcfmTensor *t = ncfm_sorf_draw (self->device, self->num_freqs, self->dim, self->sigma,
        self->seed, self->offset, &rec->sorf_signs, &rec->sorf_scale, error);
    self->offset += t != NULL;
    return remember (self, rec, t, NULL);
  }
  if (noise) {
    ncfm_tensor_copy_from (rec->eps, noise, NULL);
  } else {
    be->ops->fill_normal (be, count, self->seed, self->offset, 1.0f, f32 (rec->eps));
    self->offset += count;
  }
  return remember (self, rec, psi_forward (self, rec, distinct, error), noise);
}

/* A draw's t alone (the draw, and what backward would need of it, goes). */
static NcfmTensor *
t_of (Draw *rec)
{
  if (!rec)
    return NULL;
  NcfmTensor *t = g_object_ref (rec->t);
  g_object_unref (rec);
  return t;
}

/**
 * ncfm_sampler_draw:
 * @self: a #NcfmSampler
 * @noise: (nullable): noise as for ncfm_sampler_sample_with_noise(), or
 *   %NULL for the next slice of the stream
 * @distinct: %TRUE for the distinct rows only (ncfm_sampler_sample_distinct()),
 *   %FALSE for all num_freqs rows
 * @error: return location for a #GError
 *
 * A draw that can be taken back: its t (ncfm_freq_draw_get_t()), the noise
 * it came from, its index in the sampler's draws, and for a learned sampler
 * what ncfm_sampler_backward() needs (psi's activations on this draw).  It
 * may be taken back from another thread, also after later draws.
 *
 * Returns: (transfer full): the draw, or %NULL if @noise has the wrong shape
 *   or memory runs out
 */
NcfmFreqDraw *
ncfm_sampler_draw (NcfmSampler *self, NcfmTensor *noise, gboolean distinct, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  g_return_val_if_fail (noise == NULL || NCFM_IS_TENSOR (noise), NULL);
  SAMPLER_LOCKED (self);
  return draw (self, noise, distinct, error);
}

/**
 * ncfm_sampler_draw_shared:
 * @self: a #NcfmSampler
 * @comm: the ranks that draw the same frequencies (data parallel)
 * @error: return location for a #GError
 *
 * ncfm_sampler_draw (@self, %NULL, %TRUE, @error) with the work split over
 * the ranks of @comm: for a Gaussian sampler in host memory each rank fills
 * its share of the rows (ncfm_comm_share_rows()) from the counter-based
 * stream and the shares are gathered (ncfm_comm_allgather_rows_float()), so
 * every rank gets bit for bit the t of an unshared draw for half the work at
 * two ranks.  Other samplers, and device memory, draw unshared.  Every rank
 * must call it for the same draw.
 *
 * Returns: (transfer full) (nullable): the draw, or %NULL with @error set
 */
NcfmFreqDraw *
ncfm_sampler_draw_shared (NcfmSampler *self, NcfmComm *comm, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self) && NCFM_IS_COMM (comm), NULL);
  SAMPLER_LOCKED (self);
  if (self->kind != NCFM_SAMPLER_GAUSSIAN || ncfm_device_is_cuda (self->device)
      || ncfm_comm_get_size (comm) < 2)
    return draw (self, NULL, TRUE, error);
  Draw *rec = draw_new (self, error);
  if (!rec)
    return NULL;
  NcfmTensor *t = new_matrix (self, self->num_freqs, self->dim, error);
  if (!t) {
    g_object_unref (rec);
    return NULL;
  }
  gsize first = 0, rows = 0;
  ncfm_comm_share_rows (comm, self->num_freqs, &first, &rows);
  const size_t count = (size_t) self->num_freqs * self->dim;
  fill_gaussian_rows (self, t, first, rows);
  if (!ncfm_comm_allgather_rows_float (comm, f32 (t), count, self->num_freqs, error)) {
    g_object_unref (t);
    g_object_unref (rec);
    return NULL;
  }
  self->offset += count;
  return remember (self, rec, t, NULL);
}

/**
 * ncfm_sampler_sample:
 * @self: a #NcfmSampler
 * @error: return location for a #GError
 *
 * Draws the next frequencies.  Every call returns a new tensor that the
 * sampler never writes again (it may be attached to buffers); the noise
 * stream advances by the size of the draw.  A learned sampler keeps what
 * ncfm_sampler_backward() needs for this draw with t (freed with it), and
 * updates its BatchNorm running statistics.
 *
 * Returns: (transfer full): t, F32 [num_freqs, dim], or %NULL if out of memory
 */
NcfmTensor *
ncfm_sampler_sample (NcfmSampler *self, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  SAMPLER_LOCKED (self);
  return t_of (draw (self, NULL, FALSE, error));
}

/**
 * ncfm_sampler_sample_with_noise:
 * @self: a #NcfmSampler
 * @noise: F32 [rows, dim] standard normal noise on the sampler's device, with
 *   rows = ncfm_sampler_get_noise_rows() (M/16 for a learned sampler, M for
 *   a Gaussian one)
 * @error: return location for a #GError
 *
 * Like ncfm_sampler_sample() with the given noise instead of the next slice
 * of the stream, which does not advance: to reproduce a draw, or to compare
 * psi with another implementation.
 *
 * Returns: (transfer full): t, F32 [num_freqs, dim], or %NULL if @noise has
 *   the wrong shape
 */
NcfmTensor *
ncfm_sampler_sample_with_noise (NcfmSampler *self, NcfmTensor *noise, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self) && NCFM_IS_TENSOR (noise), NULL);
  SAMPLER_LOCKED (self);
  return t_of (draw (self, noise, FALSE, error));
}

/**
 * ncfm_sampler_sample_distinct:
 * @self: a #NcfmSampler
 * @noise: (nullable): noise as for ncfm_sampler_sample_with_noise(), or
 *   %NULL for the next slice of the stream (as ncfm_sampler_sample())
 * @error: return location for a #GError
 *
 * The distinct frequencies of a draw: F32 [ncfm_sampler_get_distinct_freqs(),
 * dim].  A learned sampler's M frequencies are psi's M/16 outputs repeated
 * 16 times (PyTorch `out.repeat(16, 1)`), so this returns those outputs once,
 * the first M/16 rows of the draw ncfm_sampler_sample() would give; a
 * Gaussian sampler's draw is distinct already and is returned whole.
 *
 * Matching characteristic functions at the distinct rows is the same
 * objective: the mean over the M frequencies counts each distinct one 16
 * times, so it equals the mean over the distinct ones, and dL/dt of a
 * distinct row (what ncfm_sampler_backward() takes for such a t) equals the
 * sum of dL/dt over its 16 copies.  It costs 16 times less.
 *
 * Returns: (transfer full): t, F32 [distinct, dim], or %NULL if @noise has
 *   the wrong shape
 */
NcfmTensor *
ncfm_sampler_sample_distinct (NcfmSampler *self, NcfmTensor *noise, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  g_return_val_if_fail (noise == NULL || NCFM_IS_TENSOR (noise), NULL);
  SAMPLER_LOCKED (self);
  return t_of (draw (self, noise, TRUE, error));
}

/* grad += tmp */
static void
accumulate (NcfmBackend *be, NcfmTensor *grad, const float *tmp)
{
  be->ops->axpby (be, (size_t) ncfm_tensor_get_numel (grad), 1.0f, tmp, 1.0f, f32 (grad));
}

/**
 * ncfm_sampler_backward:
 * @self: a #NcfmSampler
 * @draw: a draw of this sampler (ncfm_sampler_draw())
 * @grad_t: dL/dt, the shape of the draw's t: F32 [num_freqs, dim], or
 *   [distinct, dim] for a distinct draw
 * @error: return location for a #GError
 *
 * Adds dL/dpsi for the draw @t to the accumulated gradients (the 16 tiles'
 * contributions sum; a distinct draw's gradient is that sum already), from
 * that draw's activations and the current weights
 * (which differ from the draw's if an ascent step came in between).  A Gaussian or structured
 * sampler has nothing to learn: it checks
 * the arguments the same way and returns %TRUE, so callers need not tell
 * the kinds apart.
 *
 * Returns: %TRUE on success; %FALSE if @t is not a draw of this sampler
 *   (or of its state before ncfm_sampler_load_state()) or @grad_t has the
 *   wrong shape
 */
gboolean
ncfm_sampler_backward (NcfmSampler *self, NcfmFreqDraw *rec, NcfmTensor *grad_t,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self) && NCFM_IS_FREQ_DRAW (rec), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (grad_t), FALSE);
  SAMPLER_LOCKED (self);
  if (!owns_draw (self, rec)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "%s sampler: this is not one of its draws (another sampler's, or drawn before its "
        "state was loaded)", ncfm_sampler_kind_to_string (self->kind));
    return FALSE;
  }
  NcfmTensor *t = rec->t;
  const gint64 t_rows = ncfm_tensor_get_dim (t, 0);
  if (!check_matrix (self, grad_t, t_rows, "grad_t (dL/dt)", error))
    return FALSE;
  if (self->kind != NCFM_SAMPLER_LEARNED)
    return TRUE;

  NcfmBackend *be = backend (self);
  gint r = (gint) self->rows, d = (gint) self->dim;
  size_t count = (size_t) r * d;
  float *g = f32 (self->grad_a), *spare = f32 (self->grad_b);
  float *dw = f32 (self->grad_tmp), *db = dw + (size_t) d * d;
  float *dgamma = db + d, *dbeta = dgamma + d;
  /* t repeats out 16 times: dL/dout is the sum of the tiles' gradients (one
   * tile for a distinct draw) */
  be->ops->copy (be, g, f32 (grad_t), count * sizeof (float));
  for (gint64 k = 1; k < t_rows / r; k++)
    be->ops->axpby (be, count, 1.0f, f32 (grad_t) + k * count, 1.0f, g);
  for (gint b = N_BLOCKS - 1; b >= 0; b--) {
    if (b == N_BLOCKS - 1)
      be->ops->tanh_backward (be, count, f32 (rec->a[b]), g, spare);
    else
      be->ops->leaky_relu_backward (be, count, LEAKY_SLOPE, f32 (rec->a[b]), g, spare);
    be->ops->batchnorm_backward (be, r, d, 1, f32 (rec->z[b]),
        f32 (block_param (self, b, P_BN_W)->value), f32 (rec->mean[b]), f32 (rec->rstd[b]),
        spare, g, dgamma, dbeta);
    const float *x = b == 0 ? f32 (rec->eps) : f32 (rec->a[b - 1]);
    be->ops->linear_backward (be, r, d, d, x, f32 (block_param (self, b, P_LIN_W)->value), g,
        b == 0 ? NULL : spare, dw, db);
    accumulate (be, block_param (self, b, P_LIN_W)->grad, dw);
    accumulate (be, block_param (self, b, P_LIN_B)->grad, db);
    accumulate (be, block_param (self, b, P_BN_W)->grad, dgamma);
    accumulate (be, block_param (self, b, P_BN_B)->grad, dbeta);
    float *swap = g;
    g = spare;
    spare = swap;
  }
  return TRUE;
}

/**
 * ncfm_sampler_ascent_step:
 * @self: a #NcfmSampler
 *
 * One step of gradient ASCENT on the accumulated gradients: PyTorch's
 * torch.optim.SGD on the negated gradient (g = -grad + wd p; buf = m buf + g;
 * p -= lr buf), then the gradients are zeroed and the step count grows.
 * Draws still in flight may be taken back afterwards (with the new weights).
 * Does nothing for a Gaussian or structured sampler.
 */
void
ncfm_sampler_ascent_step (NcfmSampler *self)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  SAMPLER_LOCKED (self);
  if (self->kind != NCFM_SAMPLER_LEARNED)
    return;
  NcfmBackend *be = backend (self);
  for (guint i = 0; i < N_PARAMS; i++) {
    Param *p = &self->params[i];
    if (!p->grad)
      continue;
    size_t n = (size_t) ncfm_tensor_get_numel (p->value);
    /* negate in place (the gradient is zeroed right after), then a plain SGD step */
    be->ops->axpby (be, n, 0.0f, f32 (p->grad), -1.0f, f32 (p->grad));
    be->ops->sgd_step (be, n, f32 (p->value), f32 (p->grad), f32 (p->momentum), self->lr,
        self->momentum, self->weight_decay);
    be->ops->fill (be, n, 0.0f, f32 (p->grad));
  }
  self->step++;
}

/**
 * ncfm_sampler_zero_grad:
 * @self: a #NcfmSampler
 *
 * Drops the accumulated gradients (ncfm_sampler_ascent_step() does this itself).
 */
void
ncfm_sampler_zero_grad (NcfmSampler *self)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  SAMPLER_LOCKED (self);
  for (guint i = 0; i < N_PARAMS; i++)
    if (self->params[i].grad)
      ncfm_tensor_fill (self->params[i].grad, 0.0f, NULL);
}

/**
 * ncfm_sampler_set_optimizer:
 * @self: a #NcfmSampler
 * @lr: learning rate (1e-3 by default)
 * @momentum: SGD momentum (0.5 by default)
 * @weight_decay: L2 weight decay (5e-4 by default)
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set (and nothing changed) when @lr is
 *   outside [0, 1000] or @momentum or @weight_decay outside [0, 1]
 */
gboolean
ncfm_sampler_set_optimizer (NcfmSampler *self, gfloat lr, gfloat momentum, gfloat weight_decay,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), FALSE);
  SAMPLER_LOCKED (self);
  if (!(lr >= 0.0f && lr <= 1000.0f) || !(momentum >= 0.0f && momentum <= 1.0f)
      || !(weight_decay >= 0.0f && weight_decay <= 1.0f)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sampler: learning rate %g (0 .. 1000), "
        "momentum %g (0 .. 1) or weight decay %g (0 .. 1) out of range", lr, momentum,
        weight_decay);
    return FALSE;
  }
  self->lr = lr;
  self->momentum = momentum;
  self->weight_decay = weight_decay;
  return TRUE;
}

/**
 * ncfm_sampler_get_optimizer:
 * @self: a #NcfmSampler
 * @lr: (out) (optional): learning rate
 * @momentum: (out) (optional): SGD momentum
 * @weight_decay: (out) (optional): L2 weight decay
 */
void
ncfm_sampler_get_optimizer (NcfmSampler *self, gfloat *lr, gfloat *momentum, gfloat *weight_decay)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  SAMPLER_LOCKED (self);
  if (lr)
    *lr = self->lr;
  if (momentum)
    *momentum = self->momentum;
  if (weight_decay)
    *weight_decay = self->weight_decay;
}


/* ---- state: weights, running statistics, momentum, stream position ---- */

static const gchar *
file_name_of (NcfmSafetensors *file)
{
  const gchar *n = ncfm_safetensors_get_path (file);
  return n ? n : "sampler state";
}

static void
set_meta (NcfmSafetensors *file, const gchar *prefix, const gchar *key, const gchar *value)
{
  g_autofree gchar *k = g_strconcat (prefix, key, NULL);
  ncfm_safetensors_set_metadata (file, k, value);
}

static void
set_meta_u64 (NcfmSafetensors *file, const gchar *prefix, const gchar *key, guint64 value)
{
  g_autofree gchar *v = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  set_meta (file, prefix, key, v);
}

static void
set_meta_float (NcfmSafetensors *file, const gchar *prefix, const gchar *key, gfloat value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];   /* shortest round-trip form of the double */
  set_meta (file, prefix, key, g_ascii_dtostr (buf, sizeof buf, value));
}

/**
 * ncfm_sampler_save:
 * @self: a #NcfmSampler
 * @file: the file to add the state to (in memory; save it afterwards)
 * @prefix: (nullable): prepended to every tensor name and metadata key, such
 *   as "sampler." (%NULL: none)
 *
 * Writes everything a resumed run needs to continue exactly: the kind,
 * sizes, sigma, seed, stream offset, step count and optimiser settings as
 * metadata, and for a learned sampler the weights and running statistics
 * under PyTorch's names (`net.0.weight`, ..., with `num_batches_tracked`),
 * plus the momentum buffers as `momentum.net.0.weight`, ...  Gradients
 * accumulated since the last ascent step are not saved: save between steps.
 */
void
ncfm_sampler_save (NcfmSampler *self, NcfmSafetensors *file, const gchar *prefix)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self) && NCFM_IS_SAFETENSORS (file));
  SAMPLER_LOCKED (self);
  prefix = prefix ? prefix : "";
  for (guint i = 0; self->kind == NCFM_SAMPLER_LEARNED && i < N_PARAMS; i++) {
    Param *p = &self->params[i];
    g_autofree gchar *name = g_strconcat (prefix, p->name, NULL);
    ncfm_tensor_to_safetensors (p->value, file, name);
    if (p->momentum) {
      g_autofree gchar *mname = g_strconcat (prefix, "momentum.", p->name, NULL);
      ncfm_tensor_to_safetensors (p->momentum, file, mname);
    }
    if (i % PARAMS_PER_BLOCK == P_BN_VAR) {   /* so PyTorch's strict load_state_dict accepts it */
      g_autofree gchar *nbt = g_strdup_printf ("%snet.%u.num_batches_tracked", prefix,
          (i / PARAMS_PER_BLOCK) * 3 + 1);
      ncfm_safetensors_set (file, nbt, NCFM_DTYPE_I64, NULL, 0, &self->draws, sizeof (gint64));
    }
  }
  set_meta (file, prefix, "kind", ncfm_sampler_kind_to_string (self->kind));
  set_meta_u64 (file, prefix, "num_freqs", self->num_freqs);
  set_meta_u64 (file, prefix, "dim", self->dim);
  set_meta_u64 (file, prefix, "seed", self->seed);
  set_meta_u64 (file, prefix, "offset", self->offset);
  set_meta_u64 (file, prefix, "step", self->step);
  set_meta_float (file, prefix, "sigma", self->sigma);
  set_meta_float (file, prefix, "lr", self->lr);
  set_meta_float (file, prefix, "momentum", self->momentum);
  set_meta_float (file, prefix, "weight_decay", self->weight_decay);
}

static const gchar *
get_meta (NcfmSafetensors *file, const gchar *prefix, const gchar *key, GError **error)
{
  g_autofree gchar *k = g_strconcat (prefix, key, NULL);
  const gchar *v = ncfm_safetensors_get_metadata (file, k);
  if (!v)
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%s' is missing (was it written by ncfm_sampler_save with prefix "
        "'%s'?)", file_name_of (file), k, prefix);
  return v;
}

static gboolean
meta_u64 (NcfmSafetensors *file, const gchar *prefix, const gchar *key, guint64 max,
    guint64 *out, GError **error)
{
  const gchar *v = get_meta (file, prefix, key, error);
  if (!v)
    return FALSE;
  if (!g_ascii_string_to_unsigned (v, 10, 0, max, out, NULL)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%s%s' is '%s', not an integer in 0..%" G_GUINT64_FORMAT,
        file_name_of (file), prefix, key, v, max);
    return FALSE;
  }
  return TRUE;
}

static gboolean
meta_float (NcfmSafetensors *file, const gchar *prefix, const gchar *key, gfloat *out,
    GError **error)
{
  const gchar *v = get_meta (file, prefix, key, error);
  if (!v)
    return FALSE;
  gchar *end = NULL;
  gdouble x = g_ascii_strtod (v, &end);
  if (end == v || *end || !isfinite (x) || x < 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%s%s' is '%s', not a finite number >= 0", file_name_of (file), prefix,
        key, v);
    return FALSE;
  }
  *out = (gfloat) x;
  return TRUE;
}

/* Reads one saved tensor into dst, which fixes the expected shape. */
static gboolean
load_tensor (NcfmSafetensors *file, const gchar *name, NcfmTensor *dst, GError **error)
{
  if (!ncfm_safetensors_contains (file, name)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: tensor '%s' of the learned sampler is missing", file_name_of (file), name);
    return FALSE;
  }
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (dst, &nd);
  gsize n = (gsize) ncfm_tensor_get_numel (dst);
  g_autofree gfloat *host = g_new (gfloat, n);
  return ncfm_safetensors_read_f32 (file, name, shape, nd, host, error)
      && ncfm_check_finite_f32 (host, n, file_name_of (file), name, error)
      && ncfm_tensor_set_data (dst, (const guint8 *) host, n * sizeof (gfloat), error);
}

/**
 * ncfm_sampler_new_from_safetensors:
 * @device: where the sampler runs
 * @file: state written by ncfm_sampler_save()
 * @prefix: (nullable): the prefix given to ncfm_sampler_save()
 * @error: return location for a #GError
 *
 * Rebuilds a saved sampler: its next draw and next ascent step are those
 * the saved one would have made.  A missing or ill-formed metadata entry or
 * tensor is an error naming it.
 *
 * Returns: (transfer full): the sampler, or %NULL with @error set
 */
NcfmSampler *
ncfm_sampler_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file,
    const gchar *prefix, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device) && NCFM_IS_SAFETENSORS (file), NULL);
  prefix = prefix ? prefix : "";
  NcfmSamplerKind kind;
  guint64 num_freqs, dim, seed, offset, step;
  gfloat sigma, lr, momentum, wd;
  const gchar *k = get_meta (file, prefix, "kind", error);
  if (!k)
    return NULL;
  if (!ncfm_sampler_kind_from_string (k, &kind)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: metadata '%skind' is '%s', not gaussian, learned or structured", file_name_of (file), prefix, k);
    return NULL;
  }
  if (!meta_u64 (file, prefix, "num_freqs", G_MAXUINT, &num_freqs, error)
      || !meta_u64 (file, prefix, "dim", G_MAXUINT, &dim, error)
      || !meta_u64 (file, prefix, "seed", G_MAXUINT64, &seed, error)
      || !meta_u64 (file, prefix, "offset", G_MAXUINT64, &offset, error)
      || !meta_u64 (file, prefix, "step", G_MAXUINT64, &step, error)
      || !meta_float (file, prefix, "sigma", &sigma, error)
      || !meta_float (file, prefix, "lr", &lr, error)
      || !meta_float (file, prefix, "momentum", &momentum, error)
      || !meta_float (file, prefix, "weight_decay", &wd, error))
    return NULL;
  g_autoptr (NcfmSampler) self = kind == NCFM_SAMPLER_GAUSSIAN
      ? ncfm_sampler_new_gaussian (device, (guint) num_freqs, (guint) dim, sigma, seed, error)
      : kind == NCFM_SAMPLER_STRUCTURED
      ? ncfm_sampler_new_structured (device, (guint) num_freqs, (guint) dim, sigma, seed, error)
      : ncfm_sampler_new_learned (device, (guint) num_freqs, (guint) dim, seed, error);
  if (!self)
    return NULL;
  self->offset = offset;
  self->step = step;
  if (!ncfm_sampler_set_optimizer (self, lr, momentum, wd, error)) {
    g_prefix_error (error, "%s: ", prefix);
    return NULL;
  }
  for (guint i = 0; kind == NCFM_SAMPLER_LEARNED && i < N_PARAMS; i++) {
    Param *p = &self->params[i];
    g_autofree gchar *name = g_strconcat (prefix, p->name, NULL);
    g_autofree gchar *mname = g_strconcat (prefix, "momentum.", p->name, NULL);
    if (!load_tensor (file, name, p->value, error)
        || (p->momentum && !load_tensor (file, mname, p->momentum, error)))
      return NULL;
  }
  g_autofree gchar *nbt = g_strconcat (prefix, "net.1.num_batches_tracked", NULL);
  NcfmDType dt;
  gsize nb;
  const gint64 *draws = ncfm_safetensors_contains (file, nbt)
      ? ncfm_safetensors_peek (file, nbt, &dt, &nb, NULL) : NULL;
  if (draws && dt == NCFM_DTYPE_I64 && nb == sizeof (gint64))
    memcpy (&self->draws, draws, sizeof (gint64));
  return g_steal_pointer (&self);
}

/**
 * ncfm_sampler_load_state:
 * @self: a #NcfmSampler
 * @file: a file written by ncfm_sampler_save()
 * @prefix: (nullable): the prefix it was saved under
 * @error: return location for a #GError
 *
 * Continues a saved sampler in place: its weights, momentum buffers, noise
 * stream position and step counters (the optimiser settings stay @self's).
 * The saved sampler must be of the same kind, number of frequencies and
 * dimension; on error @self is unchanged.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_sampler_load_state (NcfmSampler *self, NcfmSafetensors *file, const gchar *prefix,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self) && NCFM_IS_SAFETENSORS (file), FALSE);
  SAMPLER_LOCKED (self);
  g_autoptr (NcfmSampler) saved = ncfm_sampler_new_from_safetensors (self->device, file, prefix,
      error);
  if (!saved)
    return FALSE;
  if (saved->kind != self->kind || saved->num_freqs != self->num_freqs
      || saved->dim != self->dim) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
        "%s: the saved sampler is %s with %u frequencies of dimension %u, this one %s with %u "
        "of dimension %u", file_name_of (file), ncfm_sampler_kind_to_string (saved->kind),
        saved->num_freqs, saved->dim, ncfm_sampler_kind_to_string (self->kind),
        self->num_freqs, self->dim);
    return FALSE;
  }
  for (guint i = 0; self->kind == NCFM_SAMPLER_LEARNED && i < N_PARAMS; i++) {
    Param *p = &self->params[i], *q = &saved->params[i];
    if (!ncfm_tensor_copy_from (p->value, q->value, error)
        || (p->momentum && !ncfm_tensor_copy_from (p->momentum, q->momentum, error)))
      return FALSE;
  }
  self->seed = saved->seed;
  self->offset = saved->offset;
  self->step = saved->step;
  self->draws = saved->draws;
  self->epoch++;   /* draws of the old state are not this one's */
  return TRUE;
}

/* ---- getters ---- */

/**
 * ncfm_sampler_get_device:
 * @self: a #NcfmSampler
 *
 * Returns: (transfer none): the device the sampler runs on
 */
NcfmDevice *
ncfm_sampler_get_device (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  return self->device;
}

/**
 * ncfm_sampler_get_kind:
 * @self: a #NcfmSampler
 *
 * Returns: Gaussian, learned or structured
 */
NcfmSamplerKind
ncfm_sampler_get_kind (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NCFM_SAMPLER_GAUSSIAN);
  return self->kind;
}

/**
 * ncfm_sampler_get_distinct_freqs:
 * @self: a #NcfmSampler
 *
 * Returns: the rows of ncfm_sampler_sample_distinct(): M/16 for a learned
 *   sampler, M for a Gaussian or structured one
 */
guint
ncfm_sampler_get_distinct_freqs (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->rows;
}

/**
 * ncfm_sampler_get_num_freqs:
 * @self: a #NcfmSampler
 *
 * Returns: M, the rows of every draw
 */
guint
ncfm_sampler_get_num_freqs (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->num_freqs;
}

/**
 * ncfm_sampler_get_dim:
 * @self: a #NcfmSampler
 *
 * Returns: d, the feature dimension (columns of every draw)
 */
guint
ncfm_sampler_get_dim (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->dim;
}

/**
 * ncfm_sampler_get_noise_rows:
 * @self: a #NcfmSampler
 *
 * Returns: the rows of the noise behind a draw: M/16 for a learned sampler,
 *   M for a Gaussian one, 0 for a structured one, which takes no noise (see
 *   ncfm_sampler_sample_with_noise())
 */
guint
ncfm_sampler_get_noise_rows (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->kind == NCFM_SAMPLER_STRUCTURED ? 0 : self->rows;
}

/**
 * ncfm_sampler_get_sigma:
 * @self: a #NcfmSampler
 *
 * Returns: the standard deviation of a Gaussian sampler, the scale of a
 *   structured one (1 for a learned one)
 */
gfloat
ncfm_sampler_get_sigma (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->sigma;
}

/**
 * ncfm_sampler_get_seed:
 * @self: a #NcfmSampler
 *
 * Returns: the seed of the noise stream (and of psi's initialisation)
 */
guint64
ncfm_sampler_get_seed (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->seed;
}

/**
 * ncfm_sampler_get_offset:
 * @self: a #NcfmSampler
 *
 * Returns: the position in the noise stream of the next draw (normal
 *   deviates drawn so far by ncfm_sampler_sample()); for a structured
 *   sampler the index of its next draw
 */
guint64
ncfm_sampler_get_offset (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  SAMPLER_LOCKED (self);
  return self->offset;
}

/**
 * ncfm_sampler_seek_draw:
 * @self: a #NcfmSampler
 * @index: a draw index, from 0
 *
 * Moves the noise stream to the start of draw @index (offset @index x
 * rows x dim, see ncfm_sampler_get_noise_rows()), so that the next draw
 * from the stream is the one the @index-th draw of a fresh sampler of the
 * same seed gives: a consumer numbering its draws by batch (the batch's
 * offset) draws the same frequencies for a batch whichever batches it saw
 * before.  The learned sampler's weights are not touched.  A structured
 * sampler counts draws, not noise values: its offset becomes @index.
 */
void
ncfm_sampler_seek_draw (NcfmSampler *self, guint64 index)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  SAMPLER_LOCKED (self);
  self->offset = self->kind == NCFM_SAMPLER_STRUCTURED ? index
      : index * self->rows * self->dim;
}

/**
 * ncfm_sampler_get_step:
 * @self: a #NcfmSampler
 *
 * Returns: the number of ascent steps taken (always 0 for a Gaussian sampler)
 */
guint64
ncfm_sampler_get_step (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  SAMPLER_LOCKED (self);
  return self->step;
}

/**
 * ncfm_sampler_get_n_parameters:
 * @self: a #NcfmSampler
 *
 * Returns: the number of named tensors of psi (parameters and running
 *   statistics, 18); 0 for a Gaussian sampler
 */
guint
ncfm_sampler_get_n_parameters (NcfmSampler *self)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), 0);
  return self->kind == NCFM_SAMPLER_LEARNED ? N_PARAMS : 0;
}

/**
 * ncfm_sampler_get_parameter_name:
 * @self: a #NcfmSampler
 * @index: 0 .. n_parameters - 1
 *
 * Returns: (transfer none) (nullable): the PyTorch name, such as "net.3.weight"
 */
const gchar *
ncfm_sampler_get_parameter_name (NcfmSampler *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  return index < ncfm_sampler_get_n_parameters (self) ? self->params[index].name : NULL;
}

static Param *
find_param (NcfmSampler *self, const gchar *name)
{
  for (guint i = 0; name && i < ncfm_sampler_get_n_parameters (self); i++)
    if (g_str_equal (self->params[i].name, name))
      return &self->params[i];
  return NULL;
}

/**
 * ncfm_sampler_get_parameter:
 * @self: a #NcfmSampler
 * @name: a parameter name such as "net.0.weight"
 *
 * Returns: (transfer none) (nullable): the tensor (writable, e.g. to load
 *   weights from elsewhere)
 */
NcfmTensor *
ncfm_sampler_get_parameter (NcfmSampler *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  Param *p = find_param (self, name);
  return p ? p->value : NULL;
}

/**
 * ncfm_sampler_get_gradient:
 * @self: a #NcfmSampler
 * @name: a parameter name
 *
 * Returns: (transfer none) (nullable): dL/dparameter accumulated since the
 *   last ascent step (%NULL for running statistics)
 */
NcfmTensor *
ncfm_sampler_get_gradient (NcfmSampler *self, const gchar *name)
{
  g_return_val_if_fail (NCFM_IS_SAMPLER (self), NULL);
  Param *p = find_param (self, name);
  return p ? p->grad : NULL;
}

/**
 * ncfm_sampler_lock:
 * @self: a #NcfmSampler
 *
 * Holds the sampler's recursive lock, which every call on it takes
 * anyway, across several calls (a draw and its noise, a consistent save).
 * Take the device lock first if you need both.
 */
void
ncfm_sampler_lock (NcfmSampler *self)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  g_rec_mutex_lock (&self->lock);
}

/**
 * ncfm_sampler_unlock:
 * @self: a #NcfmSampler
 *
 * Undoes ncfm_sampler_lock().
 */
void
ncfm_sampler_unlock (NcfmSampler *self)
{
  g_return_if_fail (NCFM_IS_SAMPLER (self));
  g_rec_mutex_unlock (&self->lock);
}

/**
 * ncfm_freq_draw_get_t:
 * @self: a #NcfmFreqDraw
 *
 * Returns: (transfer none): the frequencies, F32 [rows, dim]; never written again
 */
NcfmTensor *
ncfm_freq_draw_get_t (NcfmFreqDraw *self)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self), NULL);
  return self->t;
}

/**
 * ncfm_freq_draw_get_structure:
 * @self: a #NcfmFreqDraw
 * @signs: (out) (transfer none) (optional) (nullable): F32 [blocks, 3 p], the
 *   signs D1, D2, D3 of each block (p = the next power of two >= dim)
 * @scale: (out) (transfer none) (optional) (nullable): F32 [rows, 1], the
 *   factor of each row on e_r H D1 H D2 H D3
 *
 * What the backend's sorf_forward/sorf_backward ops need to compute x t^T
 * and its input gradient without t (ncfm_freq_draw_phases() uses them).
 *
 * Returns: %TRUE for a structured draw all of whose rows are that
 *   structure; %FALSE (outputs %NULL) for other draws and for a structured
 *   draw with a row in the padding (small d only; see ncfm-sampler-sorf)
 */
gboolean
ncfm_freq_draw_get_structure (NcfmFreqDraw *self, NcfmTensor **signs, NcfmTensor **scale)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self), FALSE);
  if (signs)
    *signs = self->sorf_signs;
  if (scale)
    *scale = self->sorf_scale;
  return self->sorf_signs != NULL;
}

/**
 * ncfm_freq_draw_get_noise:
 * @self: a #NcfmFreqDraw
 *
 * Returns: (transfer none) (nullable): the noise given to ncfm_sampler_draw(),
 *   %NULL for a draw from the sampler's own stream
 */
NcfmTensor *
ncfm_freq_draw_get_noise (NcfmFreqDraw *self)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self), NULL);
  return self->noise;
}

/**
 * ncfm_freq_draw_get_index:
 * @self: a #NcfmFreqDraw
 *
 * Returns: how many draws its sampler made before this one
 */
guint64
ncfm_freq_draw_get_index (NcfmFreqDraw *self)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self), 0);
  return self->index;
}

/**
 * ncfm_freq_draw_dup_sampler:
 * @self: a #NcfmFreqDraw
 *
 * Returns: (transfer full) (nullable): the sampler that made it, %NULL once
 *   that sampler is gone
 */
NcfmSampler *
ncfm_freq_draw_dup_sampler (NcfmFreqDraw *self)
{
  g_return_val_if_fail (NCFM_IS_FREQ_DRAW (self), NULL);
  return g_weak_ref_get (&self->sampler);
}
