/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-frames
 * @title: NcfmFrameBatch
 * @short_description: 8-bit video samples into a normalised F32 image batch
 *
 * An #NcfmFrameBatch fills a F32 [B, C, H, W] tensor one sample at a time
 * from planar 8-bit pixels (a frame or a region of it, already out of its
 * packed video format): each sample is uploaded, scaled to [0, 1], resized
 * bilinearly to H x W (PyTorch's F.interpolate, align_corners=False) and,
 * for one output channel out of three input ones, mixed to ITU-R BT.601
 * luma (PIL's convert("L")).  ncfm_frame_batch_finish() normalises the batch
 * with the dataset's mean and std and hands it over.  ncfmtensorize is this
 * object behind caps, metas and properties.
 *
 * The object is thread-safe (a #GMutex inside; the device lock around the
 * device work); samples go in the order of the calls.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-frames.h"

#include <math.h>

#include "ncfm-ops.h"

/* ITU-R BT.601 luma weights of R, G, B (PIL's convert ("L"), torchvision's rgb_to_grayscale) */
static const gfloat luma[3] = { 0.299f, 0.587f, 0.114f };

struct _NcfmFrameBatch {
  GObject parent;
  GMutex lock;                  /* guards everything below */
  NcfmDevice *device;
  guint batch_size, channels, height, width;
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  NcfmTensor *images;           /* the batch being filled, F32 [B, C, H, W] in [0, 1] */
  guint count;                  /* samples in it */
  /* per-sample scratch: the sample as uploaded bytes and as floats (both
   * grown on demand, 1-D), and the resized R, G, B planes before the luma mix */
  NcfmTensor *staging, *crop, *rgb;
};

G_DEFINE_FINAL_TYPE (NcfmFrameBatch, ncfm_frame_batch, G_TYPE_OBJECT)

static void
ncfm_frame_batch_finalize (GObject *object)
{
  NcfmFrameBatch *self = NCFM_FRAME_BATCH (object);
  g_clear_object (&self->images);
  g_clear_object (&self->staging);
  g_clear_object (&self->crop);
  g_clear_object (&self->rgb);
  g_clear_object (&self->device);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_frame_batch_parent_class)->finalize (object);
}

static void
ncfm_frame_batch_class_init (NcfmFrameBatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_frame_batch_finalize;
}

static void
ncfm_frame_batch_init (NcfmFrameBatch *self)
{
  g_mutex_init (&self->lock);
}

/**
 * ncfm_frame_batch_new:
 * @device: where the batches are made
 * @batch_size: samples per batch, B (> 0)
 * @channels: output channels, C (1 .. 4)
 * @height: output height, H (> 0)
 * @width: output width, W (> 0)
 * @mean: (array length=n_channels): per-channel mean the batch is normalised with
 * @std: (array length=n_channels): per-channel standard deviation (each > 0)
 * @n_channels: length of @mean and @std: must be @channels
 * @error: return location for a #GError
 *
 * Finished batches hold (x / 255 - mean) / std per channel, computed as
 * x / 255 * (1 / std) + (-mean / std) like the dataset loaders.
 *
 * Returns: (transfer full): a new empty batch, or %NULL with @error set
 *   when an argument is out of range (the error names it)
 */
NcfmFrameBatch *
ncfm_frame_batch_new (NcfmDevice *device, guint batch_size, guint channels, guint height,
    guint width, const gfloat *mean, const gfloat *std, guint n_channels, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (batch_size == 0 || height == 0 || width == 0 || channels == 0
      || channels > NCFM_MAX_CHANNELS) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "frame batch: batch size %u, channels "
        "%u (1-%d), height %u, width %u: each must be positive", batch_size, channels,
        NCFM_MAX_CHANNELS, height, width);
    return NULL;
  }
  if (n_channels != channels) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "frame batch: %u mean/std values for "
        "%u channels", n_channels, channels);
    return NULL;
  }
  for (guint c = 0; c < channels; c++) {
    if (!isfinite (mean[c]) || !isfinite (std[c]) || !(std[c] > 0)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "frame batch: channel %u has mean "
          "%g, std %g (finite, std > 0)", c, (double) mean[c], (double) std[c]);
      return NULL;
    }
  }
  NcfmFrameBatch *self = g_object_new (NCFM_TYPE_FRAME_BATCH, NULL);
  self->device = g_object_ref (device);
  self->batch_size = batch_size;
  self->channels = channels;
  self->height = height;
  self->width = width;
  for (guint c = 0; c < channels; c++) {
    self->mean[c] = mean[c];
    self->std[c] = std[c];
  }
  return self;
}

