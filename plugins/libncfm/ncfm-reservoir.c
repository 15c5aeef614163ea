/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-reservoir
 * @title: NcfmReservoir
 * @short_description: a bounded, uniform sample of a stream, per class
 *
 * An #NcfmReservoir keeps, for each of K classes, at most `capacity` images
 * of shape [C, H, W] out of all the images of that class it was offered:
 * reservoir sampling (Vitter's Algorithm R), so after n images of a class
 * each of them is stored with probability min(1, capacity / n), however
 * long the stream.  Memory is bounded by K x capacity x C x H x W floats
 * (ncfm_reservoir_get_max_bytes()); a class takes memory as it fills.
 *
 * It also counts, per class, the images offered since the class's last
 * draw ("new" ones): ncfm_reservoir_next_ready() picks the next class that
 * has enough stored images for a batch and enough new ones since its last
 * batch, and ncfm_reservoir_draw() hands out a batch of distinct stored
 * images of one class in random order.
 *
 * Every random choice comes from Philox4x32-10 keyed by the seed and the
 * class, with the class's image or draw count as the counter: the choices
 * of a class do not depend on how the classes interleave, and a reservoir
 * saved (ncfm_reservoir_save()) and loaded again
 * (ncfm_reservoir_new_from_file()) continues exactly as one that was never
 * interrupted.
 *
 * A reservoir is not thread-safe: callers that share one serialise its use.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-reservoir.h"

#include <string.h>

#include "ncfm-loader.h"
#include "ncfm-safetensors.h"
#include "philox.h"

/* the metadata that identifies a saved reservoir */
#define META_KIND "ncfm.kind"
#define KIND "reservoir"

typedef struct {
  gfloat *data;          /* stored samples, [allocated, C, H, W] */
  guint stored, allocated;
  guint64 seen, fresh, draws;
  guint64 key;           /* Philox key of the class's Algorithm R draws */
} ClassReservoir;

struct _NcfmReservoir {
  GObject parent;
  guint k, capacity, c, h, w;
  gsize sample_size;     /* floats per sample */
  guint64 seed;
  ClassReservoir *classes;
};

G_DEFINE_FINAL_TYPE (NcfmReservoir, ncfm_reservoir, G_TYPE_OBJECT)

static void
ncfm_reservoir_finalize (GObject *object)
{
  NcfmReservoir *self = NCFM_RESERVOIR (object);
  for (guint i = 0; i < self->k; i++)
    g_free (self->classes[i].data);
  g_free (self->classes);
  G_OBJECT_CLASS (ncfm_reservoir_parent_class)->finalize (object);
}

static void
ncfm_reservoir_class_init (NcfmReservoirClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_reservoir_finalize;
}

static void
ncfm_reservoir_init (NcfmReservoir *self)
{
  (void) self;
}

static guint64
words64 (NcfmPhilox4 r)
{
  return (guint64) r.v[0] | ((guint64) r.v[1] << 32);
}

/**
 * ncfm_reservoir_new:
 * @num_classes: K, at least 1
 * @capacity: images kept per class, at least 1
 * @channels: C of every image
 * @height: H
 * @width: W
 * @seed: seed of every random choice
 *
 * Returns: (transfer full): an empty reservoir
 */
NcfmReservoir *
ncfm_reservoir_new (guint num_classes, guint capacity, guint channels, guint height,
    guint width, guint64 seed)
{
  g_return_val_if_fail (num_classes > 0 && capacity > 0, NULL);
  g_return_val_if_fail (channels > 0 && height > 0 && width > 0, NULL);
  NcfmReservoir *self = g_object_new (NCFM_TYPE_RESERVOIR, NULL);
  self->k = num_classes;
  self->capacity = capacity;
  self->c = channels;
  self->h = height;
  self->w = width;
  self->sample_size = (gsize) channels * height * width;
  self->seed = seed;
  self->classes = g_new0 (ClassReservoir, num_classes);
  for (guint i = 0; i < num_classes; i++)
    self->classes[i].key = words64 (ncfm_philox4x32_10 (i, seed));
  return self;
}

guint
ncfm_reservoir_get_num_classes (NcfmReservoir *self)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), 0);
  return self->k;
}

