/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-ncfmdatasetsrc
 * @title: ncfmdatasetsrc
 * @short_description: batches of a labelled image dataset as tensors
 *
 * Reads an image dataset (MNIST / Fashion-MNIST IDX, CIFAR-10/100 binary,
 * an ImageFolder of JPEG/PNG files, or a synthetic set written by
 * ncfmdistill) and pushes it as batches, one buffer per batch:
 *
 * - memory 0: images, float32 [B, C, H, W], normalised with the dataset's
 *   per-channel mean and std ((x - mean) / std, x in [0, 1]);
 * - memory 1: labels, int32 [B], the dataset's class ids;
 * - an #NcfmBatchMeta with the class names, the mean/std, the class of a
 *   per-class batch and the batch number.
 *
 * Both memories wrap #NcfmTensor objects on the element's device (see
 * gstncfmtensormemory.c): ncfm elements downstream use the tensors where they
 * are, any other element can map them (a CUDA tensor is downloaded then).
 *
 * mode=per-class (the default, what NCFM matching wants) gives batches of a
 * single class, the classes taking turns; one epoch is one round over the
 * classes.  mode=mixed walks the whole (shuffled) set once per epoch.
 *
 * Caps are fixed when the element starts, from the dataset:
 * `other/tensors, format=static, num_tensors=2,
 * dimensions="W:H:C:B,B", types="float32,int32", framerate=0/1`, plus the
 * feature memory:NcfmCUDA when the device is a GPU.  B is the largest batch
 * the stream holds (batch-size, or less when every selected class, or the
 * whole selection in mixed mode, is smaller).  A batch may be smaller than
 * B: the last batch of a mixed epoch (N mod B images), or a per-class batch
 * of a class with fewer than B images.  The caps are not renegotiated for
 * it: the real batch size is the first dimension of the memory's tensor
 * (and the memory's size), as with any variable-length tensor stream.
 *
 * The element answers position and duration queries in %GST_FORMAT_DEFAULT,
 * counted in batches (duration -1 with epochs=0, which loops forever), and
 * seeks in that format; buffers carry the batch number as offset.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ncfmdatasetsrc epochs=1 batch-size=1000 mode=mixed ! fakesink dump=false
 * ]| One epoch of Fashion-MNIST (the default location) in mixed batches of 1000.
 */
#include "gstncfmdatasetsrc.h"

#include <ncfm.h>
#include <string.h>

#include "gstncfmcaps.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

GST_DEBUG_CATEGORY_STATIC (gst_ncfm_dataset_src_debug);
#define GST_CAT_DEFAULT gst_ncfm_dataset_src_debug

#define DEFAULT_LOCATION NCFM_DEFAULT_DATASET
#define DEFAULT_FORMAT NCFM_DATASET_FORMAT_AUTO
#define DEFAULT_SPLIT "train"
#define DEFAULT_IMAGE_SIZE 0
#define DEFAULT_BATCH_SIZE 256
#define MAX_BATCH_SIZE (1u << 24)
#define DEFAULT_MODE NCFM_LOADER_MODE_PER_CLASS
#define DEFAULT_SHUFFLE TRUE
#define DEFAULT_SEED 0
#define DEFAULT_EPOCHS 1
#define DEFAULT_CLASSES NULL
#define DEFAULT_STRICT FALSE
#define DEFAULT_CACHE_DIR NULL
#define DEFAULT_DEVICE NULL
#define DEFAULT_MAX_IMAGES 0
#define DEFAULT_SHARD_INDEX 0
#define DEFAULT_SHARD_COUNT 1
#define DEFAULT_CLASS_SHARD FALSE
#define MAX_SHARDS 65536
/* the subset of max-images is the same for every seed property */
#define SUBSET_SEED G_GUINT64_CONSTANT (0x6d61782d696d6773)

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_FORMAT,
  PROP_SPLIT,
  PROP_IMAGE_SIZE,
  PROP_BATCH_SIZE,
  PROP_MODE,
  PROP_SHUFFLE,
  PROP_SEED,
  PROP_EPOCHS,
  PROP_CLASSES,
  PROP_STRICT,
  PROP_CACHE_DIR,
  PROP_DEVICE,
  PROP_MAX_IMAGES,
  PROP_SHARD_INDEX,
  PROP_SHARD_COUNT,
  PROP_CLASS_SHARD,
};

struct _GstNcfmDatasetSrc {
  GstBaseSrc parent;

