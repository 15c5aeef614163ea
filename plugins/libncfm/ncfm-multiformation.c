/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-multiformation
 * @title: Multi-formation
 * @short_description: decoding stored synthetic images into training images,
 *   and their initialisation
 *
 * Multi-formation (method card section 5) stores IPC images per class at full
 * resolution H x W and cuts each into factor x factor tiles; every tile is
 * upsampled back to H x W (bilinear, F.interpolate(align_corners=False)),
 * giving IPC * factor^2 training images per class.  The decoding is linear,
 * so its backward is the adjoint chain: resize backward, then merging the
 * tiles back into place.  Decoded image t = ty * factor + tx of stored image
 * i is row i * factor^2 + t of the output (the layout of tiles_split).
 *
 * ncfm_multiformation_init() makes the stored images of a new synthetic set
 * in pixel space [0, 1]:
 *
 * - noise: independent uniform values in [0, 1): element i is word i of the
 *   Philox4x32-10 stream keyed by the seed (word i % 4 of counter i / 4),
 *   scaled by 2^-32 after rounding to 24 bits, so every value is a float in
 *   [0, 1 - 2^-24] and the same seed gives the same images everywhere;
 * - real: stored image s of class c is a real image of class c, distinct
 *   within the class while the class has enough images (then they repeat);
 * - mix: each of the factor^2 tiles of a stored image is a different real
 *   image of the class (again while there are enough) downsampled to the
 *   tile size with the same bilinear resize.
 *
 * uint8 datasets are scaled by 1/255 (as the loader does before
 * normalising); F32 datasets (synthetic sets) are taken as they are.
 * Labels are I32 [num_classes * ipc], class c owning rows c * ipc ..
 * (c + 1) * ipc - 1.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-multiformation.h"

#include <string.h>

#include "ncfm-loader.h"
#include "philox.h"

/* the slots of the caller's NcfmActivations that decode/backward use */
enum { WORK_TILES, WORK_DECODED, WORK_GRAD_TILES, WORK_GRAD_IMAGES };

/* random streams of the initialisation (ncfm_shuffle_indices) */
#define STREAM_INIT_CLASS (G_GUINT64_CONSTANT (3) << 56)

/**
 * ncfm_synset_init_to_string:
 * @mode: a #NcfmSynsetInit
 *
 * Returns: "noise", "real" or "mix"
 */
const gchar *
ncfm_synset_init_to_string (NcfmSynsetInit mode)
{
  switch (mode) {
    case NCFM_SYNSET_INIT_NOISE: return "noise";
    case NCFM_SYNSET_INIT_REAL: return "real";
    case NCFM_SYNSET_INIT_MIX: return "mix";
  }
  return "unknown";
}

/**
 * ncfm_synset_init_from_string:
 * @name: "noise", "real" or "mix"
 * @mode: (out): the initialisation
 *
 * Returns: %TRUE when @name names an initialisation
 */
gboolean
ncfm_synset_init_from_string (const gchar *name, NcfmSynsetInit *mode)
{
  for (int m = NCFM_SYNSET_INIT_NOISE; m <= NCFM_SYNSET_INIT_MIX; m++)
    if (g_strcmp0 (name, ncfm_synset_init_to_string ((NcfmSynsetInit) m)) == 0) {
      *mode = (NcfmSynsetInit) m;
      return TRUE;
    }
  return FALSE;
}

static gboolean
check_geometry (guint factor, gint64 h, gint64 w, const gchar *what, GError **error)
{
  if (factor == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "multi-formation: factor must be at least 1, got 0");
    return FALSE;
  }
  if (h % factor || w % factor) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "multi-formation: %s of %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
        " cannot be cut into %u x %u tiles (height and width must be divisible by the factor)",
        what, h, w, factor, factor);
    return FALSE;
  }
  return TRUE;
}

/* A F32 [n, c, h, w] tensor with n a multiple of `rows_multiple` and
 * counts that fit the kernels' int arguments. */
static gboolean
check_images (NcfmTensor *t, guint factor, const gchar *what, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (t), FALSE);
  if (ncfm_tensor_get_dtype (t) != NCFM_DTYPE_F32 || ncfm_tensor_get_n_dims (t) != 4
      || ncfm_tensor_get_numel (t) > G_MAXINT / MAX (factor, 1) / MAX (factor, 1)) {
    g_autofree gchar *d = ncfm_tensor_describe (t);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "multi-formation: %s must be F32 [N, C, H, W], got %s", what, d);
    return FALSE;
  }
  return check_geometry (factor, ncfm_tensor_get_dim (t, 2), ncfm_tensor_get_dim (t, 3), what,
      error);
}