guint
ncfm_reservoir_get_capacity (NcfmReservoir *self)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), 0);
  return self->capacity;
}

/**
 * ncfm_reservoir_get_sample_shape:
 * @self: a #NcfmReservoir
 * @channels: (out) (optional): C
 * @height: (out) (optional): H
 * @width: (out) (optional): W
 */
void
ncfm_reservoir_get_sample_shape (NcfmReservoir *self, guint *channels, guint *height,
    guint *width)
{
  g_return_if_fail (NCFM_IS_RESERVOIR (self));
  if (channels)
    *channels = self->c;
  if (height)
    *height = self->h;
  if (width)
    *width = self->w;
}

guint64
ncfm_reservoir_get_seed (NcfmReservoir *self)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), 0);
  return self->seed;
}

static ClassReservoir *
class_of (NcfmReservoir *self, guint class_id)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), NULL);
  g_return_val_if_fail (class_id < self->k, NULL);
  return &self->classes[class_id];
}

/**
 * ncfm_reservoir_get_n_stored:
 * @self: a #NcfmReservoir
 * @class_id: a class below K
 *
 * Returns: the images of @class_id stored now (at most the capacity)
 */
guint
ncfm_reservoir_get_n_stored (NcfmReservoir *self, guint class_id)
{
  ClassReservoir *cr = class_of (self, class_id);
  return cr ? cr->stored : 0;
}

/**
 * ncfm_reservoir_get_n_seen:
 * @self: a #NcfmReservoir
 * @class_id: a class below K
 *
 * Returns: the images of @class_id ever offered to ncfm_reservoir_add()
 */
guint64
ncfm_reservoir_get_n_seen (NcfmReservoir *self, guint class_id)
{
  ClassReservoir *cr = class_of (self, class_id);
  return cr ? cr->seen : 0;
}

/**
 * ncfm_reservoir_get_n_new:
 * @self: a #NcfmReservoir
 * @class_id: a class below K
 *
 * Returns: the images of @class_id offered since its last draw (all of them
 *   before the first)
 */
guint64
ncfm_reservoir_get_n_new (NcfmReservoir *self, guint class_id)
{
  ClassReservoir *cr = class_of (self, class_id);
  return cr ? cr->fresh : 0;
}

/**
 * ncfm_reservoir_get_n_draws:
 * @self: a #NcfmReservoir
 * @class_id: a class below K
 *
 * Returns: the batches drawn of @class_id
 */
guint64
ncfm_reservoir_get_n_draws (NcfmReservoir *self, guint class_id)
{
  ClassReservoir *cr = class_of (self, class_id);
  return cr ? cr->draws : 0;
}

/**
 * ncfm_reservoir_get_bytes:
 * @self: a #NcfmReservoir
 *
 * Returns: the bytes of image memory the reservoir holds now
 */
gsize
ncfm_reservoir_get_bytes (NcfmReservoir *self)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), 0);
  gsize n = 0;
  for (guint i = 0; i < self->k; i++)
    n += (gsize) self->classes[i].allocated * self->sample_size * sizeof (gfloat);
  return n;
}

/**
 * ncfm_reservoir_get_max_bytes:
 * @self: a #NcfmReservoir
 *
 * Returns: the bound of ncfm_reservoir_get_bytes(): K x capacity x C x H x W
 *   floats
 */
gsize
ncfm_reservoir_get_max_bytes (NcfmReservoir *self)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), 0);
  return (gsize) self->k * self->capacity * self->sample_size * sizeof (gfloat);
}

/* Room for one more stored sample: the class's memory doubles up to the capacity. */
static void
grow (NcfmReservoir *self, ClassReservoir *cr)
{
  if (cr->stored < cr->allocated)
    return;
  cr->allocated = MIN (self->capacity, MAX (cr->allocated * 2, 4u));
  cr->data = g_realloc_n (cr->data, (gsize) cr->allocated * self->sample_size, sizeof (gfloat));
}

/**
 * ncfm_reservoir_add:
 * @self: a #NcfmReservoir
 * @class_id: the image's class, below K
 * @sample: (array length=n_values): the image, C x H x W floats
 * @n_values: C x H x W
 *
 * Offers one image of @class_id (Algorithm R): stored while the class has
 * room; afterwards, as the n-th image of its class, it replaces stored
 * image j for a uniform j in [0, n) when j < capacity, and is discarded
 * otherwise.  Either way it counts as seen and new.
 *
 * Returns: what happened to the image
 */
