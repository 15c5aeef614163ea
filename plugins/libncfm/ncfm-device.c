/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-device
 * @title: NcfmDevice
 * @short_description: where tensors live and ops run (CPU or one CUDA device)
 *
 * A device wraps one compute backend of kernels/: the CPU, or one CUDA GPU
 * with its own stream and cuBLAS handle.  The spec is "auto", "cpu", "cuda"
 * or "cuda:N"; %NULL means the NCFM_DEVICE environment variable, or "auto".
 * "auto" takes CUDA only when the build has it and a GPU is usable, and logs
 * its choice (G_MESSAGES_DEBUG=Ncfm shows it).  A device, and the tensors and
 * models on it, are used from one thread at a time.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-device.h"

#include <unistd.h>

struct _NcfmDevice {
  GObject parent;
  NcfmBackend *backend;
  GRecMutex lock;   /* the backend serves one thread at a time */
  guint depth;      /* of the lock, by its holder (backend->lock_owner) */
};

G_DEFINE_FINAL_TYPE (NcfmDevice, ncfm_device, G_TYPE_OBJECT)
G_DEFINE_QUARK (ncfm-error-quark, ncfm_error)

/**
 * ncfm_host_check_bytes: (skip)
 * @n_bytes: the size of an allocation about to be made
 * @what: what the memory is for
 * @error: return location for a #GError
 *
 * A request beyond physical memory can never be served; asking for it
 * anyway would, with overcommit, succeed and fail later, and under a
 * sanitizer abort.
 *
 * Returns: %TRUE if @n_bytes is at most the host's physical memory
 */
gboolean
ncfm_host_check_bytes (guint64 n_bytes, const gchar *what, GError **error)
{
  const long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  const guint64 total = pages > 0 && page > 0 ? (guint64) pages * (guint64) page : G_MAXUINT64;
  if (n_bytes <= total)
    return TRUE;
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE,
      "%s: needs %" G_GUINT64_FORMAT " bytes, more than the %" G_GUINT64_FORMAT
      " bytes of memory of this machine", what, n_bytes, total);
  return FALSE;
}

/**
 * ncfm_host_try_alloc: (skip)
 * @n: number of items
 * @size: bytes per item
 * @what: what the memory is for, e.g. "loader: batch-size 256 of 3x32x32 F32 images"
 * @error: return location for a #GError
 *
 * Sizes that come from properties, caps or file headers may be absurd: the
 * product is checked and the memory is tried, so an impossible size is an
 * error instead of g_malloc()'s abort.
 *
 * Returns: (transfer full) (nullable): uninitialised memory to g_free()
 */
gpointer
ncfm_host_try_alloc (gsize n, gsize size, const gchar *what, GError **error)
{
  gsize n_bytes;
  if (!g_size_checked_mul (&n_bytes, n, size)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "%s: %" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT " bytes overflows the address space",
        what, n, size);
    return NULL;
  }
  if (!ncfm_host_check_bytes (n_bytes, what, error))
    return NULL;
  gpointer p = g_try_malloc (MAX (n_bytes, 1));
  if (!p)
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE,
        "%s: cannot allocate %" G_GSIZE_FORMAT " bytes of host memory", what, n_bytes);
  return p;
}

static void
ncfm_device_finalize (GObject *object)
{
  NcfmDevice *self = NCFM_DEVICE (object);
  ncfm_backend_free (self->backend);
  g_rec_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ncfm_device_parent_class)->finalize (object);
}

static void
ncfm_device_class_init (NcfmDeviceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_device_finalize;
}

static void
ncfm_device_init (NcfmDevice *self)
{
  g_rec_mutex_init (&self->lock);
}

/* The backend's race detector: an op ran in a thread that does not hold the
 * lock while another thread holds it. */
static void
on_race (NcfmBackend *be)
{
  g_critical ("%s used by a thread that does not hold its device lock while another thread "
      "holds it (ncfm_device_lock): the backend's scratch memory is not shared safely", be->name);
}

/**
 * ncfm_device_new:
 * @spec: (nullable): "auto", "cpu", "cuda" or "cuda:N"; %NULL for $NCFM_DEVICE or "auto"
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a new device, or %NULL with @error set when the
 *   spec is invalid or names a CUDA device that cannot be used
 */
