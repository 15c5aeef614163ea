/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_DEVICE_H
#define NCFM_DEVICE_H

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * NCFM_ERROR:
 *
 * Error domain of libncfm for everything but file formats (which have their
 * own domains): bad arguments, shape mismatches, devices.
 */
#define NCFM_ERROR (ncfm_error_quark ())
GQuark ncfm_error_quark (void);

/**
 * NcfmError:
 * @NCFM_ERROR_DEVICE: the requested device does not exist or cannot be used
 * @NCFM_ERROR_SHAPE: a tensor has the wrong shape or type for the operation
 * @NCFM_ERROR_ARGUMENT: an argument is out of range
 * @NCFM_ERROR_WEIGHTS: weights are missing or do not fit the model
 * @NCFM_ERROR_NOT_FINITE: a tensor (weights read from a file, or a model's
 *   parameters) holds a NaN or an infinity
 */
typedef enum {
  NCFM_ERROR_DEVICE,
  NCFM_ERROR_SHAPE,
  NCFM_ERROR_ARGUMENT,
  NCFM_ERROR_WEIGHTS,
  NCFM_ERROR_NOT_FINITE,
} NcfmError;

#define NCFM_TYPE_DEVICE (ncfm_device_get_type ())
G_DECLARE_FINAL_TYPE (NcfmDevice, ncfm_device, NCFM, DEVICE, GObject)

NcfmDevice *ncfm_device_new (const gchar *spec, GError **error);
const gchar *ncfm_device_get_name (NcfmDevice *self);
gboolean ncfm_device_is_cuda (NcfmDevice *self);
void ncfm_device_synchronize (NcfmDevice *self);
void ncfm_device_lock (NcfmDevice *self);
void ncfm_device_unlock (NcfmDevice *self);
gboolean ncfm_device_have_cuda_backend (void);
guint64 ncfm_device_get_bytes_in_use (NcfmDevice *self);
guint64 ncfm_device_get_peak_bytes (NcfmDevice *self);
void ncfm_device_reset_peak_bytes (NcfmDevice *self);

#ifndef __GI_SCANNER__
/* FALSE with an error naming @what and the bytes when @n_bytes exceeds the
 * host's physical memory (no allocation could be served). */
gboolean ncfm_host_check_bytes (guint64 n_bytes, const gchar *what, GError **error);
/* Host memory for @n items of @size bytes, or NULL with an error naming
 * @what and the bytes (an overflowing product is refused, not wrapped). */
gpointer ncfm_host_try_alloc (gsize n, gsize size, const gchar *what, GError **error);
#include "ncfm-backend.h"
/* The kernels' backend behind this device (C only). */
NcfmBackend *ncfm_device_get_backend (NcfmDevice *self);
#endif

#ifndef __GI_SCANNER__
/* g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev): locked
 * until the end of the scope. */
typedef NcfmDevice NcfmDeviceLocker;
static inline NcfmDeviceLocker *
ncfm_device_locker_new (NcfmDevice *device)
{
  ncfm_device_lock (device);
  return (NcfmDeviceLocker *) device;
}
static inline void
ncfm_device_locker_free (NcfmDeviceLocker *locker)
{
  ncfm_device_unlock ((NcfmDevice *) locker);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NcfmDeviceLocker, ncfm_device_locker_free)
#endif

G_END_DECLS
#endif