NcfmReservoirOutcome
ncfm_reservoir_add (NcfmReservoir *self, guint class_id, const gfloat *sample, gsize n_values)
{
  ClassReservoir *cr = class_of (self, class_id);
  g_return_val_if_fail (cr != NULL, NCFM_RESERVOIR_DISCARDED);
  g_return_val_if_fail (sample != NULL && n_values == self->sample_size,
      NCFM_RESERVOIR_DISCARDED);
  const guint64 n = ++cr->seen;
  cr->fresh++;
  guint slot;
  NcfmReservoirOutcome outcome;
  if (cr->stored < self->capacity) {
    grow (self, cr);
    slot = cr->stored++;
    outcome = NCFM_RESERVOIR_STORED;
  } else {
    /* the bias of r mod n, n / 2^64, is far below anything a stream could show */
    const guint64 j = words64 (ncfm_philox4x32_10 (n, cr->key)) % n;
    if (j >= self->capacity)
      return NCFM_RESERVOIR_DISCARDED;
    slot = (guint) j;
    outcome = NCFM_RESERVOIR_REPLACED;
  }
  memcpy (cr->data + (gsize) slot * self->sample_size, sample, n_values * sizeof (gfloat));
  return outcome;
}

/**
 * ncfm_reservoir_next_ready:
 * @self: a #NcfmReservoir
 * @batch_size: the images a batch needs stored
 * @min_new: the images a class needs offered since its last draw, at least 1
 * @start: the class to look at first; the others follow in turn (round robin)
 *
 * Returns: the first class, from @start on, with at least @batch_size
 *   stored images and @min_new new ones; -1 when none is ready
 */
gint
ncfm_reservoir_next_ready (NcfmReservoir *self, guint batch_size, guint64 min_new, guint start)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), -1);
  g_return_val_if_fail (min_new > 0, -1);
  for (guint i = 0; i < self->k; i++) {
    const guint c = (start + i) % self->k;
    const ClassReservoir *cr = &self->classes[c];
    if (cr->stored >= batch_size && cr->fresh >= min_new)
      return (gint) c;
  }
  return -1;
}

/**
 * ncfm_reservoir_draw_into: (skip)
 * @self: a #NcfmReservoir
 * @class_id: a class below K
 * @batch_size: the images wanted
 * @dst: room for @batch_size images of C x H x W floats
 *
 * Copies min(@batch_size, stored) distinct stored images of @class_id,
 * a uniformly drawn subset in random order, to @dst, and starts the
 * class's count of new images again.
 *
 * Returns: the images copied
 */
guint
ncfm_reservoir_draw_into (NcfmReservoir *self, guint class_id, guint batch_size, gfloat *dst)
{
  ClassReservoir *cr = class_of (self, class_id);
  g_return_val_if_fail (cr != NULL && dst != NULL, 0);
  const guint m = MIN (batch_size, cr->stored);
  g_autofree guint *order = g_new (guint, MAX (cr->stored, 1u));
  for (guint i = 0; i < cr->stored; i++)
    order[i] = i;
  /* one stream per (class, draw): draws of different classes never share numbers */
  ncfm_shuffle_indices (self->seed, cr->draws * self->k + class_id, order, cr->stored, m);
  for (guint i = 0; i < m; i++)
    memcpy (dst + (gsize) i * self->sample_size, cr->data + (gsize) order[i] * self->sample_size,
        self->sample_size * sizeof (gfloat));
  cr->draws++;
  cr->fresh = 0;
  return m;
}

/**
 * ncfm_reservoir_draw:
 * @self: a #NcfmReservoir
 * @device: where the batch goes
 * @class_id: a class below K
 * @batch_size: the images wanted
 * @error: return location for a #GError
 *
 * ncfm_reservoir_draw_into() into a new tensor.
 *
 * Returns: (transfer full): F32 [n, C, H, W] on @device, n = min(@batch_size,
 *   stored); %NULL with @error when the class has nothing stored or the
 *   device is out of memory
 */
