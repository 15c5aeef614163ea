/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmextractor-private.h: what the parts of GstNcfmExtractor share: the
 * element (gstncfmextractor.c) and where its models come from
 * (gstncfmextractor-model.c: weights file, model pool, random init). */
#ifndef GST_NCFM_EXTRACTOR_PRIVATE_H
#define GST_NCFM_EXTRACTOR_PRIVATE_H

#include "gstncfmcaps.h"
#include "gstncfmextractor.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_ncfm_extractor_debug);

/* The base logs into the element's own category (ncfmconvnet, ncfmresnet):
 * every function that logs has its GstNcfmExtractor in `self`. */
static inline GstDebugCategory *
gst_ncfm_extractor_category (gpointer self)
{
  GstDebugCategory *cat = GST_NCFM_EXTRACTOR_GET_CLASS (self)->debug_category;
  return cat ? cat : gst_ncfm_extractor_debug;
}
#define GST_CAT_DEFAULT (gst_ncfm_extractor_category (self))

typedef struct {
  /* properties, under the object lock; read once in start() */
  guint num_classes;
  gchar *weights, *pool, *device;
  gboolean blend;
  guint rotate_every;
  guint chunk;          /* images per forward pass, 0 = all */
  guint64 seed;

  /* from start() to stop(), streaming thread only (started is read under the lock) */
  gboolean started;
  NcfmDevice *want_device;      /* NULL: follow the input (device unset or auto) */
  NcfmDevice *import_device;    /* where memory of non-ncfm elements is copied: want_device,
                                 * else the default device, made on the first such buffer */
  NcfmSafetensors *weights_file;
  guint n_members;              /* pool members found at start */
  GHashTable *member_cache;     /* "premodelK_WHICH.safetensors" -> its frozen NcfmModel */
  /* from set_caps(): the input tensors and geometry */
  GstNcfmTensorsInfo in_info;
  guint in_c, in_h, in_w, feature_dim;
  /* the current model and what made it */
  NcfmModel *model, *trained;
  NcfmActivations *activations;
  guint64 model_rotation, n_buffers;
  gint member;
  gdouble lambda;
} GstNcfmExtractorPrivate;

GstNcfmExtractorPrivate *gst_ncfm_extractor_get_priv (GstNcfmExtractor *self);
gboolean gst_ncfm_extractor_start (GstBaseTransform *trans);
gboolean gst_ncfm_extractor_build_model (GstNcfmExtractor *self, NcfmDevice *dev,
    GstBuffer *inbuf, guint64 rotation);

G_END_DECLS
#endif