  /* properties, under the object lock; read once in start() */
  gchar *location;
  NcfmDatasetFormat format;
  gchar *split;
  guint image_size;
  guint batch_size;
  NcfmLoaderMode mode;
  gboolean shuffle;
  guint64 seed;
  guint epochs;
  gchar *classes;
  gboolean strict;
  gchar *cache_dir;
  gchar *device;
  guint max_images;
  guint shard_index, shard_count;
  gboolean class_shard;

  /* from start() to stop(); the loader is driven by the streaming thread */
  NcfmDevice *dev;
  NcfmLoader *loader;
  GstCaps *caps;
  guint run_shard_index, run_shard_count;  /* the shard resolved at start, for the meta */
  gboolean run_class_shard;
  /* progress, under the object lock, for queries from any thread */
  guint64 position;
  gint64 total;
};

#define GST_TYPE_NCFM_DATASET_FORMAT (gst_ncfm_dataset_format_get_type ())
static GType
gst_ncfm_dataset_format_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_DATASET_FORMAT_AUTO, "Guess from the location", "auto" },
    { NCFM_DATASET_FORMAT_IDX, "MNIST / Fashion-MNIST IDX files (raw or .gz)", "idx" },
    { NCFM_DATASET_FORMAT_CIFAR10, "CIFAR-10 binary batches", "cifar10" },
    { NCFM_DATASET_FORMAT_CIFAR100, "CIFAR-100 binary (train.bin, test.bin)", "cifar100" },
    { NCFM_DATASET_FORMAT_IMAGEFOLDER, "ImageFolder: root/split/class/image", "imagefolder" },
    { NCFM_DATASET_FORMAT_SYNSET, "A synthetic set written by ncfmdistill", "synset" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmDatasetFormat", values));
  return type;
}

#define GST_TYPE_NCFM_LOADER_MODE (gst_ncfm_loader_mode_get_type ())
static GType
gst_ncfm_loader_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { NCFM_LOADER_MODE_PER_CLASS, "One class per batch, classes in turn", "per-class" },
    { NCFM_LOADER_MODE_MIXED, "Batches walk the whole shuffled set", "mixed" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstNcfmLoaderMode", values));
  return type;
}

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_NCFM_TENSORS_CAPS_STR));

G_DEFINE_FINAL_TYPE (GstNcfmDatasetSrc, gst_ncfm_dataset_src, GST_TYPE_BASE_SRC)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (ncfmdatasetsrc, "ncfmdatasetsrc", GST_RANK_NONE,
    GST_TYPE_NCFM_DATASET_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_ncfm_dataset_src_debug, "ncfmdatasetsrc", 0,
        "ncfm dataset source"));

/* The class subset of the `classes` property: ids or class names, comma
 * separated; empty = every class.  Posts an error naming the token at fault. */
static gboolean
parse_classes (GstNcfmDatasetSrc *self, NcfmDataset *ds, const gchar *text, GArray *out)
{
  if (!text || !*text)
    return TRUE;
  g_auto (GStrv) tokens = g_strsplit (text, ",", -1);
  const guint k = ncfm_dataset_get_num_classes (ds);
  for (guint i = 0; tokens[i]; i++) {
    const gchar *token = g_strstrip (tokens[i]);
    guint64 id = G_MAXUINT64;
    if (!g_ascii_string_to_unsigned (token, 10, 0, G_MAXUINT, &id, NULL)) {
      for (guint c = 0; c < k; c++)
        if (*token && g_ascii_strcasecmp (token, ncfm_dataset_get_class_name (ds, c)) == 0)
          id = c;
    }
    if (id == G_MAXUINT64 || id >= k) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid classes \"%s\": \"%s\" is not a class of dataset %s (ids 0 .. %u or "
              "class names)", text, token, ncfm_dataset_get_name (ds), k ? k - 1 : 0),
          ("property classes, token %u", i));
      return FALSE;
    }
    guint c = (guint) id;
    g_array_append_val (out, c);
  }
  return TRUE;
}

static void
post_dataset_error (GstNcfmDatasetSrc *self, const gchar *location, const GError *error)
{
  if (error->domain == NCFM_DATASET_ERROR && error->code == NCFM_DATASET_ERROR_NOT_FOUND)
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Could not find a dataset at \"%s\" (property location).", location),
        ("%s", error->message));
  else if (error->domain == NCFM_DATASET_ERROR && error->code == NCFM_DATASET_ERROR_CACHE)
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not write the decoded cache of \"%s\" (property cache-dir): %s", location,
            error->message), (NULL));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read the dataset at \"%s\": %s", location, error->message), (NULL));
}

