/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-tensor
 * @title: NcfmTensor
 * @short_description: a dense, contiguous tensor on a device
 *
 * A tensor is a shape, an element type and a contiguous buffer in the memory
 * of its #NcfmDevice (host memory on the CPU, device memory on CUDA).  A view
 * shares its base tensor's buffer with another shape of the same size.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-tensor.h"

#include <math.h>
#include <string.h>

struct _NcfmTensor {
  GObject parent;
  NcfmDevice *device;
  NcfmTensor *base;       /* non-NULL for a view: owns the memory */
  NcfmDType dtype;
  guint n_dims;
  gint64 shape[NCFM_MAX_DIMS];
  gint64 numel;
  gsize n_bytes;
  gpointer data;
};

G_DEFINE_FINAL_TYPE (NcfmTensor, ncfm_tensor, G_TYPE_OBJECT)

static void
ncfm_tensor_finalize (GObject *object)
{
  NcfmTensor *self = NCFM_TENSOR (object);
  if (self->base)
    g_object_unref (self->base);
  else if (self->data) {
    /* the last reference may go in any thread */
    g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
    NcfmBackend *be = ncfm_device_get_backend (self->device);
    be->ops->free (be, self->data);
  }
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_tensor_parent_class)->finalize (object);
}

static void
ncfm_tensor_class_init (NcfmTensorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_tensor_finalize;
}

static void
ncfm_tensor_init (NcfmTensor *self)
{
  (void) self;
}

/* "F32 [2, 3, 4]" */
static gchar *
describe_shape (NcfmDType dtype, const gint64 *shape, guint n_dims)
{
  GString *s = g_string_new (ncfm_dtype_to_string (dtype));
  g_string_append (s, " [");
  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
check_shape (NcfmDType dtype, const gint64 *shape, guint n_dims, gint64 *numel,
    gsize *n_bytes, GError **error)
{
  if (ncfm_dtype_size (dtype) == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "invalid dtype %d", (int) dtype);
    return FALSE;
  }
  if (n_dims > NCFM_MAX_DIMS) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "tensor rank %u exceeds the maximum %d",
        n_dims, NCFM_MAX_DIMS);
    return FALSE;
  }
  gint64 n = 1;
  for (guint i = 0; i < n_dims; i++) {
    if (shape[i] < 0 || (shape[i] > 0 && n > G_MAXINT64 / 16 / shape[i])) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
          "invalid tensor dimension %u: %" G_GINT64_FORMAT, i, shape[i]);
      return FALSE;
    }
    n *= shape[i];
  }
  *numel = n;
  *n_bytes = (gsize) n * ncfm_dtype_size (dtype);
  return TRUE;
}

static NcfmTensor *
tensor_alloc (NcfmDevice *device, NcfmDType dtype, const gint64 *shape, guint n_dims,
    GError **error)
{
  gint64 numel;
  gsize n_bytes;
  if (!check_shape (dtype, shape, n_dims, &numel, &n_bytes, error))
    return NULL;
  NcfmBackend *be = ncfm_device_get_backend (device);
  if (!ncfm_device_is_cuda (device) && !ncfm_host_check_bytes (n_bytes, "tensor", NULL)) {
    g_autofree gchar *what = describe_shape (dtype, shape, n_dims);
    ncfm_host_check_bytes (n_bytes, what, error);
    return NULL;
  }
  ncfm_device_lock (device);
  gpointer data = be->ops->alloc (be, n_bytes);
  ncfm_device_unlock (device);
  if (!data) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "%s: out of memory allocating %"
        G_GSIZE_FORMAT " bytes", be->name, n_bytes);
    return NULL;
  }
  NcfmTensor *self = g_object_new (NCFM_TYPE_TENSOR, NULL);
  self->device = g_object_ref (device);
  self->dtype = dtype;
  self->n_dims = n_dims;
  if (n_dims)
    memcpy (self->shape, shape, n_dims * sizeof (gint64));
  self->numel = numel;
  self->n_bytes = n_bytes;
  self->data = data;
  return self;
}

/**
 * ncfm_tensor_new:
 * @device: where the tensor lives
 * @dtype: element type
 * @shape: (array length=n_dims): the dimensions, outermost first
 * @n_dims: rank (0 for a scalar)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a zero-filled tensor, or %NULL on a bad shape or
 *   when memory is exhausted
 */
NcfmTensor *
ncfm_tensor_new (NcfmDevice *device, NcfmDType dtype, const gint64 *shape, guint n_dims,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  return tensor_alloc (device, dtype, shape, n_dims, error);
}

