/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-resnet-forward.c: ResNet-AP forward and backward over the backend ops
 * (conv2d, norms, ReLU, 2x2 average pool, axpby for the residual sums,
 * linear).  The global average over the last maps is a GEMV with a constant
 * row of 1/(H*W) (linear with one output), so it needs no op of its own.
 * Everything a forward keeps for backward lives in the caller's
 * #NcfmActivations; the model itself is only read (BatchNorm in training
 * mode also updates its running statistics, as PyTorch does). */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-resnet-private.h"

#define SHARED(self, s) ((self)->n_slots + (guint) (s))

#define f32(t) ncfm_model_f32 (t)

static NcfmBackend *
backend (NcfmResNet *self)
{
  return ncfm_device_get_backend (NCFM_MODEL_BASE (self)->device);
}

static NcfmTensor *
ensure4 (NcfmResNet *self, NcfmActivations *act, guint slot, gint64 n, gint64 c, gint64 h,
    gint64 w, GError **error)
{
  const gint64 shape[4] = { n, c, h, w };
  return ncfm_activations_ensure (act, slot, NCFM_MODEL_BASE (self)->device, NCFM_DTYPE_F32,
      shape, 4, error);
}

/* conv -> [2x2 pool] -> norm of one unit on x [n, c_in, h, w]; returns its
 * output (a slot of @act; the conv's or pool's own slot without a norm). */
static NcfmTensor *
unit_forward (NcfmResNet *self, NcfmResNetUnit *u, gint64 n, const float *x,
    NcfmActivations *act, GError **error)
{
  NcfmBackend *be = backend (self);
  const NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  NcfmConv2dShape s = u->conv;
  s.n = (gint) n;
  const gint64 stats[1] = { m->norm == NCFM_NORM_BATCH ? s.c_out : n * s.c_out };
  NcfmTensor *conv = ensure4 (self, act, u->slot + UNIT_CONV, n, s.c_out, u->conv_h, u->conv_w,
      error);
  NcfmTensor *in = !conv || !u->pool ? conv
      : ensure4 (self, act, u->slot + UNIT_POOLED, n, s.c_out, u->h, u->w, error);
  if (!in)
    return NULL;
  be->ops->conv2d_forward (be, &s, x, f32 (u->weight->value), f32 (u->bias ? u->bias->value : NULL),
      f32 (conv));
  if (u->pool)
    be->ops->avgpool2x2_forward (be, s.n, s.c_out, u->conv_h, u->conv_w, f32 (conv), f32 (in));
  if (m->norm == NCFM_NORM_NONE)
    return in;

  NcfmTensor *out = ensure4 (self, act, u->slot + UNIT_NORM, n, s.c_out, u->h, u->w, error);
  NcfmTensor *mean = ncfm_activations_ensure (act, u->slot + UNIT_MEAN, m->device,
      NCFM_DTYPE_F32, stats, 1, error);
  NcfmTensor *rstd = ncfm_activations_ensure (act, u->slot + UNIT_RSTD, m->device,
      NCFM_DTYPE_F32, stats, 1, error);
  if (!out || !mean || !rstd)
    return NULL;
  const gint hw = u->h * u->w;
  if (m->norm == NCFM_NORM_INSTANCE)
    be->ops->groupnorm_forward (be, s.n, s.c_out, hw, s.c_out, NCFM_RESNET_NORM_EPS, f32 (in),
        f32 (u->norm_w->value), f32 (u->norm_b->value), f32 (out), f32 (mean), f32 (rstd));
  else if (m->training)
    be->ops->batchnorm_forward_train (be, s.n, s.c_out, hw, NCFM_RESNET_NORM_EPS,
        NCFM_RESNET_BN_MOMENTUM, f32 (in), f32 (u->norm_w->value), f32 (u->norm_b->value),
        f32 (out), f32 (mean), f32 (rstd), m->frozen ? NULL : f32 (u->running_mean->value),
        m->frozen ? NULL : f32 (u->running_var->value));
  else
    be->ops->batchnorm_forward_eval (be, s.n, s.c_out, hw, NCFM_RESNET_NORM_EPS, f32 (in),
        f32 (u->norm_w->value), f32 (u->norm_b->value), f32 (u->running_mean->value),
        f32 (u->running_var->value), f32 (out));
  return out;
}