/* The class shard (classes r, r + N, ... of the subset, or of all classes)
 * in place of the subset. */
static gboolean
shard_classes (NcfmDataset *ds, GArray *subset, guint index, guint count, GError **error)
{
  if (subset->len == 0)
    for (guint c = 0; c < ncfm_dataset_get_num_classes (ds); c++)
      g_array_append_val (subset, c);
  guint n = 0;
  g_autofree guint *mine = ncfm_shard_classes ((const guint *) subset->data, subset->len, index,
      count, &n, error);
  if (!mine)
    return FALSE;
  g_array_set_size (subset, 0);
  g_array_append_vals (subset, mine, n);
  return TRUE;
}

static gint
compare_uint (gconstpointer a, gconstpointer b)
{
  const guint x = *(const guint *) a, y = *(const guint *) b;
  return x < y ? -1 : x > y;
}

/* A fixed random subset of @m images of @ds (max-images), in dataset order,
 * with the dataset's classes, name and mean/std. */
static NcfmDataset *
subset_dataset (NcfmDataset *ds, guint m, GError **error)
{
  const guint n = ncfm_dataset_get_n_images (ds), k = ncfm_dataset_get_num_classes (ds);
  const guint c = ncfm_dataset_get_channels (ds);
  const gsize size = (gsize) c * ncfm_dataset_get_height (ds) * ncfm_dataset_get_width (ds)
      * ncfm_dtype_size (ncfm_dataset_get_dtype (ds));
  g_autofree guint *idx = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    idx[i] = i;
  ncfm_shuffle_indices (SUBSET_SEED, 0, idx, n, m);
  qsort (idx, m, sizeof (guint), compare_uint);
  guint8 *pixels = g_malloc (size * m);
  gint32 *labels = g_new (gint32, m);
  for (guint j = 0; j < m; j++) {
    memcpy (pixels + size * j, ncfm_dataset_peek_image (ds, idx[j]), size);
    labels[j] = ncfm_dataset_get_label (ds, idx[j]);
  }
  g_autoptr (GBytes) images = g_bytes_new_take (pixels, size * m);
  g_autoptr (GBytes) lbytes = g_bytes_new_take (labels, m * sizeof (gint32));
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < k; i++)
    g_ptr_array_add (names, (gpointer) ncfm_dataset_get_class_name (ds, i));
  g_ptr_array_add (names, NULL);
  gfloat mean[NCFM_MAX_CHANNELS] = { 0 }, std[NCFM_MAX_CHANNELS] = { 0 };
  for (guint ch = 0; ch < c && ch < NCFM_MAX_CHANNELS; ch++) {
    mean[ch] = ncfm_dataset_get_mean (ds, ch);
    std[ch] = ncfm_dataset_get_std (ds, ch);
  }
  return ncfm_dataset_new_from_data (ncfm_dataset_get_name (ds), ncfm_dataset_get_dtype (ds), m,
      c, ncfm_dataset_get_height (ds), ncfm_dataset_get_width (ds), images, lbytes,
      (const gchar *const *) names->pdata, mean, std, error);
}

/* The largest batch the loader delivers: the B of the caps. */
static guint
max_batch (NcfmLoader *loader)
{
  const guint b = ncfm_loader_get_batch_size (loader);
  if (ncfm_loader_get_mode (loader) == NCFM_LOADER_MODE_MIXED)
    return (guint) MIN ((guint64) b, ncfm_loader_get_images_per_epoch (loader));
  guint n_classes, largest = 0;
  const guint *classes = ncfm_loader_get_classes (loader, &n_classes);
  for (guint j = 0; j < n_classes; j++) {
    guint n = 0;
    g_free (ncfm_dataset_get_class_indices (ncfm_loader_get_dataset (loader), classes[j], &n));
    largest = MAX (largest, n);
  }
  return MIN (b, largest);
}

