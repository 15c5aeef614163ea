/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstncfmtensormemory
 * @title: GstNcfmTensorMemory
 * @short_description: a GstMemory that wraps one NcfmTensor
 *
 * Tensors travel between the ncfm elements as GstMemory of this allocator
 * (registered as "NcfmTensor"): each memory holds a reference to one
 * #NcfmTensor, and an ncfm element takes the tensor straight from it with
 * gst_ncfm_tensor_memory_get_tensor(), so tensors on a GPU stay there from
 * element to element, without a host round trip.
 *
 * gst_memory_map() is for everything else (fakesink dump=true, filesink, an
 * appsink reading bytes):
 *
 * - CPU tensor: the tensor's own host memory, for reading and writing.
 * - CUDA tensor: a host staging copy.  The first map downloads the tensor
 *   into it; every unmap of a mapping made with %GST_MAP_WRITE uploads the
 *   staging copy back into the tensor.  Maps nest (the download happens once
 *   per outermost map); the staging copy lives as long as the memory.  A
 *   producer synchronises its device before pushing, so the download sees
 *   finished data.
 *
 * The allocator has no generic alloc (%GST_ALLOCATOR_FLAG_CUSTOM_ALLOC):
 * a tensor needs a device, a dtype and a shape, so memories are made with
 * gst_ncfm_tensor_memory_new() from a tensor.  Sharing a region gives a
 * sub-memory of the same tensor (its maps go through the parent's staging
 * copy); copying the whole memory copies the tensor on its device, a part
 * of it is copied into system memory.
 *
 * The other way round, gst_ncfm_buffer_import_tensor() lets an ncfm element
 * take memory of any other allocator (system memory from an appsrc or
 * NNStreamer): sized by the negotiated caps, it is copied once into a new
 * tensor; NcfmTensor memory is taken as it is.
 */
#include "gstncfmtensormemory.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_tensor_memory_debug);
#define GST_CAT_DEFAULT gst_ncfm_tensor_memory_debug

typedef struct {
  GstMemory mem;
  NcfmTensor *tensor;  /* a reference; shared by sub-memories */
  /* the root memory's only (sub-memories map through their parent): */
  GMutex lock;
  guint8 *staging;     /* CUDA: host copy while mapped, kept for the next map */
  guint n_maps;
} GstNcfmTensorMemory;

struct _GstNcfmTensorAllocator {
  GstAllocator parent;
};

G_DEFINE_FINAL_TYPE (GstNcfmTensorAllocator, gst_ncfm_tensor_allocator, GST_TYPE_ALLOCATOR)

static GstAllocator *tensor_allocator; /* the registered instance, set once */

static GstNcfmTensorMemory *
root_of (GstMemory *mem)
{
  return (GstNcfmTensorMemory *) (mem->parent ? mem->parent : mem);
}

static GstMemory *
tensor_memory_wrap (NcfmTensor *tensor, GstMemory *parent, gsize offset, gsize size)
{
  GstNcfmTensorMemory *self = g_new0 (GstNcfmTensorMemory, 1);
  const gsize n_bytes = ncfm_tensor_get_n_bytes (tensor);
  /* like system memory, a shared region is read-only while the parent lives */
  gst_memory_init (GST_MEMORY_CAST (self),
      parent ? GST_MINI_OBJECT_FLAGS (parent) | GST_MINI_OBJECT_FLAG_LOCK_READONLY : 0,
      tensor_allocator, parent, n_bytes, 0, offset, size);
  self->tensor = g_object_ref (tensor);
  g_mutex_init (&self->lock);
  return GST_MEMORY_CAST (self);
}

static GstMemory *
gst_ncfm_tensor_allocator_alloc (GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
  (void) allocator;
  (void) params;
  g_warning ("the NcfmTensor allocator cannot allocate %" G_GSIZE_FORMAT " untyped bytes: "
      "use gst_ncfm_tensor_memory_new() with a tensor", size);
  return NULL;
}

static void
gst_ncfm_tensor_allocator_free (GstAllocator *allocator, GstMemory *mem)
{
  GstNcfmTensorMemory *self = (GstNcfmTensorMemory *) mem;
  (void) allocator;
  if (self->n_maps)
    GST_WARNING ("memory %p freed while mapped %u times", mem, self->n_maps);
  g_free (self->staging);
  g_mutex_clear (&self->lock);
  g_object_unref (self->tensor);
  g_free (self);
}

