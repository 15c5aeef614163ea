/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmtensorize-batch.h: the frames -> image batches part of ncfmtensorize
 * (gstncfmtensorize-batch.c), apart from the element's GStreamer plumbing
 * (gstncfmtensorize.c).  Used by the streaming thread only. */
#ifndef GST_NCFM_TENSORIZE_BATCH_H
#define GST_NCFM_TENSORIZE_BATCH_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <ncfm.h>

G_BEGIN_DECLS

/* Normalisation presets (property dataset): mean/std of the method card. */
typedef enum {
  GST_NCFM_TENSORIZE_DATASET_NONE,          /* mean 0, std 1: pixels stay in [0, 1] */
  GST_NCFM_TENSORIZE_DATASET_FASHION_MNIST,
  GST_NCFM_TENSORIZE_DATASET_MNIST,
  GST_NCFM_TENSORIZE_DATASET_CIFAR10,
  GST_NCFM_TENSORIZE_DATASET_CIFAR100,
  GST_NCFM_TENSORIZE_DATASET_IMAGENET,
} GstNcfmTensorizeDataset;

/* Without class names or a class count: this many classes. */
#define GST_NCFM_TENSORIZE_CLASSES_WITHOUT_NAMES 10

/* The element's property values, as set (strings may be NULL). */
typedef struct {
  guint width, height, channels, batch_size, label, classes;
  const gchar *class_names, *mean, *std;
  GstNcfmTensorizeDataset dataset;
  gboolean use_roi, unlabeled, roi_only, aspect_crop;
} GstNcfmBatchSettings;

/* What the batches look like: fixed when the element starts. */
typedef struct {
  guint width, height, channels, batch_size;   /* channels 1 or 3 */
  gchar **class_names;                         /* the K names, NULL-terminated */
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  gint32 label;                                /* of whole-frame samples; -1 unlabeled */
  gboolean use_roi;
  gboolean unlabeled;                          /* every sample -1, every region taken */
  gboolean roi_only;                           /* a frame without regions gives no sample */
  gboolean aspect_crop;                        /* whole frames: the centre at W:H */
} GstNcfmBatchConfig;

/* Checks the settings together and fills `config` (its class_names is then
 * owned by the caller: g_strfreev); the error message names the property at
 * fault (GST_RESOURCE_ERROR_SETTINGS). */
gboolean gst_ncfm_batch_config_init (GstNcfmBatchConfig *config,
    const GstNcfmBatchSettings *settings, GError **error);

typedef struct _GstNcfmBatcher GstNcfmBatcher;

/* A batcher for `config` (checked by gst_ncfm_batch_config_init), or NULL with libncfm's error. */
GstNcfmBatcher *gst_ncfm_batcher_new (NcfmDevice *device, const GstNcfmBatchConfig *config,
    GError **error);
void gst_ncfm_batcher_free (GstNcfmBatcher *self);

/* The samples of one mapped frame (its regions of interest, or the whole
 * frame): every batch they complete goes to the ready queue.  *skipped
 * receives the regions left out (type not a class name, or outside the
 * frame); *frame_skipped is TRUE when the frame gave no sample because it
 * has no region (roi_only).  FALSE with error when device memory runs out. */
gboolean gst_ncfm_batcher_add_frame (GstNcfmBatcher *self, const GstVideoFrame *frame,
    guint *skipped, gboolean *frame_skipped, GError **error);
/* Samples waiting in the unfinished batch. */
guint gst_ncfm_batcher_pending (GstNcfmBatcher *self);
/* Finishes the unfinished batch with the samples it has (if any). */
gboolean gst_ncfm_batcher_flush (GstNcfmBatcher *self, GError **error);
/* Forgets the unfinished batch and the ready queue (flushes, drop-partial). */
void gst_ncfm_batcher_discard (GstNcfmBatcher *self, gboolean ready_too);
/* The oldest finished batch (transfer full), or NULL. */
GstBuffer *gst_ncfm_batcher_pop (GstNcfmBatcher *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstNcfmBatcher, gst_ncfm_batcher_free)

G_END_DECLS
#endif