static gboolean
gst_ncfm_dataset_src_start (GstBaseSrc *bsrc)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  g_autoptr (GError) error = NULL;

  GST_OBJECT_LOCK (self);
  g_autofree gchar *location = g_strdup (self->location);
  g_autofree gchar *split = g_strdup (self->split);
  g_autofree gchar *classes = g_strdup (self->classes);
  g_autofree gchar *cache_dir = g_strdup (self->cache_dir);
  g_autofree gchar *device = g_strdup (self->device);
  const NcfmDatasetFormat format = self->format;
  const NcfmLoaderMode mode = self->mode;
  const NcfmDatasetFlags flags = self->strict ? NCFM_DATASET_FLAGS_STRICT : NCFM_DATASET_FLAGS_NONE;
  const guint image_size = self->image_size, batch_size = self->batch_size, epochs = self->epochs;
  const guint max_images = self->max_images;
  guint shard_index = self->shard_index, shard_count = self->shard_count;
  const gboolean class_shard = self->class_shard;
  const guint64 seed = self->seed;
  const gboolean shuffle = self->shuffle;
  GST_OBJECT_UNLOCK (self);

  if (!location || !*location) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No dataset location set."),
        ("property location is empty"));
    return FALSE;
  }
  g_autoptr (NcfmDevice) dev = ncfm_device_new (device, &error);
  if (!dev) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot use device \"%s\" (property device): %s",
            device ? device : g_getenv ("NCFM_DEVICE"), error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "device %s", ncfm_device_get_name (dev));

  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (location, format, split, image_size, flags,
      cache_dir, &error);
  if (!ds) {
    post_dataset_error (self, location, error);
    return FALSE;
  }
  if (max_images && max_images < ncfm_dataset_get_n_images (ds)) {
    g_autoptr (NcfmDataset) sub = subset_dataset (ds, max_images, &error);
    if (!sub) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot take %u images of dataset %s "
              "(property max-images): %s", max_images, ncfm_dataset_get_name (ds),
              error->message), (NULL));
      return FALSE;
    }
    GST_INFO_OBJECT (self, "a fixed subset of %u of the %u images", max_images,
        ncfm_dataset_get_n_images (ds));
    g_set_object (&ds, sub);
  }
  g_autoptr (GArray) subset = g_array_new (FALSE, FALSE, sizeof (guint));
  if (!parse_classes (self, ds, classes, subset))
    return FALSE;
  if (!ncfm_shard_resolve (&shard_index, &shard_count, &error)
      || (class_shard && mode == NCFM_LOADER_MODE_MIXED
          && !shard_classes (ds, subset, shard_index, shard_count, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid shard (properties shard-index, "
            "shard-count, class-shard) of dataset %s: %s", ncfm_dataset_get_name (ds),
            error->message), (NULL));
    return FALSE;
  }
  g_autoptr (NcfmLoader) loader = ncfm_loader_new (ds, dev, batch_size, mode, seed, epochs,
      shuffle, (const guint *) subset->data, subset->len, &error);
  if (!loader) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot form batches of dataset %s: %s", ncfm_dataset_get_name (ds), error->message),
        ("properties batch-size, mode, classes"));
    return FALSE;
  }
  if (!class_shard && shard_count > 1
      && !ncfm_loader_set_slice (loader, shard_index, shard_count, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot take slice %u of %u of dataset %s "
            "(properties shard-index, shard-count): %s", shard_index, shard_count,
            ncfm_dataset_get_name (ds), error->message), (NULL));
    return FALSE;
  }
  /* per class, a shard's batches keep their numbers (offsets) of the whole run */
  if (class_shard && mode == NCFM_LOADER_MODE_PER_CLASS
      && !ncfm_loader_set_class_shard (loader, shard_index, shard_count, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid shard (properties shard-index, "
            "shard-count, class-shard) of dataset %s: %s", ncfm_dataset_get_name (ds),
            error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "%s %u of %u", class_shard ? "class shard" : "slice", shard_index,
      shard_count);

  const guint b = max_batch (loader), c = ncfm_dataset_get_channels (ds);
  const gint64 images[4] = { b, c, ncfm_dataset_get_height (ds), ncfm_dataset_get_width (ds) };
  const gint64 labels[1] = { b };
  GstNcfmTensorsInfo info;
  gst_ncfm_tensors_info_init (&info, ncfm_device_is_cuda (dev));
  if (!gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_F32, images, 4, &error)
      || !gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_I32, labels, 1, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "%s: %u images of %ux%ux%u, %u classes; %" G_GUINT64_FORMAT
      " batches per epoch", ncfm_dataset_get_name (ds), ncfm_dataset_get_n_images (ds), c,
      (guint) images[2], (guint) images[3], ncfm_dataset_get_num_classes (ds),
      ncfm_loader_get_batches_per_epoch (loader));

  GST_OBJECT_LOCK (self);
  self->dev = g_steal_pointer (&dev);
  self->loader = g_steal_pointer (&loader);
  self->caps = gst_ncfm_tensors_info_to_caps (&info);
  self->run_shard_index = shard_count > 1 ? shard_index : 0;
  self->run_shard_count = MAX (shard_count, 1);
  self->run_class_shard = class_shard && shard_count > 1;
  self->position = 0;
  self->total = ncfm_loader_get_total (self->loader);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_ncfm_dataset_src_stop (GstBaseSrc *bsrc)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  GST_OBJECT_LOCK (self);
  g_clear_object (&self->loader);
  g_clear_object (&self->dev);
  gst_clear_caps (&self->caps);
  self->position = 0;
  self->total = -1;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static GstCaps *
gst_ncfm_dataset_src_get_caps (GstBaseSrc *bsrc, GstCaps *filter)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  GST_OBJECT_LOCK (self);
  GstCaps *caps = self->caps ? gst_caps_ref (self->caps) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (!caps)
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (bsrc));
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = both;
  }
  return caps;
}