static size_t
unit_out_count (NcfmResNetUnit *u, gint64 n)
{
  return (size_t) n * u->conv.c_out * u->h * u->w;
}

/* One BasicBlock on x; returns its output (c2's output slot, updated in place). */
static NcfmTensor *
block_forward (NcfmResNet *self, NcfmResNetBlock *B, gint64 n, const float *x,
    NcfmActivations *act, GError **error)
{
  NcfmBackend *be = backend (self);
  NcfmTensor *o1 = unit_forward (self, &B->c1, n, x, act, error);
  if (!o1)
    return NULL;
  be->ops->leaky_relu_forward (be, unit_out_count (&B->c1, n), 0.0f, f32 (o1), f32 (o1));
  NcfmTensor *p1 = o1;
  if (B->pool) {
    p1 = ensure4 (self, act, B->slot, n, B->c2.conv.c_in, B->c2.conv.h_in, B->c2.conv.w_in,
        error);
    if (!p1)
      return NULL;
    be->ops->avgpool2x2_forward (be, (gint) n, B->c1.conv.c_out, B->c1.h, B->c1.w, f32 (o1),
        f32 (p1));
  }
  NcfmTensor *o2 = unit_forward (self, &B->c2, n, f32 (p1), act, error);
  NcfmTensor *sc = !o2 || !B->has_shortcut ? NULL : unit_forward (self, &B->sc, n, x, act, error);
  if (!o2 || (B->has_shortcut && !sc))
    return NULL;
  const size_t count = unit_out_count (&B->c2, n);
  be->ops->axpby (be, count, 1.0f, sc ? f32 (sc) : x, 1.0f, f32 (o2));
  be->ops->leaky_relu_forward (be, count, 0.0f, f32 (o2), f32 (o2));
  return o2;
}

/* #NcfmModelClass.forward: @images [N, C, H, W] through the network:
 * features [N, 8w] and logits [N, classes] in @activations. */
gboolean
ncfm_resnet_forward_layers (NcfmModel *model, NcfmTensor *images, gint64 n,
    NcfmActivations *activations, GError **error)
{
  NcfmResNet *self = NCFM_RESNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  NcfmBackend *be = backend (self);

  NcfmTensor *x = unit_forward (self, &self->stem, n, f32 (images), activations, error);
  if (!x)
    return FALSE;
  be->ops->leaky_relu_forward (be, unit_out_count (&self->stem, n), 0.0f, f32 (x), f32 (x));
  gint h = self->stem.h, w = self->stem.w;
  for (guint p = 0; p < self->stem_pools; p++) {
    NcfmTensor *y = ensure4 (self, activations, self->stem_pool_slot + p, n,
        self->stem.conv.c_out, h / 2, w / 2, error);
    if (!y)
      return FALSE;
    be->ops->avgpool2x2_forward (be, (gint) n, self->stem.conv.c_out, h, w, f32 (x), f32 (y));
    x = y;
    h /= 2;
    w /= 2;
  }
  for (guint b = 0; b < self->n_blocks && x; b++)
    x = block_forward (self, &self->blocks[b], n, f32 (x), activations, error);
  if (!x)
    return FALSE;
  if (m->norm == NCFM_NORM_BATCH && m->training && !m->frozen)
    m->num_batches_tracked++;

  const gint hw = self->final_h * self->final_w, d = (gint) m->feature_dim;
  const gint64 pshape[1] = { hw }, fshape[2] = { n, d }, lshape[2] = { n, m->num_classes };
  NcfmTensor *pool_w = ncfm_activations_ensure (activations, SHARED (self, SHARED_POOL_WEIGHTS),
      m->device, NCFM_DTYPE_F32, pshape, 1, error);
  NcfmTensor *features = ncfm_activations_ensure (activations, SHARED (self, SHARED_FEATURES),
      m->device, NCFM_DTYPE_F32, fshape, 2, error);
  NcfmTensor *logits = ncfm_activations_ensure (activations, SHARED (self, SHARED_LOGITS),
      m->device, NCFM_DTYPE_F32, lshape, 2, error);
  if (!pool_w || !features || !logits)
    return FALSE;
  /* features [N*D, 1] = maps [N*D, H*W] x (1/(H*W), ...)^T */
  be->ops->fill (be, (size_t) hw, 1.0f / (float) hw, f32 (pool_w));
  be->ops->linear_forward (be, (gint) n * d, hw, 1, f32 (x), f32 (pool_w), NULL, f32 (features));
  be->ops->linear_forward (be, (gint) n, d, (gint) m->num_classes, f32 (features),
      f32 (self->fc_w->value), f32 (self->fc_b->value), f32 (logits));
  ncfm_activations_set_outputs (activations, features, logits, NULL);
  return TRUE;
}