static gpointer
tensor_memory_map (GstMemory *mem, GstMapInfo *info, gsize maxsize)
{
  GstNcfmTensorMemory *root = root_of (mem);
  NcfmTensor *tensor = root->tensor;
  (void) info;
  (void) maxsize;
  if (!ncfm_device_is_cuda (ncfm_tensor_get_device (tensor)))
    return ncfm_tensor_get_data (tensor);

  g_mutex_lock (&root->lock);
  const gsize n_bytes = ncfm_tensor_get_n_bytes (tensor);
  if (!root->staging)
    root->staging = g_malloc (n_bytes ? n_bytes : 1);
  if (root->n_maps++ == 0) {
    GST_LOG ("downloading %" G_GSIZE_FORMAT " bytes for a host map of %p", n_bytes, mem);
    ncfm_tensor_download (tensor, root->staging, n_bytes);
  }
  g_mutex_unlock (&root->lock);
  return root->staging;
}

static void
tensor_memory_unmap (GstMemory *mem, GstMapInfo *info)
{
  GstNcfmTensorMemory *root = root_of (mem);
  NcfmTensor *tensor = root->tensor;
  if (!ncfm_device_is_cuda (ncfm_tensor_get_device (tensor)))
    return;

  g_mutex_lock (&root->lock);
  if (info->flags & GST_MAP_WRITE) {
    g_autoptr (GError) error = NULL;
    GST_LOG ("uploading the host copy of %p after a write map", mem);
    if (!ncfm_tensor_set_data (tensor, root->staging, ncfm_tensor_get_n_bytes (tensor), &error))
      GST_ERROR ("cannot upload the mapped data: %s", error->message);
  }
  g_assert (root->n_maps > 0);
  root->n_maps--;
  g_mutex_unlock (&root->lock);
}

static GstMemory *
tensor_memory_share (GstMemory *mem, gssize offset, gssize size)
{
  GstMemory *parent = mem->parent ? mem->parent : mem;
  if (size == -1)
    size = mem->size - offset;
  return tensor_memory_wrap (root_of (mem)->tensor, parent, mem->offset + offset, size);
}

static GstMemory *
tensor_memory_copy (GstMemory *mem, gssize offset, gssize size)
{
  NcfmTensor *tensor = root_of (mem)->tensor;
  if (size == -1)
    size = mem->size > (gsize) offset ? mem->size - offset : 0;

  if (mem->offset + offset == 0 && (gsize) size == ncfm_tensor_get_n_bytes (tensor)) {
    /* the whole tensor: a new tensor on the same device */
    g_autoptr (GError) error = NULL;
    guint n_dims;
    const gint64 *shape = ncfm_tensor_get_shape (tensor, &n_dims);
    g_autoptr (NcfmTensor) copy = ncfm_tensor_new (ncfm_tensor_get_device (tensor),
        ncfm_tensor_get_dtype (tensor), shape, n_dims, &error);
    if (!copy || !ncfm_tensor_copy_from (copy, tensor, &error)) {
      GST_ERROR ("cannot copy a tensor: %s", error->message);
      return NULL;
    }
    return gst_ncfm_tensor_memory_new (copy);
  }

  /* a part of it: bytes in system memory */
  GstMapInfo in;
  if (!gst_memory_map (mem, &in, GST_MAP_READ))
    return NULL;
  GstMemory *copy = gst_allocator_alloc (NULL, size, NULL);
  GstMapInfo out;
  if (gst_memory_map (copy, &out, GST_MAP_WRITE)) {
    memcpy (out.data, in.data + offset, size);
    gst_memory_unmap (copy, &out);
  }
  gst_memory_unmap (mem, &in);
  return copy;
}

static gboolean
tensor_memory_is_span (GstMemory *mem1, GstMemory *mem2, gsize *offset)
{
  (void) mem1;
  (void) mem2;
  (void) offset;
  return FALSE;
}

