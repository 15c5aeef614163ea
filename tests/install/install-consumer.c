/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program outside the project, built by install-test.sh against the installed
 * libncfm alone (cc $(pkg-config --cflags --libs ncfm-1.0)): creates a CPU
 * device and a tensor, fills it and reads it back.  Prints "ok" and exits 0. */
#include <ncfm.h>
#include <stdio.h>

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", &error);
  if (!dev) {
    fprintf (stderr, "install-consumer: no CPU device: %s\n", error->message);
    return 1;
  }
  const gint64 shape[2] = { 2, 3 };
  g_autoptr (NcfmTensor) t = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, &error);
  if (!t) {
    fprintf (stderr, "install-consumer: no tensor: %s\n", error->message);
    return 1;
  }
  if (!ncfm_tensor_fill (t, 1.5f, &error)) {
    fprintf (stderr, "install-consumer: fill: %s\n", error->message);
    return 1;
  }
  g_autoptr (GBytes) bytes = ncfm_tensor_to_bytes (t);
  gsize n = 0;
  const gfloat *v = g_bytes_get_data (bytes, &n);
  if (n != 6 * sizeof (gfloat) || v[0] != 1.5f || v[5] != 1.5f) {
    fprintf (stderr, "install-consumer: the tensor reads back wrong (%zu bytes)\n", n);
    return 1;
  }
  g_autofree gchar *what = ncfm_tensor_describe (t);
  printf ("install-consumer: %s on %s: ok\n", what, ncfm_device_get_name (dev));
  return 0;
}