/**
 * ncfm_tensor_new_from_data:
 * @device: where the tensor lives
 * @dtype: element type
 * @shape: (array length=n_dims): the dimensions, outermost first
 * @n_dims: rank
 * @data: (array length=n_bytes): little-endian host data, row-major
 * @n_bytes: size of @data; must equal the tensor's size
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a tensor holding a copy of @data
 */
NcfmTensor *
ncfm_tensor_new_from_data (NcfmDevice *device, NcfmDType dtype, const gint64 *shape,
    guint n_dims, const guint8 *data, gsize n_bytes, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  NcfmTensor *self = tensor_alloc (device, dtype, shape, n_dims, error);
  if (self && !ncfm_tensor_set_data (self, data, n_bytes, error))
    g_clear_object (&self);
  return self;
}

/**
 * ncfm_tensor_new_view:
 * @base: the tensor whose memory the view shares
 * @shape: (array length=n_dims): the view's dimensions (same element count)
 * @n_dims: rank
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a tensor sharing @base's memory, keeping it alive
 */
NcfmTensor *
ncfm_tensor_new_view (NcfmTensor *base, const gint64 *shape, guint n_dims, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (base), NULL);
  gint64 numel;
  gsize n_bytes;
  if (!check_shape (base->dtype, shape, n_dims, &numel, &n_bytes, error))
    return NULL;
  if (numel != base->numel) {
    g_autofree gchar *d = ncfm_tensor_describe (base);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "a view of %" G_GINT64_FORMAT " elements cannot share %s", numel, d);
    return NULL;
  }
  NcfmTensor *self = g_object_new (NCFM_TYPE_TENSOR, NULL);
  self->device = g_object_ref (base->device);
  self->base = g_object_ref (base->base ? base->base : base);
  self->dtype = base->dtype;
  self->n_dims = n_dims;
  if (n_dims)
    memcpy (self->shape, shape, n_dims * sizeof (gint64));
  self->numel = numel;
  self->n_bytes = n_bytes;
  self->data = base->data;
  return self;
}

/**
 * ncfm_tensor_new_rows:
 * @base: a tensor of rank >= 1
 * @start: first index along the outermost dimension
 * @count: number of indices (> 0)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a tensor sharing @base's memory for the rows
 *   [@start, @start + @count) of its outermost dimension (the inner
 *   dimensions unchanged), keeping @base alive; %NULL if the range is
 *   outside @base
 */
NcfmTensor *
ncfm_tensor_new_rows (NcfmTensor *base, gint64 start, gint64 count, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (base), NULL);
  if (base->n_dims < 1 || start < 0 || count < 1 || start + count > base->shape[0]) {
    g_autofree gchar *d = ncfm_tensor_describe (base);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "rows %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT " are outside %s", start,
        start + count - 1, d);
    return NULL;
  }
  const gint64 row = base->numel / base->shape[0];
  const gsize row_bytes = base->n_bytes / (gsize) base->shape[0];
  NcfmTensor *self = g_object_new (NCFM_TYPE_TENSOR, NULL);
  self->device = g_object_ref (base->device);
  self->base = g_object_ref (base->base ? base->base : base);
  self->dtype = base->dtype;
  self->n_dims = base->n_dims;
  memcpy (self->shape, base->shape, base->n_dims * sizeof (gint64));
  self->shape[0] = count;
  self->numel = row * count;
  self->n_bytes = row_bytes * (gsize) count;
  self->data = (guint8 *) base->data + row_bytes * (gsize) start;
  return self;
}

/**
 * ncfm_tensor_new_from_safetensors:
 * @file: a loaded safetensors file
 * @name: the tensor's name in @file
 * @device: where the tensor is placed
 * @error: return location for a #GError
 *
 * Floating-point entries (F64, F16, BF16) become F32; integer and F32
 * entries keep their type.
 *
 * Returns: (transfer full): a copy of the named tensor on @device
 */
NcfmTensor *
ncfm_tensor_new_from_safetensors (NcfmSafetensors *file, const gchar *name, NcfmDevice *device,
    GError **error)
{
  NcfmDType dtype;
  guint n_dims;
  gint64 shape[NCFM_MAX_DIMS];
  if (!ncfm_safetensors_get_info (file, name, &dtype, &n_dims, shape, error))
    return NULL;
  if (dtype == NCFM_DTYPE_F64 || dtype == NCFM_DTYPE_F16 || dtype == NCFM_DTYPE_BF16) {
    gsize count;
    g_autofree gfloat *f = ncfm_safetensors_dup_f32 (file, name, &count, error);
    if (!f)
      return NULL;
    return ncfm_tensor_new_from_data (device, NCFM_DTYPE_F32, shape, n_dims,
        (const guint8 *) f, count * sizeof (gfloat), error);
  }
  gsize n_bytes = 0;
  GError *peek_error = NULL;
  gconstpointer data = ncfm_safetensors_peek (file, name, &dtype, &n_bytes, &peek_error);
  if (peek_error) {
    g_propagate_error (error, peek_error);
    return NULL;
  }
  return ncfm_tensor_new_from_data (device, dtype, shape, n_dims, data, n_bytes, error);
}