static gboolean
gst_ncfm_dataset_src_query (GstBaseSrc *bsrc, GstQuery *query)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  GstFormat format;
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_POSITION:
      gst_query_parse_position (query, &format, NULL);
      if (format != GST_FORMAT_DEFAULT)
        break;
      GST_OBJECT_LOCK (self);
      gst_query_set_position (query, GST_FORMAT_DEFAULT, self->loader ? (gint64) self->position : -1);
      GST_OBJECT_UNLOCK (self);
      return TRUE;
    case GST_QUERY_DURATION:
      gst_query_parse_duration (query, &format, NULL);
      if (format != GST_FORMAT_DEFAULT)
        break;
      GST_OBJECT_LOCK (self);
      gst_query_set_duration (query, GST_FORMAT_DEFAULT, self->loader ? self->total : -1);
      GST_OBJECT_UNLOCK (self);
      return TRUE;
    default:
      break;
  }
  return GST_BASE_SRC_CLASS (gst_ncfm_dataset_src_parent_class)->query (bsrc, query);
}

static gboolean
gst_ncfm_dataset_src_is_seekable (GstBaseSrc *bsrc)
{
  (void) bsrc;
  return TRUE;
}

static gboolean
gst_ncfm_dataset_src_do_seek (GstBaseSrc *bsrc, GstSegment *segment)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  g_autoptr (GError) error = NULL;
  if (segment->format != GST_FORMAT_DEFAULT || !self->loader)
    return FALSE;
  const guint64 to = segment->rate >= 0 ? segment->start : segment->stop;
  if (!ncfm_loader_seek (self->loader, to, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->position = to;
  GST_OBJECT_UNLOCK (self);
  segment->position = to;
  return TRUE;
}

static GstFlowReturn
gst_ncfm_dataset_src_create (GstBaseSrc *bsrc, guint64 offset, guint size, GstBuffer **out)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (bsrc);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) images = NULL;
  g_autoptr (NcfmTensor) labels = NULL;
  (void) offset;
  (void) size;

  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->dev);
  const guint64 pos = ncfm_loader_get_position (self->loader);
  if (!ncfm_loader_next (self->loader, &images, &labels, &error)) {
    if (!error) {
      GST_DEBUG_OBJECT (self, "end of the last epoch after %" G_GUINT64_FORMAT " batches", pos);
      return GST_FLOW_EOS;
    }
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot load batch %" G_GUINT64_FORMAT ": %s", pos,
            error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  /* consumers run on their own streams: the batch must be complete when pushed */
  ncfm_device_synchronize (self->dev);

  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (images));
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (labels));
  gint class_id = -1;
  if (ncfm_loader_get_mode (self->loader) == NCFM_LOADER_MODE_PER_CLASS) {
    guint n_classes;
    const guint *classes = ncfm_loader_get_classes (self->loader, &n_classes);
    class_id = (gint) classes[pos % n_classes];
  }
  NcfmBatchMeta *meta = gst_buffer_add_ncfm_batch_meta_from_loader (buf, self->loader,
      class_id, pos);
  meta->shard_index = self->run_shard_index;
  meta->shard_count = self->run_shard_count;
  meta->class_shard = self->run_class_shard;
  GST_BUFFER_OFFSET (buf) = pos;
  GST_BUFFER_OFFSET_END (buf) = pos + 1;
  GST_LOG_OBJECT (self, "batch %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT " images, class %d", pos,
      ncfm_tensor_get_dim (images, 0), class_id);

  GST_OBJECT_LOCK (self);
  self->position = pos + 1;
  GST_OBJECT_UNLOCK (self);
  *out = buf;
  return GST_FLOW_OK;
}