/**
 * ncfm_multiformation_decode:
 * @images: stored images F32 [N, C, H, W] (pixel space)
 * @factor: tiles per side rho (1 = no multi-formation: a copy)
 * @work: a #NcfmActivations used only by multi-formation; its buffers are
 *   reused across calls while the shapes stay the same
 * @error: return location for a #GError
 *
 * Cuts every image into @factor x @factor tiles and upsamples each back to
 * H x W.
 *
 * Returns: (transfer none) (nullable): the decoded images F32
 *   [N * factor^2, C, H, W], owned by @work and overwritten by the next
 *   decode with it; %NULL with @error set when H or W is not divisible by
 *   @factor or @factor is 0
 */
NcfmTensor *
ncfm_multiformation_decode (NcfmTensor *images, guint factor, NcfmActivations *work,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (work), NULL);
  if (!check_images (images, factor, "stored images", error))
    return NULL;
  NcfmDevice *device = ncfm_tensor_get_device (images);
  const int n = ncfm_tensor_get_dim (images, 0), c = ncfm_tensor_get_dim (images, 1);
  const int h = ncfm_tensor_get_dim (images, 2), w = ncfm_tensor_get_dim (images, 3);
  const int rho = factor, nt = n * rho * rho;
  gint64 tshape[4] = { nt, c, h / rho, w / rho }, dshape[4] = { nt, c, h, w };
  NcfmTensor *tiles = ncfm_activations_ensure (work, WORK_TILES, device, NCFM_DTYPE_F32, tshape,
      4, error);
  NcfmTensor *out = tiles ? ncfm_activations_ensure (work, WORK_DECODED, device, NCFM_DTYPE_F32,
      dshape, 4, error) : NULL;
  if (!out)
    return NULL;
  NcfmBackend *be = ncfm_device_get_backend (device);
  be->ops->tiles_split (be, n, c, h, w, rho, ncfm_tensor_f32 (images), ncfm_tensor_f32 (tiles));
  be->ops->resize_bilinear_forward (be, nt, c, h / rho, w / rho, h, w, ncfm_tensor_f32 (tiles),
      ncfm_tensor_f32 (out));
  return out;
}

/**
 * ncfm_multiformation_backward:
 * @grad_decoded: the gradient wrt the decoded images, F32 [N * factor^2, C, H, W]
 * @factor: the factor of the decode
 * @work: the #NcfmActivations of the decode (or any other reserved for multi-formation)
 * @error: return location for a #GError
 *
 * The gradient wrt the stored images: the adjoint of
 * ncfm_multiformation_decode() (which is linear, so this needs no saved
 * values: resize backward of every tile, then the tiles merged into place).
 *
 * Returns: (transfer none) (nullable): the gradient F32 [N, C, H, W], owned
 *   by @work and overwritten by the next backward with it; %NULL with @error
 *   set on a shape mismatch
 */
NcfmTensor *
ncfm_multiformation_backward (NcfmTensor *grad_decoded, guint factor, NcfmActivations *work,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (work), NULL);
  if (!check_images (grad_decoded, factor, "the gradient of the decoded images", error))
    return NULL;
  const int nt = ncfm_tensor_get_dim (grad_decoded, 0), c = ncfm_tensor_get_dim (grad_decoded, 1);
  const int h = ncfm_tensor_get_dim (grad_decoded, 2), w = ncfm_tensor_get_dim (grad_decoded, 3);
  const int rho = factor;
  if (nt % (rho * rho)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "multi-formation: %d decoded images are not a multiple of factor^2 = %d", nt, rho * rho);
    return NULL;
  }
  const int n = nt / (rho * rho);
  NcfmDevice *device = ncfm_tensor_get_device (grad_decoded);
  gint64 tshape[4] = { nt, c, h / rho, w / rho }, sshape[4] = { n, c, h, w };
  NcfmTensor *gtiles = ncfm_activations_ensure (work, WORK_GRAD_TILES, device, NCFM_DTYPE_F32,
      tshape, 4, error);
  NcfmTensor *gx = gtiles ? ncfm_activations_ensure (work, WORK_GRAD_IMAGES, device,
      NCFM_DTYPE_F32, sshape, 4, error) : NULL;
  if (!gx)
    return NULL;
  NcfmBackend *be = ncfm_device_get_backend (device);
  be->ops->resize_bilinear_backward (be, nt, c, h / rho, w / rho, h, w,
      ncfm_tensor_f32 (grad_decoded), ncfm_tensor_f32 (gtiles));
  be->ops->tiles_merge (be, n, c, h, w, rho, ncfm_tensor_f32 (gtiles), ncfm_tensor_f32 (gx));
  return gx;
}