static void
gst_ncfm_tensor_allocator_class_init (GstNcfmTensorAllocatorClass *klass)
{
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);
  allocator_class->alloc = gst_ncfm_tensor_allocator_alloc;
  allocator_class->free = gst_ncfm_tensor_allocator_free;
}

static void
gst_ncfm_tensor_allocator_init (GstNcfmTensorAllocator *self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);
  allocator->mem_type = GST_NCFM_TENSOR_MEMORY_TYPE;
  allocator->mem_map_full = tensor_memory_map;
  allocator->mem_unmap_full = tensor_memory_unmap;
  allocator->mem_share = tensor_memory_share;
  allocator->mem_copy = tensor_memory_copy;
  allocator->mem_is_span = tensor_memory_is_span;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

/**
 * gst_ncfm_tensor_memory_init_once:
 *
 * Registers the allocator as "NcfmTensor" (gst_allocator_find()); safe to
 * call more than once.  The plugin calls it when it loads.
 */
void
gst_ncfm_tensor_memory_init_once (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_tensor_memory_debug, "ncfmtensormemory", 0,
        "NcfmTensor memory");
    tensor_allocator = g_object_new (GST_TYPE_NCFM_TENSOR_ALLOCATOR, NULL);
    gst_object_ref_sink (tensor_allocator);
    /* the registry keeps it for the life of the process */
    GST_OBJECT_FLAG_SET (tensor_allocator, GST_OBJECT_FLAG_MAY_BE_LEAKED);
    gst_allocator_register (GST_NCFM_TENSOR_MEMORY_TYPE, gst_object_ref (tensor_allocator));
    g_once_init_leave (&done, 1);
  }
}

/**
 * gst_ncfm_tensor_memory_new:
 * @tensor: the tensor to wrap (CPU or CUDA)
 *
 * Returns: (transfer full): a memory of the tensor's size that holds a
 *   reference to @tensor
 */
GstMemory *
gst_ncfm_tensor_memory_new (NcfmTensor *tensor)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (tensor), NULL);
  gst_ncfm_tensor_memory_init_once ();
  return tensor_memory_wrap (tensor, NULL, 0, ncfm_tensor_get_n_bytes (tensor));
}

/**
 * gst_is_ncfm_tensor_memory:
 * @mem: a memory
 *
 * Returns: %TRUE if @mem wraps an #NcfmTensor
 */
gboolean
gst_is_ncfm_tensor_memory (GstMemory *mem)
{
  return mem != NULL && mem->allocator != NULL
      && GST_IS_NCFM_TENSOR_ALLOCATOR (mem->allocator);
}

/**
 * gst_ncfm_tensor_memory_get_tensor:
 * @mem: a memory for which gst_is_ncfm_tensor_memory() holds
 *
 * The whole tensor, also for a sub-memory made by gst_memory_share().  An
 * ncfm element works on it directly: no map, no copy.
 *
 * Returns: (transfer none): the tensor
 */
NcfmTensor *
gst_ncfm_tensor_memory_get_tensor (GstMemory *mem)
{
  g_return_val_if_fail (gst_is_ncfm_tensor_memory (mem), NULL);
  return root_of (mem)->tensor;
}

NcfmTensor *
gst_ncfm_buffer_get_tensor (GstElement *element, GstBuffer *buf, guint index, NcfmDType dtype,
    guint n_dims, const gchar *what)
{
  GstMemory *mem = gst_buffer_n_memory (buf) == 2 ? gst_buffer_peek_memory (buf, index) : NULL;
  NcfmTensor *t = mem && gst_is_ncfm_tensor_memory (mem) ? gst_ncfm_tensor_memory_get_tensor (mem)
      : NULL;
  if (!t || ncfm_tensor_get_dtype (t) != dtype || ncfm_tensor_get_n_dims (t) != n_dims) {
    g_autofree gchar *d = t ? ncfm_tensor_describe (t) : NULL;
    GST_ELEMENT_ERROR (element, STREAM, FORMAT,
        ("Input buffer memory %u is not an ncfm %s tensor (buffer of %u memories%s%s)", index,
            what, gst_buffer_n_memory (buf), d ? ", got " : "", d ? d : ""), (NULL));
    return NULL;
  }
  return t;
}