/* A tensor of `shape` over the first elements of the 1-D scratch *t, which
 * grows when it is too small (a sample's size changes with its region). */
static NcfmTensor *
scratch_view (NcfmDevice *dev, NcfmTensor **t, NcfmDType dtype, const gint64 *shape,
    guint n_dims, GError **error)
{
  gint64 numel = 1;
  for (guint i = 0; i < n_dims; i++)
    numel *= shape[i];
  if (!*t || ncfm_tensor_get_numel (*t) < numel) {
    g_clear_object (t);
    const gint64 flat[1] = { numel };
    if (!(*t = ncfm_tensor_new (dev, dtype, flat, 1, error)))
      return NULL;
  }
  g_autoptr (NcfmTensor) head = ncfm_tensor_new_rows (*t, 0, numel, error);
  return head ? ncfm_tensor_new_view (head, shape, n_dims, error) : NULL;
}

/* The sample planar [cin, h, w] as the next image of the batch (the caller holds both locks). */
static gboolean
add_locked (NcfmFrameBatch *self, const guint8 *planar, gsize n_bytes, guint cin, guint h,
    guint w, GError **error)
{
  const guint c = self->channels;
  const gboolean same_size = h == self->height && w == self->width;
  const gint64 in_shape[4] = { 1, cin, h, w };
  const gint64 rgb_shape[4] = { 3, 1, self->height, self->width };
  const gint64 out_shape[4] = { 1, 3, self->height, self->width };
  if (!self->images) {
    const gint64 shape[4] = { self->batch_size, c, self->height, self->width };
    if (!(self->images = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, 4, error)))
      return FALSE;
  }
  g_autoptr (NcfmTensor) slot = ncfm_tensor_new_rows (self->images, self->count, 1, error);
  g_autoptr (NcfmTensor) bytes = scratch_view (self->device, &self->staging, NCFM_DTYPE_U8,
      in_shape, 4, error);
  if (!slot || !bytes || !ncfm_tensor_set_data (bytes, planar, n_bytes, error))
    return FALSE;
  /* where the resized sample goes: its slot, or the R, G, B planes mixed below */
  g_autoptr (NcfmTensor) resized = NULL;
  if (cin == c)
    resized = g_object_ref (slot);
  else if (!ncfm_tensor_ensure_f32 (self->device, &self->rgb, rgb_shape, 4, error)
      || !(resized = ncfm_tensor_new_view (self->rgb, out_shape, 4, error)))
    return FALSE;
  if (same_size) {
    if (!ncfm_ops_u8_to_f32 (bytes, 1.0f / 255.0f, resized, error))
      return FALSE;
  } else {
    g_autoptr (NcfmTensor) floats = scratch_view (self->device, &self->crop, NCFM_DTYPE_F32,
        in_shape, 4, error);
    if (!floats || !ncfm_ops_u8_to_f32 (bytes, 1.0f / 255.0f, floats, error)
        || !ncfm_ops_resize_bilinear (floats, resized, error))
      return FALSE;
  }
  if (cin != c) {
    /* grey = the luma mix of the resized R, G, B planes (linear: it commutes with resizing) */
    g_autoptr (NcfmTensor) r = ncfm_tensor_new_rows (self->rgb, 0, 1, error);
    g_autoptr (NcfmTensor) g = r ? ncfm_tensor_new_rows (self->rgb, 1, 1, error) : NULL;
    g_autoptr (NcfmTensor) b = g ? ncfm_tensor_new_rows (self->rgb, 2, 1, error) : NULL;
    if (!b || !ncfm_ops_channel_affine (r, slot, &luma[0], NULL, 1, error)
        || !ncfm_ops_axpby (luma[1], g, 1.0f, slot, error)
        || !ncfm_ops_axpby (luma[2], b, 1.0f, slot, error))
      return FALSE;
  }
  self->count++;
  return TRUE;
}

/**
 * ncfm_frame_batch_add:
 * @self: a #NcfmFrameBatch that is not full
 * @planar: (array length=n_bytes): the sample's pixels, planar: @in_channels
 *   planes of @in_height rows of @in_width bytes
 * @n_bytes: size of @planar: @in_channels * @in_height * @in_width
 * @in_channels: the batch's channels, or 3 (R, G, B) for a 1-channel batch,
 *   which takes their luma
 * @in_height: rows of the sample (resized to the batch's height)
 * @in_width: columns of the sample (resized to the batch's width)
 * @error: return location for a #GError
 *
 * Makes the sample the batch's next image.
 *
 * Returns: %TRUE, or %FALSE with @error set (the batch unchanged) when the
 *   batch is full or the sample does not fit its description
 */