/**
 * ncfm_tensor_get_device:
 * @self: a #NcfmTensor
 *
 * Returns: (transfer none): the device holding the tensor
 */
NcfmDevice *
ncfm_tensor_get_device (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), NULL);
  return self->device;
}

/**
 * ncfm_tensor_get_dtype:
 * @self: a #NcfmTensor
 *
 * Returns: the element type
 */
NcfmDType
ncfm_tensor_get_dtype (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), NCFM_DTYPE_F32);
  return self->dtype;
}

/**
 * ncfm_tensor_get_shape:
 * @self: a #NcfmTensor
 * @n_dims: (out): the rank
 *
 * Returns: (transfer none) (array length=n_dims): the dimensions
 */
const gint64 *
ncfm_tensor_get_shape (NcfmTensor *self, guint *n_dims)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), NULL);
  *n_dims = self->n_dims;
  return self->shape;
}

/**
 * ncfm_tensor_get_dim: (skip)
 * @self: a #NcfmTensor
 * @axis: an axis; negative counts from the end
 *
 * The C accessor for code that knows the rank (bindings get
 * ncfm_tensor_get_dim_checked() under this name).
 *
 * Returns: the size along @axis, or -1 if there is no such axis
 */
gint64
ncfm_tensor_get_dim (NcfmTensor *self, gint axis)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), -1);
  if (axis < 0)
    axis += (gint) self->n_dims;
  if (axis < 0 || axis >= (gint) self->n_dims)
    return -1;
  return self->shape[axis];
}

/**
 * ncfm_tensor_get_dim_checked: (rename-to ncfm_tensor_get_dim)
 * @self: a #NcfmTensor
 * @axis: an axis; negative counts from the end
 * @error: return location for a #GError
 *
 * Returns: the size along @axis, or -1 with @error set if there is no such axis
 */
gint64
ncfm_tensor_get_dim_checked (NcfmTensor *self, gint axis, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), -1);
  const gint64 dim = ncfm_tensor_get_dim (self, axis);
  if (dim < 0) {
    g_autofree gchar *d = ncfm_tensor_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "axis %d is outside %s (rank %u)", axis,
        d, self->n_dims);
  }
  return dim;
}

/**
 * ncfm_tensor_get_n_dims:
 * @self: a #NcfmTensor
 *
 * Returns: the rank
 */
guint
ncfm_tensor_get_n_dims (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), 0);
  return self->n_dims;
}

/**
 * ncfm_tensor_get_numel:
 * @self: a #NcfmTensor
 *
 * Returns: the number of elements
 */
gint64
ncfm_tensor_get_numel (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), 0);
  return self->numel;
}

/**
 * ncfm_tensor_get_n_bytes:
 * @self: a #NcfmTensor
 *
 * Returns: the size of the data in bytes
 */
gsize
ncfm_tensor_get_n_bytes (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), 0);
  return self->n_bytes;
}

/**
 * ncfm_tensor_has_shape:
 * @self: a #NcfmTensor
 * @shape: (array length=n_dims): expected dimensions
 * @n_dims: expected rank
 *
 * Returns: %TRUE if the tensor has exactly that shape
 */
gboolean
ncfm_tensor_has_shape (NcfmTensor *self, const gint64 *shape, guint n_dims)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), FALSE);
  if (n_dims != self->n_dims)
    return FALSE;
  for (guint i = 0; i < n_dims; i++)
    if (shape[i] != self->shape[i])
      return FALSE;
  return TRUE;
}

/**
 * ncfm_tensor_describe:
 * @self: a #NcfmTensor
 *
 * Returns: (transfer full): e.g. "F32 [256, 3, 32, 32]", for messages
 */
gchar *
ncfm_tensor_describe (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), NULL);
  return describe_shape (self->dtype, self->shape, self->n_dims);
}

/**
 * ncfm_tensor_to_bytes:
 * @self: a #NcfmTensor
 *
 * Returns: (transfer full): a host copy of the data (row-major, little-endian)
 */