NcfmTensor *
ncfm_reservoir_draw (NcfmReservoir *self, NcfmDevice *device, guint class_id,
    guint batch_size, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  if (ncfm_reservoir_get_n_stored (self, class_id) == 0 || batch_size == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "nothing to draw: class %u has %u "
        "images stored, %u asked for", class_id, ncfm_reservoir_get_n_stored (self, class_id),
        batch_size);
    return NULL;
  }
  const guint m = MIN (batch_size, self->classes[class_id].stored);
  g_autofree gfloat *host = g_new (gfloat, (gsize) m * self->sample_size);
  ncfm_reservoir_draw_into (self, class_id, batch_size, host);
  const gint64 shape[4] = { m, self->c, self->h, self->w };
  return ncfm_tensor_new_from_data (device, NCFM_DTYPE_F32, shape, 4, (const guint8 *) host,
      (gsize) m * self->sample_size * sizeof (gfloat), error);
}

/* ---- files ---- */

static void
set_uint_metadata (NcfmSafetensors *st, const gchar *key, guint64 value)
{
  g_autofree gchar *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  ncfm_safetensors_set_metadata (st, key, text);
}

/**
 * ncfm_reservoir_save:
 * @self: a #NcfmReservoir
 * @path: the file to write (atomically: a crash leaves the old file or the new one)
 * @error: return location for a #GError
 *
 * Writes the reservoir as safetensors: every class's stored images
 * ("class.N", F32 [stored, C, H, W]), the per-class counts ("seen", "new",
 * "draws", I64 [K]) and the settings in the metadata.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_reservoir_save (NcfmReservoir *self, const gchar *path, GError **error)
{
  g_return_val_if_fail (NCFM_IS_RESERVOIR (self), FALSE);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  ncfm_safetensors_set_metadata (st, META_KIND, KIND);
  set_uint_metadata (st, "ncfm.reservoir.classes", self->k);
  set_uint_metadata (st, "ncfm.reservoir.capacity", self->capacity);
  set_uint_metadata (st, "ncfm.reservoir.channels", self->c);
  set_uint_metadata (st, "ncfm.reservoir.height", self->h);
  set_uint_metadata (st, "ncfm.reservoir.width", self->w);
  set_uint_metadata (st, "ncfm.reservoir.seed", self->seed);
  g_autofree gint64 *seen = g_new (gint64, self->k);
  g_autofree gint64 *fresh = g_new (gint64, self->k);
  g_autofree gint64 *draws = g_new (gint64, self->k);
  for (guint i = 0; i < self->k; i++) {
    const ClassReservoir *cr = &self->classes[i];
    seen[i] = (gint64) cr->seen;
    fresh[i] = (gint64) cr->fresh;
    draws[i] = (gint64) cr->draws;
    if (!cr->stored)
      continue;
    g_autofree gchar *name = g_strdup_printf ("class.%u", i);
    const gint64 shape[4] = { cr->stored, self->c, self->h, self->w };
    ncfm_safetensors_set (st, name, NCFM_DTYPE_F32, shape, 4, cr->data,
        (gsize) cr->stored * self->sample_size * sizeof (gfloat));
  }
  const gint64 kshape[1] = { self->k };
  ncfm_safetensors_set (st, "seen", NCFM_DTYPE_I64, kshape, 1, seen, self->k * sizeof (gint64));
  ncfm_safetensors_set (st, "new", NCFM_DTYPE_I64, kshape, 1, fresh, self->k * sizeof (gint64));
  ncfm_safetensors_set (st, "draws", NCFM_DTYPE_I64, kshape, 1, draws,
      self->k * sizeof (gint64));
  return ncfm_safetensors_save (st, path, error);
}

/* An integer of the metadata in [min, max] into *value. */
static gboolean
read_uint_metadata (NcfmSafetensors *st, const gchar *path, const gchar *key, guint64 min,
    guint64 max, guint64 *value, GError **error)
{
  const gchar *text = ncfm_safetensors_get_metadata (st, key);
  if (!text || !g_ascii_string_to_unsigned (text, 10, min, max, value, NULL)) {
    g_set_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_HEADER,
        "%s: metadata %s is %s%s%s, not an integer in [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "]", path, key, text ? "\"" : "missing", text ? text : "",
        text ? "\"" : "", min, max);
    return FALSE;
  }
  return TRUE;
}