gboolean
ncfm_frame_batch_add (NcfmFrameBatch *self, const guint8 *planar, gsize n_bytes,
    guint in_channels, guint in_height, guint in_width, GError **error)
{
  g_return_val_if_fail (NCFM_IS_FRAME_BATCH (self), FALSE);
  g_autoptr (GMutexLocker) locked = g_mutex_locker_new (&self->lock);
  if (self->count == self->batch_size) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "frame batch: full with %u samples "
        "(finish it first)", self->count);
    return FALSE;
  }
  if (!(in_channels == self->channels || (in_channels == 3 && self->channels == 1))
      || in_height == 0 || in_width == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "frame batch: a sample of %u x %u x %u "
        "for %u-channel images (%u channels, or 3 for luma; positive sizes)", in_channels,
        in_height, in_width, self->channels, self->channels);
    return FALSE;
  }
  if ((guint64) in_channels * in_height * in_width != n_bytes) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "frame batch: %" G_GSIZE_FORMAT " bytes "
        "given for a sample of %u x %u x %u", n_bytes, in_channels, in_height, in_width);
    return FALSE;
  }
  /* the device is shared with other threads (a pipeline's downstream elements) */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  return add_locked (self, planar, n_bytes, in_channels, in_height, in_width, error);
}

/**
 * ncfm_frame_batch_get_count:
 * @self: a #NcfmFrameBatch
 *
 * Returns: the samples in the unfinished batch
 */
guint
ncfm_frame_batch_get_count (NcfmFrameBatch *self)
{
  g_return_val_if_fail (NCFM_IS_FRAME_BATCH (self), 0);
  g_autoptr (GMutexLocker) locked = g_mutex_locker_new (&self->lock);
  return self->count;
}

/**
 * ncfm_frame_batch_get_batch_size:
 * @self: a #NcfmFrameBatch
 *
 * Returns: the samples of a full batch
 */
guint
ncfm_frame_batch_get_batch_size (NcfmFrameBatch *self)
{
  g_return_val_if_fail (NCFM_IS_FRAME_BATCH (self), 0);
  return self->batch_size;
}

/**
 * ncfm_frame_batch_finish:
 * @self: a #NcfmFrameBatch with at least one sample
 * @error: return location for a #GError
 *
 * Normalises the samples added so far and starts an empty batch.  The work
 * is queued on the device like any op: synchronise the device
 * (ncfm_device_synchronize()) before another stream reads the tensor.
 *
 * Returns: (transfer full): F32 [n, C, H, W] for the n samples (n <= B),
 *   or %NULL with @error set when there are none or memory is exhausted
 */
NcfmTensor *
ncfm_frame_batch_finish (NcfmFrameBatch *self, GError **error)
{
  g_return_val_if_fail (NCFM_IS_FRAME_BATCH (self), NULL);
  g_autoptr (GMutexLocker) locked = g_mutex_locker_new (&self->lock);
  const guint n = self->count;
  if (!n) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "frame batch: no samples to finish");
    return NULL;
  }
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  self->count = 0;
  g_autoptr (NcfmTensor) images = g_steal_pointer (&self->images);
  if (n < self->batch_size) {
    /* a partial batch (the end of a stream): a tensor of exactly its samples */
    const gint64 shape[4] = { n, self->channels, self->height, self->width };
    g_autoptr (NcfmTensor) part = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, 4, error);
    g_autoptr (NcfmTensor) head = part ? ncfm_tensor_new_rows (images, 0, n, error) : NULL;
    if (!head || !ncfm_tensor_copy_from (part, head, error))
      return NULL;
    g_set_object (&images, part);
  }
  if (!ncfm_ops_normalize (images, images, self->mean, self->std, self->channels, error))
    return NULL;
  return g_steal_pointer (&images);
}

/**
 * ncfm_frame_batch_discard:
 * @self: a #NcfmFrameBatch
 *
 * Forgets the samples of the unfinished batch.
 */
void
ncfm_frame_batch_discard (NcfmFrameBatch *self)
{
  g_return_if_fail (NCFM_IS_FRAME_BATCH (self));
  g_autoptr (GMutexLocker) locked = g_mutex_locker_new (&self->lock);
  self->count = 0;
}