/* The field of a string property, or NULL for the others. */
static gchar **
string_property (GstNcfmDatasetSrc *self, guint prop_id)
{
  switch (prop_id) {
    case PROP_LOCATION: return &self->location;
    case PROP_SPLIT: return &self->split;
    case PROP_CLASSES: return &self->classes;
    case PROP_CACHE_DIR: return &self->cache_dir;
    case PROP_DEVICE: return &self->device;
    default: return NULL;
  }
}

static void
gst_ncfm_dataset_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (object);
  GST_OBJECT_LOCK (self);
  if (self->loader) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("%s: property %s can only be changed in the NULL or READY state",
        GST_OBJECT_NAME (self), pspec->name);
    return;
  }
  gchar **str = string_property (self, prop_id);
  if (str) {
    g_free (*str);
    *str = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_FORMAT:
      self->format = g_value_get_enum (value);
      break;
    case PROP_IMAGE_SIZE:
      self->image_size = g_value_get_uint (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_SHUFFLE:
      self->shuffle = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_EPOCHS:
      self->epochs = g_value_get_uint (value);
      break;
    case PROP_STRICT:
      self->strict = g_value_get_boolean (value);
      break;
    case PROP_MAX_IMAGES:
      self->max_images = g_value_get_uint (value);
      break;
    case PROP_SHARD_INDEX:
      self->shard_index = g_value_get_uint (value);
      break;
    case PROP_SHARD_COUNT:
      self->shard_count = g_value_get_uint (value);
      break;
    case PROP_CLASS_SHARD:
      self->class_shard = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_dataset_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (object);
  GST_OBJECT_LOCK (self);
  gchar **str = string_property (self, prop_id);
  if (str) {
    g_value_set_string (value, *str);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_FORMAT:
      g_value_set_enum (value, self->format);
      break;
    case PROP_IMAGE_SIZE:
      g_value_set_uint (value, self->image_size);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_SHUFFLE:
      g_value_set_boolean (value, self->shuffle);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_EPOCHS:
      g_value_set_uint (value, self->epochs);
      break;
    case PROP_STRICT:
      g_value_set_boolean (value, self->strict);
      break;
    case PROP_MAX_IMAGES:
      g_value_set_uint (value, self->max_images);
      break;
    case PROP_SHARD_INDEX:
      g_value_set_uint (value, self->shard_index);
      break;
    case PROP_SHARD_COUNT:
      g_value_set_uint (value, self->shard_count);
      break;
    case PROP_CLASS_SHARD:
      g_value_set_boolean (value, self->class_shard);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_ncfm_dataset_src_finalize (GObject *object)
{
  GstNcfmDatasetSrc *self = GST_NCFM_DATASET_SRC (object);
  g_free (self->location);
  g_free (self->split);
  g_free (self->classes);
  g_free (self->cache_dir);
  g_free (self->device);
  g_clear_object (&self->loader);
  g_clear_object (&self->dev);
  gst_clear_caps (&self->caps);
  G_OBJECT_CLASS (gst_ncfm_dataset_src_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_ncfm_dataset_src_class_init (GstNcfmDatasetSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS (klass);

  gobject_class->set_property = gst_ncfm_dataset_src_set_property;
  gobject_class->get_property = gst_ncfm_dataset_src_get_property;
  gobject_class->finalize = gst_ncfm_dataset_src_finalize;

  /**
   * GstNcfmDatasetSrc:location:
   *
   * The dataset: a directory (IDX, CIFAR, ImageFolder root) or a synthetic
   * set's .safetensors file.  Defaults to Fashion-MNIST as installed by
   * Debian's dataset-fashion-mnist.
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Dataset directory, or a synthetic set's .safetensors file", DEFAULT_LOCATION,
          PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:format:
   *
   * The dataset format; auto guesses it from the files at #GstNcfmDatasetSrc:location.
   */
  g_object_class_install_property (gobject_class, PROP_FORMAT,
      g_param_spec_enum ("format", "Format", "Dataset format (auto: guess from the location)",
          GST_TYPE_NCFM_DATASET_FORMAT, DEFAULT_FORMAT, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:split:
   *
   * "train" or "test"; for an ImageFolder any subfolder of the root.
   */
  g_object_class_install_property (gobject_class, PROP_SPLIT,
      g_param_spec_string ("split", "Split",
          "Dataset split: train or test (ImageFolder: any subfolder of the location)",
          DEFAULT_SPLIT, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:image-size:
   *
   * ImageFolder: the side every image is resized to (bilinear); 0 keeps the
   * images' own size.  Other formats accept 0 or their native size only.
   */
  g_object_class_install_property (gobject_class, PROP_IMAGE_SIZE,
      g_param_spec_uint ("image-size", "Image size",
          "ImageFolder: resize images to this square side (0 = their own size; other "
          "formats: 0 or their native size)", 0, 65536, DEFAULT_IMAGE_SIZE, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:batch-size:
   *
   * Images per batch: the B of the caps.  Some batches may be smaller (see
   * the element description).
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size", "Images per batch", 1, MAX_BATCH_SIZE,
          DEFAULT_BATCH_SIZE, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:mode:
   *
   * per-class: every batch is a fresh random draw of one class, the classes
   * taking turns (what NCFM matching wants); mixed: each epoch walks the
   * whole set once, shuffled anew per epoch.
   */
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode", "How batches are formed",
          GST_TYPE_NCFM_LOADER_MODE, DEFAULT_MODE, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:shuffle:
   *
   * Draw and shuffle at random (from #GstNcfmDatasetSrc:seed); off walks the
   * dataset in its stored order.
   */
  g_object_class_install_property (gobject_class, PROP_SHUFFLE,
      g_param_spec_boolean ("shuffle", "Shuffle",
          "Draw batches at random (off: dataset order)", DEFAULT_SHUFFLE, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:seed:
   *
   * Seed of every random choice: the same seed gives the same batches on
   * every run and machine.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the random draws (same seed, same batches)",
          0, G_MAXUINT64, DEFAULT_SEED, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:epochs:
   *
   * Epochs to deliver before EOS; 0 loops forever.  An epoch is one round
   * over the classes in per-class mode, one pass over the set in mixed mode.
   */
  g_object_class_install_property (gobject_class, PROP_EPOCHS,
      g_param_spec_uint ("epochs", "Epochs", "Epochs before EOS (0 = loop forever)",
          0, G_MAXUINT, DEFAULT_EPOCHS, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:classes:
   *
   * The class subset, comma separated class ids or names ("0,3,7",
   * "Sneaker,Bag"); per-class batches cycle in this order.  Empty or unset:
   * every class.  Labels keep the dataset's ids.
   */
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes",
          "Class subset: comma-separated class ids or names, e.g. \"0,3,7\" (empty = all)",
          DEFAULT_CLASSES, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:strict:
   *
   * ImageFolder: a file that is not a decodable image is an error (the
   * default skips it with a warning).
   */
  g_object_class_install_property (gobject_class, PROP_STRICT,
      g_param_spec_boolean ("strict", "Strict",
          "ImageFolder: fail on an undecodable file instead of skipping it", DEFAULT_STRICT,
          PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:cache-dir:
   *
   * ImageFolder: where the decoded cache is kept; unset for
   * $XDG_CACHE_HOME/gst-ncfm.
   */
  g_object_class_install_property (gobject_class, PROP_CACHE_DIR,
      g_param_spec_string ("cache-dir", "Cache directory",
          "ImageFolder: directory of the decoded cache (unset: $XDG_CACHE_HOME/gst-ncfm)",
          DEFAULT_CACHE_DIR, PARAM_FLAGS));
  /**
   * GstNcfmDatasetSrc:device:
   *
   * Where the batches are delivered: "auto" (CUDA when a GPU is usable),
   * "cpu" or "cuda:N".  Unset: $NCFM_DEVICE, or auto.
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "Device of the batches: auto, cpu or cuda:N (unset: $NCFM_DEVICE or auto)",
          DEFAULT_DEVICE, PARAM_FLAGS));

  /**
   * GstNcfmDatasetSrc:max-images:
   *
   * Use at most this many images of the split: a random subset, the same
   * for every #GstNcfmDatasetSrc:seed (so the runs of a model pool see the
   * same images), kept in dataset order.  0 uses every image.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_IMAGES,
      g_param_spec_uint ("max-images", "Max images",
          "Use a fixed random subset of at most this many images (0 = all)", 0, G_MAXUINT,
          DEFAULT_MAX_IMAGES, PARAM_FLAGS));

  /**
   * GstNcfmDatasetSrc:shard-index:
   *
   * This rank's shard, below #GstNcfmDatasetSrc:shard-count (ignored when
   * that is 0, "auto").
   */
  g_object_class_install_property (gobject_class, PROP_SHARD_INDEX,
      g_param_spec_uint ("shard-index", "Shard index",
          "This rank's shard, below shard-count (ignored when shard-count is 0)", 0,
          MAX_SHARDS - 1, DEFAULT_SHARD_INDEX, PARAM_FLAGS));

  /**
   * GstNcfmDatasetSrc:shard-count:
   *
   * The number of ranks the data is divided among: rank shard-index of
   * shard-count takes the images shard-index, shard-index + shard-count, ...
   * of every class (data parallel), or with #GstNcfmDatasetSrc:class-shard
   * the classes shard-index, shard-index + shard-count, ... (of the classes
   * of #GstNcfmDatasetSrc:classes, or of all).  1 takes everything; 0 is
   * "auto": the rank and the number of ranks of the launcher (mpirun, srun),
   * everything when not launched by one.
   */
  g_object_class_install_property (gobject_class, PROP_SHARD_COUNT,
      g_param_spec_uint ("shard-count", "Shard count",
          "Ranks the data is divided among (1 = none, 0 = auto: the rank and size of mpirun "
          "or srun)", 0, MAX_SHARDS, DEFAULT_SHARD_COUNT, PARAM_FLAGS));

  /**
   * GstNcfmDatasetSrc:class-shard:
   *
   * Divide the classes among the ranks (each distils its own classes into its
   * own set, joined by `ncfm-synset merge`) instead of the images of every
   * class.  In per-class mode a shard's batches keep the offsets and images
   * they have in a run over all classes (batch round * K + the class's
   * place), so that a class sees the same batches, augmentations, models and
   * frequencies whichever ranks run the others.
   */
  g_object_class_install_property (gobject_class, PROP_CLASS_SHARD,
      g_param_spec_boolean ("class-shard", "Class shard",
          "Divide the classes among the ranks (shard-count) instead of the images of every "
          "class", DEFAULT_CLASS_SHARD, PARAM_FLAGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "NCFM dataset source",
      "Source/Tensor",
      "Reads a labelled image dataset (IDX, CIFAR, ImageFolder, synthetic set) and pushes "
      "normalised image batches with their labels as tensors, per class or mixed",
      "gst-ncfm developers");

  base_class->start = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_start);
  base_class->stop = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_stop);
  base_class->get_caps = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_get_caps);
  base_class->query = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_query);
  base_class->is_seekable = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_is_seekable);
  base_class->do_seek = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_do_seek);
  base_class->create = GST_DEBUG_FUNCPTR (gst_ncfm_dataset_src_create);

  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_DATASET_FORMAT, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_NCFM_LOADER_MODE, 0);
}

static void
gst_ncfm_dataset_src_init (GstNcfmDatasetSrc *self)
{
  self->location = g_strdup (DEFAULT_LOCATION);
  self->format = DEFAULT_FORMAT;
  self->split = g_strdup (DEFAULT_SPLIT);
  self->image_size = DEFAULT_IMAGE_SIZE;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->mode = DEFAULT_MODE;
  self->shuffle = DEFAULT_SHUFFLE;
  self->seed = DEFAULT_SEED;
  self->epochs = DEFAULT_EPOCHS;
  self->classes = g_strdup (DEFAULT_CLASSES);
  self->strict = DEFAULT_STRICT;
  self->cache_dir = g_strdup (DEFAULT_CACHE_DIR);
  self->device = g_strdup (DEFAULT_DEVICE);
  self->max_images = DEFAULT_MAX_IMAGES;
  self->shard_index = DEFAULT_SHARD_INDEX;
  self->shard_count = DEFAULT_SHARD_COUNT;
  self->class_shard = DEFAULT_CLASS_SHARD;
  self->total = -1;
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_DEFAULT);
  gst_base_src_set_live (GST_BASE_SRC (self), FALSE);
}