/* "F32 [B<=256, 1, 28, 28]": a tensor of the caps, outermost dimension first, B for the batch. */
static gchar *
describe_info (const GstNcfmTensorInfo *info)
{
  GString *s = g_string_new (ncfm_dtype_to_string (info->dtype));
  for (guint d = 0; d < info->n_dims; d++) {
    if (d)
      g_string_append_printf (s, ", %" G_GINT64_FORMAT, info->shape[d]);
    else
      g_string_append_printf (s, " [B<=%" G_GINT64_FORMAT, info->shape[0]);
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* An NcfmTensor memory's tensor fits the caps' tensor, with 1 .. B items. */
static gboolean
tensor_fits_info (NcfmTensor *t, const GstNcfmTensorInfo *info)
{
  if (ncfm_tensor_get_dtype (t) != info->dtype || ncfm_tensor_get_n_dims (t) != info->n_dims)
    return FALSE;
  const gint64 n = ncfm_tensor_get_dim (t, 0);
  if (n < 1 || n > info->shape[0])
    return FALSE;
  for (guint d = 1; d < info->n_dims; d++)
    if (ncfm_tensor_get_dim (t, d) != info->shape[d])
      return FALSE;
  return TRUE;
}

/* A copy of a foreign memory's bytes as the caps' tensor on *device. */
static NcfmTensor *
import_foreign (GstElement *element, GstMemory *mem, const GstNcfmTensorInfo *info, guint index,
    NcfmDevice **device, const gchar *what)
{
  g_autoptr (GError) error = NULL;
  gsize item = ncfm_dtype_size (info->dtype);
  for (guint d = 1; d < info->n_dims; d++)
    item *= (gsize) info->shape[d];
  const gsize full = item * (gsize) info->shape[0];
  GstMapInfo map;
  if (!gst_memory_map (mem, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("Input buffer memory %u (tensor %u: %s) is "
            "%s memory that cannot be mapped for reading", index, index, what,
            mem->allocator ? mem->allocator->mem_type : "unknown"), (NULL));
    return NULL;
  }
  const gsize size = map.size;
  if (size == 0 || size % item != 0 || size > full) {
    gst_memory_unmap (mem, &map);
    g_autofree gchar *want = describe_info (info);
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("Input buffer memory %u (tensor %u: %s, %s "
            "by the caps) holds %" G_GSIZE_FORMAT " bytes; expected %" G_GSIZE_FORMAT " bytes "
            "(%" G_GINT64_FORMAT " items of %" G_GSIZE_FORMAT " bytes) or, for a shorter "
            "batch, a multiple of %" G_GSIZE_FORMAT " bytes", index, index, what, want, size,
            full, info->shape[0], item, item), ("memory type %s",
            mem->allocator ? mem->allocator->mem_type : "unknown"));
    return NULL;
  }
  if (!*device && !(*device = ncfm_device_new (NULL, &error))) {
    gst_memory_unmap (mem, &map);
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("Cannot open the device to copy input "
            "buffer memory %u to: %s", index, error->message), ("environment NCFM_DEVICE"));
    return NULL;
  }
  gint64 shape[NCFM_MAX_DIMS];
  memcpy (shape, info->shape, sizeof shape);
  shape[0] = (gint64) (size / item);
  NcfmTensor *t = ncfm_tensor_new_from_data (*device, info->dtype, shape, info->n_dims,
      map.data, size, &error);
  gst_memory_unmap (mem, &map);
  if (!t) {
    GST_ELEMENT_ERROR (element, RESOURCE, NO_SPACE_LEFT, ("Cannot copy input buffer memory %u "
            "(%" G_GSIZE_FORMAT " bytes) to %s: %s", index, size,
            ncfm_device_get_name (*device), error->message), (NULL));
    return NULL;
  }
  GST_LOG_OBJECT (element, "copied %" G_GSIZE_FORMAT " bytes of %s memory %u to %s", size,
      mem->allocator ? mem->allocator->mem_type : "unknown", index,
      ncfm_device_get_name (*device));
  return t;
}