/* Pixels of dataset image `index` as floats in [0, 1] (uint8 / 255). */
static void
image_to_float (NcfmDataset *dataset, guint index, gsize chw, float *dst)
{
  gconstpointer src = ncfm_dataset_peek_image (dataset, index);
  if (ncfm_dataset_get_dtype (dataset) == NCFM_DTYPE_U8) {
    const guint8 *p = src;
    for (gsize i = 0; i < chw; i++)
      dst[i] = (float) p[i] * (1.0f / 255.0f);
  } else {
    memcpy (dst, src, chw * sizeof (float));
  }
}

/* `need` images of class c at random: distinct while the class has that
 * many, then the same random order again.  Returns a g_malloc'd array. */
static guint *
pick_class_images (NcfmDataset *dataset, guint c, guint need, guint64 seed)
{
  guint n = 0;
  g_autofree guint *all = ncfm_dataset_get_class_indices (dataset, c, &n);
  ncfm_shuffle_indices (seed, STREAM_INIT_CLASS | c, all, n, MIN (need, n));
  guint *picked = g_new (guint, need);
  for (guint i = 0; i < need; i++)
    picked[i] = all[i % n];
  return picked;
}

static void
fill_noise (float *x, gsize count, guint64 seed)
{
  NcfmPhilox4 words = { { 0 } };
  for (gsize i = 0; i < count; i++) {
    if (i % 4 == 0)
      words = ncfm_philox4x32_10 (i / 4, seed);
    x[i] = (float) (words.v[i % 4] >> 8) * (1.0f / 16777216.0f);
  }
}

/* MIX for class c: ipc * factor^2 real images, each downsampled to a tile,
 * merged into the class's ipc stored images at `out`. */
static gboolean
mix_class (NcfmDataset *dataset, guint c, guint ipc, guint factor, guint64 seed,
    NcfmActivations *work, NcfmDevice *device, float *host, float *out, GError **error)
{
  const int rho = factor, ch = ncfm_dataset_get_channels (dataset);
  const int h = ncfm_dataset_get_height (dataset), w = ncfm_dataset_get_width (dataset);
  const guint need = ipc * factor * factor;
  const gsize chw = (gsize) ch * h * w;
  g_autofree guint *picked = pick_class_images (dataset, c, need, seed);
  for (guint i = 0; i < need; i++)
    image_to_float (dataset, picked[i], chw, host + i * chw);
  gint64 fshape[4] = { need, ch, h, w }, tshape[4] = { need, ch, h / rho, w / rho };
  NcfmTensor *full = ncfm_activations_ensure (work, 0, device, NCFM_DTYPE_F32, fshape, 4, error);
  NcfmTensor *tiles = full ? ncfm_activations_ensure (work, 1, device, NCFM_DTYPE_F32, tshape, 4,
      error) : NULL;
  if (!tiles)
    return FALSE;
  NcfmBackend *be = ncfm_device_get_backend (device);
  be->ops->upload (be, ncfm_tensor_f32 (full), host, need * chw * sizeof (float));
  be->ops->resize_bilinear_forward (be, need, ch, h, w, h / rho, w / rho, ncfm_tensor_f32 (full),
      ncfm_tensor_f32 (tiles));
  be->ops->tiles_merge (be, ipc, ch, h, w, rho, ncfm_tensor_f32 (tiles), out);
  return TRUE;
}