/* ---- backward ---- */

typedef struct {
  NcfmResNet *self;
  const NcfmModelPrivate *m;   /* its configuration */
  NcfmBackend *be;
  NcfmActivations *act;
  gint64 n;
  gboolean pg;           /* parameter gradients */
  float *buf[6];         /* gradient buffers of the largest map */
} Backward;

static float *
grad_of (Backward *c, NcfmModelParam *p)
{
  return c->pg && p ? f32 (p->grad) : NULL;
}

/* dy (wrt the unit's output) -> dx (wrt its input x); s1, s2 are scratch.
 * dy, s1, s2 and dx must be four different buffers. */
static void
unit_backward (Backward *c, NcfmResNetUnit *u, const float *x, const float *dy, float *s1,
    float *s2, float *dx)
{
  NcfmBackend *be = c->be;
  NcfmConv2dShape s = u->conv;
  s.n = (gint) c->n;
  const float *d = dy;
  if (c->m->norm != NCFM_NORM_NONE) {
    NcfmTensor *in = ncfm_activations_peek (c->act, u->slot + (u->pool ? UNIT_POOLED : UNIT_CONV));
    const float *mean = f32 (ncfm_activations_peek (c->act, u->slot + UNIT_MEAN));
    const float *rstd = f32 (ncfm_activations_peek (c->act, u->slot + UNIT_RSTD));
    const gint hw = u->h * u->w;
    if (c->m->norm == NCFM_NORM_INSTANCE)
      be->ops->groupnorm_backward (be, s.n, s.c_out, hw, s.c_out, f32 (in),
          f32 (u->norm_w->value), mean, rstd, dy, s1, grad_of (c, u->norm_w),
          grad_of (c, u->norm_b));
    else
      be->ops->batchnorm_backward (be, s.n, s.c_out, hw, f32 (in), f32 (u->norm_w->value),
          mean, rstd, dy, s1, grad_of (c, u->norm_w), grad_of (c, u->norm_b));
    d = s1;
  }
  if (u->pool) {
    be->ops->avgpool2x2_backward (be, s.n, s.c_out, u->conv_h, u->conv_w, d, s2);
    d = s2;
  }
  be->ops->conv2d_backward (be, &s, x, f32 (u->weight->value), d, dx, grad_of (c, u->weight),
      grad_of (c, u->bias));
}

/* Indices of the five buffers other than @cur. */
static void
free_buffers (guint cur, guint f[5])
{
  for (guint i = 0, k = 0; i < 6; i++)
    if (i != cur)
      f[k++] = i;
}