NcfmDevice *
ncfm_device_new (const gchar *spec, GError **error)
{
  char err[256] = "", why[256] = "";
  NcfmBackend *be = ncfm_backend_new (spec, err, sizeof err, why, sizeof why);
  if (!be) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "%s", err);
    return NULL;
  }
  if (why[0])
    g_info ("%s", why);
  else
    g_info ("using %s", be->name);
  NcfmDevice *self = g_object_new (NCFM_TYPE_DEVICE, NULL);
  self->backend = be;
  be->on_race = on_race;
  return self;
}

/**
 * ncfm_device_get_name:
 * @self: a #NcfmDevice
 *
 * Returns: (transfer none): a description such as "cpu (2 threads)" or
 *   "cuda:0 (NVIDIA H100 80GB HBM3)"
 */
const gchar *
ncfm_device_get_name (NcfmDevice *self)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (self), NULL);
  return self->backend->name;
}

/**
 * ncfm_device_is_cuda:
 * @self: a #NcfmDevice
 *
 * Returns: %TRUE if tensors on this device live in CUDA device memory
 */
gboolean
ncfm_device_is_cuda (NcfmDevice *self)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (self), FALSE);
  return self->backend->type == NCFM_DEVICE_CUDA;
}

/**
 * ncfm_device_lock:
 * @self: a #NcfmDevice
 *
 * Takes the device for the calling thread.  A device's backend (its
 * scratch memory, its allocation table, its CUDA stream and cuBLAS handle)
 * serves one thread at a time: code that runs ops on a device shared with
 * other threads (pipeline elements in different streaming threads, with
 * queues between them) holds the lock around them.  Recursive; tensor
 * allocation and release take it themselves, so a tensor may be freed from
 * any thread.  An op that needs the backend's scratch memory in a thread
 * without the lock while another thread holds it is reported with
 * g_critical() (a race, whose effects would otherwise be silent).
 */
void
ncfm_device_lock (NcfmDevice *self)
{
  g_return_if_fail (NCFM_IS_DEVICE (self));
  g_rec_mutex_lock (&self->lock);
  if (self->depth++ == 0)
    __atomic_store_n (&self->backend->lock_owner, ncfm_backend_thread_token (), __ATOMIC_RELEASE);
}

/**
 * ncfm_device_unlock:
 * @self: a #NcfmDevice locked by this thread with ncfm_device_lock()
 */
void
ncfm_device_unlock (NcfmDevice *self)
{
  g_return_if_fail (NCFM_IS_DEVICE (self));
  if (--self->depth == 0)
    __atomic_store_n (&self->backend->lock_owner, NULL, __ATOMIC_RELEASE);
  g_rec_mutex_unlock (&self->lock);
}

/**
 * ncfm_device_synchronize:
 * @self: a #NcfmDevice
 *
 * Waits until every op queued on the device has finished (no-op on the CPU).
 */
void
ncfm_device_synchronize (NcfmDevice *self)
{
  g_return_if_fail (NCFM_IS_DEVICE (self));
  self->backend->ops->synchronize (self->backend);
}

/**
 * ncfm_device_have_cuda_backend:
 *
 * Returns: %TRUE if this build of libncfm includes the CUDA backend (a GPU
 *   may still be absent at run time)
 */
gboolean
ncfm_device_have_cuda_backend (void)
{
  return ncfm_backend_have_cuda ();
}

/**
 * ncfm_device_get_bytes_in_use:
 * @self: a #NcfmDevice
 *
 * Returns: bytes of device memory held by tensors and scratch right now
 */
guint64
ncfm_device_get_bytes_in_use (NcfmDevice *self)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (self), 0);
  return self->backend->bytes_in_use;
}

/**
 * ncfm_device_get_peak_bytes:
 * @self: a #NcfmDevice
 *
 * Returns: the most device memory held at once since the device was made or
 *   ncfm_device_reset_peak_bytes() was called
 */
guint64
ncfm_device_get_peak_bytes (NcfmDevice *self)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (self), 0);
  return self->backend->peak_bytes;
}

/**
 * ncfm_device_reset_peak_bytes:
 * @self: a #NcfmDevice
 *
 * Restarts the high-water mark of ncfm_device_get_peak_bytes() at the current use.
 */
void
ncfm_device_reset_peak_bytes (NcfmDevice *self)
{
  g_return_if_fail (NCFM_IS_DEVICE (self));
  ncfm_backend_reset_peak (self->backend);
}

/**
 * ncfm_device_get_backend: (skip)
 * @self: a #NcfmDevice
 *
 * Returns: (transfer none): the backend behind the device
 */
NcfmBackend *
ncfm_device_get_backend (NcfmDevice *self)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (self), NULL);
  return self->backend;
}