/* FALSE with an error naming @op unless @t has @dtype and @n_dims dimensions. */
static gboolean
check_operand (const gchar *op, const gchar *what, NcfmTensor *t, NcfmDType dtype,
    guint n_dims, GError **error)
{
  if (NCFM_IS_TENSOR (t) && ncfm_tensor_get_dtype (t) == dtype
      && (!n_dims || ncfm_tensor_get_n_dims (t) == n_dims))
    return TRUE;
  g_autofree gchar *d = NCFM_IS_TENSOR (t) ? ncfm_tensor_describe (t) : g_strdup ("NULL");
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: %s must be a %s tensor%s, got %s", op,
      what, ncfm_dtype_to_string (dtype), n_dims == 4 ? " [N, C, H, W]" : "", d);
  return FALSE;
}

/* FALSE with an error naming @op unless @x and @y are on one device. */
static gboolean
check_same_device (const gchar *op, NcfmTensor *x, NcfmTensor *y, GError **error)
{
  if (ncfm_tensor_get_device (x) == ncfm_tensor_get_device (y))
    return TRUE;
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "%s: x is on %s, y on %s", op,
      ncfm_device_get_name (ncfm_tensor_get_device (x)),
      ncfm_device_get_name (ncfm_tensor_get_device (y)));
  return FALSE;
}

/**
 * ncfm_ops_u8_to_f32:
 * @x: U8 tensor
 * @scale: factor of each element (1/255 maps bytes to [0, 1])
 * @y: F32 tensor with as many elements as @x, on its device; y = x * scale
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set when the tensors do not match
 */
gboolean
ncfm_ops_u8_to_f32 (NcfmTensor *x, gfloat scale, NcfmTensor *y, GError **error)
{
  if (!check_operand ("u8_to_f32", "x", x, NCFM_DTYPE_U8, 0, error)
      || !check_operand ("u8_to_f32", "y", y, NCFM_DTYPE_F32, 0, error)
      || !check_same_device ("u8_to_f32", x, y, error))
    return FALSE;
  if (ncfm_tensor_get_numel (x) != ncfm_tensor_get_numel (y)) {
    g_autofree gchar *dx = ncfm_tensor_describe (x);
    g_autofree gchar *dy = ncfm_tensor_describe (y);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "u8_to_f32: x is %s but y is %s", dx, dy);
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (ncfm_tensor_get_device (x));
  be->ops->u8_to_f32 (be, (size_t) ncfm_tensor_get_numel (x), scale, ncfm_tensor_get_data (x),
      ncfm_tensor_f32 (y));
  return TRUE;
}

/**
 * ncfm_ops_resize_bilinear:
 * @x: F32 images [N, C, h, w]
 * @y: F32 output [N, C, H, W] on @x's device: @x resized as PyTorch's
 *   F.interpolate (mode='bilinear', align_corners=False, antialias=False)
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set when the tensors do not match
 */
gboolean
ncfm_ops_resize_bilinear (NcfmTensor *x, NcfmTensor *y, GError **error)
{
  if (!check_operand ("resize_bilinear", "x", x, NCFM_DTYPE_F32, 4, error)
      || !check_operand ("resize_bilinear", "y", y, NCFM_DTYPE_F32, 4, error)
      || !check_same_device ("resize_bilinear", x, y, error))
    return FALSE;
  const gint64 *xs = ncfm_tensor_get_shape (x, &(guint) { 0 });
  const gint64 *ys = ncfm_tensor_get_shape (y, &(guint) { 0 });
  if (xs[0] != ys[0] || xs[1] != ys[1] || xs[2] > G_MAXINT || xs[3] > G_MAXINT
      || ys[2] > G_MAXINT || ys[3] > G_MAXINT || xs[0] * xs[1] > G_MAXINT) {
    g_autofree gchar *dx = ncfm_tensor_describe (x);
    g_autofree gchar *dy = ncfm_tensor_describe (y);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "resize_bilinear: %s cannot be resized "
        "into %s (same N and C)", dx, dy);
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (ncfm_tensor_get_device (x));
  be->ops->resize_bilinear_forward (be, (int) xs[0], (int) xs[1], (int) xs[2], (int) xs[3],
      (int) ys[2], (int) ys[3], ncfm_tensor_f32 (x), ncfm_tensor_f32 (y));
  return TRUE;
}