/* Block @b from the gradient wrt its output in buf[*cur] to the gradient wrt
 * its input x, left in buf[*cur]. */
static void
block_backward (Backward *c, guint b, const float *x, guint *cur)
{
  NcfmResNetBlock *B = &c->self->blocks[b];
  NcfmBackend *be = c->be;
  guint f[5];
  free_buffers (*cur, f);
  float *g = c->buf[*cur], *A = c->buf[f[0]], *S = c->buf[f[1]], *C = c->buf[f[2]],
      *D = c->buf[f[3]], *E = c->buf[f[4]];
  NcfmTensor *o1 = ncfm_activations_peek (c->act, B->c1.slot
      + (c->m->norm == NCFM_NORM_NONE ? UNIT_CONV : UNIT_NORM));
  NcfmTensor *o2 = ncfm_activations_peek (c->act, B->c2.slot
      + (c->m->norm == NCFM_NORM_NONE ? UNIT_CONV : UNIT_NORM));
  const float *p1 = B->pool ? f32 (ncfm_activations_peek (c->act, B->slot)) : f32 (o1);

  /* final ReLU (its output keeps the sign); g is then the gradient of the sum */
  be->ops->leaky_relu_backward (be, unit_out_count (&B->c2, c->n), 0.0f, f32 (o2), g, g);
  unit_backward (c, &B->c2, p1, g, A, S, C);
  float *d1 = C;
  if (B->pool) {
    be->ops->avgpool2x2_backward (be, (gint) c->n, B->c1.conv.c_out, B->c1.h, B->c1.w, C, D);
    d1 = D;
  }
  be->ops->leaky_relu_backward (be, unit_out_count (&B->c1, c->n), 0.0f, f32 (o1), d1, d1);
  unit_backward (c, &B->c1, x, d1, A, S, E);
  const size_t in_count = (size_t) c->n * B->c1.conv.c_in * B->c1.conv.h_in * B->c1.conv.w_in;
  if (B->has_shortcut) {
    unit_backward (c, &B->sc, x, g, A, S, C);
    be->ops->axpby (be, in_count, 1.0f, C, 1.0f, E);
  } else {
    be->ops->axpby (be, in_count, 1.0f, g, 1.0f, E);
  }
  *cur = f[4];
}

/* Elements of the larger of a unit's input and conv output. */
static gint64
unit_largest (const NcfmResNetUnit *u, gint64 n)
{
  const NcfmConv2dShape *s = &u->conv;
  return MAX (n * s->c_in * s->h_in * s->w_in, n * s->c_out * u->conv_h * u->conv_w);
}

/* The size of the gradient buffers: every map backward passes through. */
static gint64
largest_map (NcfmResNet *self, gint64 n)
{
  gint64 m = unit_largest (&self->stem, n);
  for (guint b = 0; b < self->n_blocks; b++) {
    const NcfmResNetBlock *B = &self->blocks[b];
    m = MAX (m, MAX (unit_largest (&B->c1, n), unit_largest (&B->c2, n)));
    if (B->has_shortcut)
      m = MAX (m, unit_largest (&B->sc, n));
  }
  const NcfmModelPrivate *base = NCFM_MODEL_BASE (self);
  return MAX (m, n * (gint64) MAX (base->feature_dim, base->num_classes));
}

/* #NcfmModelClass.backward: from dL/dfeatures and/or dL/dlogits to
 * dL/dimages (in @activations) and, with @parameter_gradients, every
 * parameter gradient (overwritten). */