/* The I64 [K] counts called `name`, each in [0, G_MAXINT64]. */
static const gint64 *
read_counts (NcfmSafetensors *st, const gchar *path, const gchar *name, guint k, GError **error)
{
  NcfmDType dt;
  gsize nb = 0;
  const gint64 *v = ncfm_safetensors_peek (st, name, &dt, &nb, error);
  if (!v)
    return NULL;
  if (dt != NCFM_DTYPE_I64 || nb != k * sizeof (gint64)) {
    g_set_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_SHAPE,
        "%s: tensor %s is not I64 [%u]", path, name, k);
    return NULL;
  }
  for (guint i = 0; i < k; i++) {
    if (v[i] < 0) {
      g_set_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_SHAPE,
          "%s: tensor %s: class %u has a negative count %" G_GINT64_FORMAT, path, name, i, v[i]);
      return NULL;
    }
  }
  return v;
}

/* Class i's stored images and counts from the file, checked against each other. */
static gboolean
load_class (NcfmReservoir *self, NcfmSafetensors *st, const gchar *path, guint i, guint64 seen,
    guint64 fresh, guint64 draws, GError **error)
{
  ClassReservoir *cr = &self->classes[i];
  const guint expect = (guint) MIN (seen, (guint64) self->capacity);
  g_autofree gchar *name = g_strdup_printf ("class.%u", i);
  if (fresh > seen) {
    g_set_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_SHAPE, "%s: class %u "
        "has %" G_GUINT64_FORMAT " new images of %" G_GUINT64_FORMAT " seen (tensors new, seen)",
        path, i, fresh, seen);
    return FALSE;
  }
  cr->seen = seen;
  cr->fresh = fresh;
  cr->draws = draws;
  if (!expect)
    return TRUE;
  const gint64 shape[4] = { expect, self->c, self->h, self->w };
  cr->allocated = cr->stored = expect;
  cr->data = g_new (gfloat, (gsize) expect * self->sample_size);
  return ncfm_safetensors_read_f32 (st, name, shape, 4, cr->data, error);
}

/**
 * ncfm_reservoir_new_from_file:
 * @path: a file written by ncfm_reservoir_save()
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the reservoir as it was saved (its seed
 *   included), or %NULL with @error (%NCFM_SAFETENSORS_ERROR, naming the
 *   file and the tensor or metadata at fault)
 */
NcfmReservoir *
ncfm_reservoir_new_from_file (const gchar *path, GError **error)
{
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, error);
  if (!st)
    return NULL;
  if (g_strcmp0 (ncfm_safetensors_get_metadata (st, META_KIND), KIND) != 0) {
    g_set_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_HEADER,
        "%s: not a reservoir (metadata %s is not \"%s\")", path, META_KIND, KIND);
    return NULL;
  }
  guint64 k, cap, c, h, w, seed;
  if (!read_uint_metadata (st, path, "ncfm.reservoir.classes", 1, 1u << 20, &k, error)
      || !read_uint_metadata (st, path, "ncfm.reservoir.capacity", 1, 1u << 24, &cap, error)
      || !read_uint_metadata (st, path, "ncfm.reservoir.channels", 1, 4, &c, error)
      || !read_uint_metadata (st, path, "ncfm.reservoir.height", 1, 1u << 14, &h, error)
      || !read_uint_metadata (st, path, "ncfm.reservoir.width", 1, 1u << 14, &w, error)
      || !read_uint_metadata (st, path, "ncfm.reservoir.seed", 0, G_MAXUINT64, &seed, error))
    return NULL;
  const gint64 *seen, *fresh, *draws;
  if (!(seen = read_counts (st, path, "seen", (guint) k, error))
      || !(fresh = read_counts (st, path, "new", (guint) k, error))
      || !(draws = read_counts (st, path, "draws", (guint) k, error)))
    return NULL;
  g_autoptr (NcfmReservoir) self = ncfm_reservoir_new ((guint) k, (guint) cap, (guint) c,
      (guint) h, (guint) w, seed);
  for (guint i = 0; i < k; i++)
    if (!load_class (self, st, path, i, (guint64) seen[i], (guint64) fresh[i],
            (guint64) draws[i], error))
      return NULL;
  return g_steal_pointer (&self);
}