GBytes *
ncfm_tensor_to_bytes (NcfmTensor *self)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), NULL);
  gpointer host = g_malloc (self->n_bytes ? self->n_bytes : 1);
  ncfm_tensor_download (self, host, self->n_bytes);
  return g_bytes_new_take (host, self->n_bytes);
}

/**
 * ncfm_tensor_set_data:
 * @self: a #NcfmTensor
 * @data: (array length=n_bytes): host data
 * @n_bytes: must equal the tensor's size in bytes
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_tensor_set_data (NcfmTensor *self, const guint8 *data, gsize n_bytes, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), FALSE);
  if (n_bytes != self->n_bytes) {
    g_autofree gchar *d = ncfm_tensor_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "%" G_GSIZE_FORMAT " bytes given for a tensor %s of %" G_GSIZE_FORMAT " bytes",
        n_bytes, d, self->n_bytes);
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  be->ops->upload (be, self->data, data, n_bytes);
  return TRUE;
}

/**
 * ncfm_tensor_copy_from:
 * @self: destination
 * @src: a tensor of the same dtype and element count, on the same device
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_tensor_copy_from (NcfmTensor *self, NcfmTensor *src, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self) && NCFM_IS_TENSOR (src), FALSE);
  if (src->dtype != self->dtype || src->numel != self->numel || src->device != self->device) {
    g_autofree gchar *a = ncfm_tensor_describe (src);
    g_autofree gchar *b = ncfm_tensor_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "cannot copy %s on %s into %s on %s", a,
        ncfm_device_get_name (src->device), b, ncfm_device_get_name (self->device));
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  be->ops->copy (be, self->data, src->data, self->n_bytes);
  return TRUE;
}

/**
 * ncfm_tensor_fill:
 * @self: a F32 #NcfmTensor
 * @value: the value for every element
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set when @self is not F32
 */
gboolean
ncfm_tensor_fill (NcfmTensor *self, gfloat value, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), FALSE);
  if (self->dtype != NCFM_DTYPE_F32) {
    g_autofree gchar *d = ncfm_tensor_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "fill: %s is not a F32 tensor", d);
    return FALSE;
  }
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  be->ops->fill (be, (size_t) self->numel, value, self->data);
  return TRUE;
}

/**
 * ncfm_tensor_to_safetensors:
 * @self: a #NcfmTensor
 * @file: the file to add the tensor to (in memory; save it afterwards)
 * @name: the tensor's name in @file
 */
void
ncfm_tensor_to_safetensors (NcfmTensor *self, NcfmSafetensors *file, const gchar *name)
{
  g_return_if_fail (NCFM_IS_TENSOR (self));
  g_autoptr (GBytes) bytes = ncfm_tensor_to_bytes (self);
  gsize n;
  gconstpointer d = g_bytes_get_data (bytes, &n);
  ncfm_safetensors_set (file, name, self->dtype, self->shape, self->n_dims, d, n);
}

/**
 * ncfm_tensor_get_host_address:
 * @self: a #NcfmTensor
 * @error: return location for a #GError
 *
 * The address of the tensor's data in host memory, as an integer, for
 * bindings that give a zero-copy view of it (the Python override's
 * Tensor.to_numpy()).  The memory stays valid while @self, or any tensor
 * sharing it (a view, its base), is alive; the holder of the address must
 * keep a reference to @self.  A tensor in device memory has no host address.
 *
 * Returns: the address (0 for an empty tensor), or 0 with @error set when
 *   the tensor lies in device (CUDA) memory
 */
guint64
ncfm_tensor_get_host_address (NcfmTensor *self, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), 0);
  if (ncfm_device_is_cuda (self->device)) {
    g_autofree gchar *d = ncfm_tensor_describe (self);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "%s is in the memory of %s, not in host "
        "memory (copy it with ncfm_tensor_to_bytes())", d, ncfm_device_get_name (self->device));
    return 0;
  }
  return (guint64) (guintptr) self->data;
}

/**
 * ncfm_tensor_get_data: (skip)
 * @self: a #NcfmTensor
 *
 * Returns: the data pointer in the device's memory
 */
gpointer
ncfm_tensor_get_data (NcfmTensor *self)
{
  return self->data;
}

/**
 * ncfm_tensor_download: (skip)
 * @self: a #NcfmTensor
 * @host: destination in host memory
 * @n_bytes: must equal the tensor's size in bytes
 */
void
ncfm_tensor_download (NcfmTensor *self, gpointer host, gsize n_bytes)
{
  g_return_if_fail (NCFM_IS_TENSOR (self) && n_bytes == self->n_bytes);
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);
  be->ops->download (be, host, self->data, n_bytes);
}