gboolean
ncfm_resnet_backward_layers (NcfmModel *model, NcfmActivations *activations, gint64 n,
    NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error)
{
  NcfmResNet *self = NCFM_RESNET (model);
  Backward c = { self, NCFM_MODEL_BASE (self), backend (self), activations, n,
    parameter_gradients, { NULL } };
  const NcfmModelPrivate *m = c.m;
  NcfmBackend *be = c.be;
  const gint64 gshape[1] = { largest_map (self, n) };
  for (guint i = 0; i < 6; i++) {
    NcfmTensor *t = ncfm_activations_ensure (activations, SHARED (self, SHARED_GRAD0 + i),
        m->device, NCFM_DTYPE_F32, gshape, 1, error);
    if (!t)
      return FALSE;
    c.buf[i] = f32 (t);
  }
  NcfmTensor *gimg = ensure4 (self, activations, SHARED (self, SHARED_GRAD_IMAGES), n,
      m->in_channels, m->height, m->width, error);
  if (!gimg)
    return FALSE;

  /* classifier, then the global average, into buf[1] */
  const gint d = (gint) m->feature_dim, hw = self->final_h * self->final_w;
  NcfmTensor *features = ncfm_activations_get_features (activations);
  float *gf = c.buf[0];
  if (grad_logits) {
    be->ops->linear_backward (be, (gint) n, d, (gint) m->num_classes, f32 (features),
        f32 (self->fc_w->value), f32 (grad_logits), gf, grad_of (&c, self->fc_w),
        grad_of (&c, self->fc_b));
    if (grad_features)
      be->ops->axpby (be, (size_t) n * d, 1.0f, f32 (grad_features), 1.0f, gf);
  } else {
    be->ops->copy (be, gf, f32 (grad_features), (size_t) n * d * sizeof (float));
    if (parameter_gradients) {
      ncfm_tensor_fill (self->fc_w->grad, 0.0f, NULL);
      ncfm_tensor_fill (self->fc_b->grad, 0.0f, NULL);
    }
  }
  NcfmTensor *pool_w = ncfm_activations_peek (activations, SHARED (self, SHARED_POOL_WEIGHTS));
  be->ops->linear_backward (be, (gint) n * d, hw, 1, NULL, f32 (pool_w), gf, c.buf[1], NULL, NULL);
  guint cur = 1;

  for (gint b = (gint) self->n_blocks - 1; b >= 0; b--) {
    const float *x;
    if (b > 0) {
      NcfmResNetUnit *prev = &self->blocks[b - 1].c2;
      x = f32 (ncfm_activations_peek (activations, prev->slot
          + (m->norm == NCFM_NORM_NONE ? UNIT_CONV : UNIT_NORM)));
    } else if (self->stem_pools > 0) {
      x = f32 (ncfm_activations_peek (activations, self->stem_pool_slot + self->stem_pools - 1));
    } else {
      x = f32 (ncfm_activations_peek (activations, self->stem.slot
          + (m->norm == NCFM_NORM_NONE ? UNIT_CONV : UNIT_NORM)));
    }
    block_backward (&c, (guint) b, x, &cur);
  }

  /* the stem: its pools (from the last), ReLU, norm, conv */
  const gint w0 = (gint) m->net_width;
  for (gint p = (gint) self->stem_pools - 1; p >= 0; p--) {
    const gint ph = self->stem.h >> p, pw = self->stem.w >> p;
    const guint next = (cur + 1) % 6;
    be->ops->avgpool2x2_backward (be, (gint) n, w0, ph, pw, c.buf[cur], c.buf[next]);
    cur = next;
  }
  NcfmTensor *o0 = ncfm_activations_peek (activations, self->stem.slot
      + (m->norm == NCFM_NORM_NONE ? UNIT_CONV : UNIT_NORM));
  be->ops->leaky_relu_backward (be, unit_out_count (&self->stem, n), 0.0f, f32 (o0), c.buf[cur],
      c.buf[cur]);
  unit_backward (&c, &self->stem, f32 (ncfm_activations_get_input (activations)), c.buf[cur],
      c.buf[(cur + 1) % 6], c.buf[(cur + 2) % 6], f32 (gimg));
  ncfm_activations_set_outputs (activations, NULL, NULL, gimg);
  return TRUE;
}