/**
 * gst_ncfm_buffer_import_tensor:
 * @element: the element that posts the error
 * @buf: a buffer of the stream
 * @info: the stream's tensors (the negotiated caps)
 * @index: the memory and tensor to take
 * @device: (inout) (transfer full): where a foreign memory is copied to;
 *   when %NULL, a default device is made and stored here for the caller
 * @what: the tensor for messages, e.g. "F32 [B,C,H,W] image"
 *
 * Zero-copy for #NcfmTensor memory; one copy (one upload on a GPU) for
 * memory of any other allocator, sized by the caps.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL after posting
 *   an error
 */
NcfmTensor *
gst_ncfm_buffer_import_tensor (GstElement *element, GstBuffer *buf,
    const GstNcfmTensorsInfo *info, guint index, NcfmDevice **device, const gchar *what)
{
  g_return_val_if_fail (index < info->n_tensors, NULL);
  const GstNcfmTensorInfo *want = &info->tensors[index];
  if (gst_buffer_n_memory (buf) != info->n_tensors) {
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("Input buffer has %u memories but caps field "
            "num_tensors is %u (one memory per tensor)", gst_buffer_n_memory (buf),
            info->n_tensors), (NULL));
    return NULL;
  }
  GstMemory *mem = gst_buffer_peek_memory (buf, index);
  if (!gst_is_ncfm_tensor_memory (mem))
    return import_foreign (element, mem, want, index, device, what);

  NcfmTensor *t = gst_ncfm_tensor_memory_get_tensor (mem);
  if (!tensor_fits_info (t, want)) {
    g_autofree gchar *got = ncfm_tensor_describe (t);
    g_autofree gchar *expected = describe_info (want);
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("Input buffer memory %u (tensor %u: %s) is "
            "%s; the caps describe %s", index, index, what, got, expected), (NULL));
    return NULL;
  }
  return g_object_ref (t);
}

/**
 * gst_ncfm_buffer_import_image_batch:
 * @element: the element that posts the error
 * @buf: a buffer of the stream
 * @info: the stream's tensors: images F32 [B,C,H,W] and labels I32 [B]
 * @device: (inout) (transfer full): as for gst_ncfm_buffer_import_tensor()
 * @images: (out) (transfer full): F32 [N, C, H, W]
 * @labels: (out) (transfer full): I32 [N] on the same device
 *
 * Returns: %TRUE, or %FALSE after posting an error
 */
gboolean
gst_ncfm_buffer_import_image_batch (GstElement *element, GstBuffer *buf,
    const GstNcfmTensorsInfo *info, NcfmDevice **device, NcfmTensor **images,
    NcfmTensor **labels)
{
  if (info->n_tensors != 2) {
    GST_ELEMENT_ERROR (element, CORE, NEGOTIATION, ("No image batch caps (images and labels) "
            "were negotiated before the first buffer"), (NULL));
    return FALSE;
  }
  g_autoptr (NcfmTensor) x = gst_ncfm_buffer_import_tensor (element, buf, info, 0, device,
      "F32 [B,C,H,W] image");
  g_autoptr (NcfmTensor) y = x ? gst_ncfm_buffer_import_tensor (element, buf, info, 1, device,
      "I32 [B] label") : NULL;
  if (!y)
    return FALSE;
  if (ncfm_tensor_get_dim (x, 0) != ncfm_tensor_get_dim (y, 0)
      || !gst_ncfm_same_device (ncfm_tensor_get_device (x), ncfm_tensor_get_device (y))) {
    g_autofree gchar *a = ncfm_tensor_describe (x);
    g_autofree gchar *b = ncfm_tensor_describe (y);
    GST_ELEMENT_ERROR (element, STREAM, FORMAT, ("Input buffer tensors %s and %s are not one "
            "batch (one label per image, on one device)", a, b), (NULL));
    return FALSE;
  }
  *images = g_steal_pointer (&x);
  *labels = g_steal_pointer (&y);
  return TRUE;
}

gboolean
gst_ncfm_same_device (NcfmDevice *a, NcfmDevice *b)
{
  if (a == b)
    return TRUE;
  /* names are "cpu (2 threads)" or "cuda:0 (NVIDIA H100 ...)": compare up to the space */
  const gchar *x = ncfm_device_get_name (a), *y = ncfm_device_get_name (b);
  const gsize nx = strcspn (x, " "), ny = strcspn (y, " ");
  return nx == ny && strncmp (x, y, nx) == 0;
}