static gboolean
check_init_args (NcfmDataset *dataset, guint ipc, guint factor, NcfmSynsetInit mode,
    GError **error)
{
  const gchar *name = ncfm_dataset_get_name (dataset);
  const guint k = ncfm_dataset_get_num_classes (dataset);
  const NcfmDType dtype = ncfm_dataset_get_dtype (dataset);
  if (ipc == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "multi-formation: images per class must be at least 1, got 0");
    return FALSE;
  }
  if (mode != NCFM_SYNSET_INIT_NOISE && mode != NCFM_SYNSET_INIT_REAL
      && mode != NCFM_SYNSET_INIT_MIX) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "multi-formation: unknown initialisation %d", (int) mode);
    return FALSE;
  }
  if (!check_geometry (factor, ncfm_dataset_get_height (dataset),
        ncfm_dataset_get_width (dataset), "the images", error))
    return FALSE;
  const guint64 chw = (guint64) ncfm_dataset_get_channels (dataset)
      * ncfm_dataset_get_height (dataset) * ncfm_dataset_get_width (dataset);
  if (k == 0 || (guint64) k * ipc * chw * factor * factor > G_MAXINT) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "multi-formation: %u classes x %u images per class of dataset %s is %s", k, ipc, name,
        k ? "too large" : "empty");
    return FALSE;
  }
  if (dtype != NCFM_DTYPE_U8 && dtype != NCFM_DTYPE_F32) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "multi-formation: dataset %s holds %s pixels; U8 or F32 are supported", name,
        ncfm_dtype_to_string (dtype));
    return FALSE;
  }
  for (guint c = 0; c < k && mode != NCFM_SYNSET_INIT_NOISE; c++) {
    guint n = 0;
    g_free (ncfm_dataset_get_class_indices (dataset, c, &n));
    if (n == 0) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY,
          "multi-formation: class %u (%s) of dataset %s has no images to initialise from", c,
          ncfm_dataset_get_class_name (dataset, c), name);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * ncfm_multiformation_init:
 * @dataset: the real images (for their classes, geometry and, for real and
 *   mix, their pixels)
 * @ipc: stored images per class
 * @factor: multi-formation factor (tiles per side; 1 = none)
 * @mode: how the images start
 * @seed: seed of the noise and of the choice of real images
 * @device: where the tensors are made
 * @images: (out) (transfer full): the stored images, F32
 *   [num_classes * ipc, C, H, W] in pixel space [0, 1]
 * @labels: (out) (transfer full): their labels, I32 [num_classes * ipc]
 * @error: return location for a #GError
 *
 * Makes the initial stored images of a synthetic set (see the section
 * description for each mode).  The same seed gives the same set.
 *
 * Returns: %TRUE, or %FALSE with @error set: @ipc or @factor 0, H or W not
 *   divisible by @factor, or (real, mix) a class with no images
 */
gboolean
ncfm_multiformation_init (NcfmDataset *dataset, guint ipc, guint factor, NcfmSynsetInit mode,
    guint64 seed, NcfmDevice *device, NcfmTensor **images, NcfmTensor **labels, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DATASET (dataset), FALSE);
  g_return_val_if_fail (NCFM_IS_DEVICE (device), FALSE);
  g_return_val_if_fail (images != NULL && labels != NULL, FALSE);
  *images = *labels = NULL;
  if (!check_init_args (dataset, ipc, factor, mode, error))
    return FALSE;
  const guint k = ncfm_dataset_get_num_classes (dataset), n = k * ipc;
  const guint ch = ncfm_dataset_get_channels (dataset);
  const guint h = ncfm_dataset_get_height (dataset), w = ncfm_dataset_get_width (dataset);
  const gsize chw = (gsize) ch * h * w;
  gint64 shape[4] = { n, ch, h, w };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new (device, NCFM_DTYPE_F32, shape, 4, error);
  g_autofree gint32 *host_labels = g_new (gint32, n);
  for (guint i = 0; i < n; i++)
    host_labels[i] = (gint32) (i / ipc);
  g_autoptr (NcfmTensor) y = x ? ncfm_tensor_new_from_data (device, NCFM_DTYPE_I32, shape, 1,
      (const guint8 *) host_labels, n * sizeof (gint32), error) : NULL;
  if (!y)
    return FALSE;

  NcfmBackend *be = ncfm_device_get_backend (device);
  if (mode == NCFM_SYNSET_INIT_MIX) {
    g_autoptr (NcfmActivations) work = ncfm_activations_new ();
    g_autofree float *host = g_new (float, (gsize) ipc * factor * factor * chw);
    for (guint c = 0; c < k; c++)
      if (!mix_class (dataset, c, ipc, factor, seed, work, device, host,
            ncfm_tensor_f32 (x) + (gsize) c * ipc * chw, error))
        return FALSE;
    /* a bilinear mix of values in [0, 1] may round an ulp outside */
    be->ops->clamp (be, (gsize) n * chw, 0.0f, 1.0f, ncfm_tensor_f32 (x));
  } else {
    g_autofree float *host = g_new (float, (gsize) n * chw);
    if (mode == NCFM_SYNSET_INIT_NOISE) {
      fill_noise (host, (gsize) n * chw, seed);
    } else {
      for (guint c = 0; c < k; c++) {
        g_autofree guint *picked = pick_class_images (dataset, c, ipc, seed);
        for (guint s = 0; s < ipc; s++)
          image_to_float (dataset, picked[s], chw, host + ((gsize) c * ipc + s) * chw);
      }
    }
    be->ops->upload (be, ncfm_tensor_f32 (x), host, (gsize) n * chw * sizeof (float));
  }
  *images = g_steal_pointer (&x);
  *labels = g_steal_pointer (&y);
  return TRUE;
}
