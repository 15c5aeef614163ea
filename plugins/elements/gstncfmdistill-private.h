/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-private.h: what the parts of ncfmdistill share: the element
 * (gstncfmdistill.c), the synthetic-set file (gstncfmdistill-io.c) and the
 * preview frames (gstncfmdistill-preview.c). */
#ifndef GST_NCFM_DISTILL_PRIVATE_H
#define GST_NCFM_DISTILL_PRIVATE_H

#include "gstncfmdistill.h"

#include <ncfm.h>
#include <ncfm-file.h>
#include <ncfm-multiformation.h>

#include "gstncfmcfmeta.h"
#include "gstncfmmeta.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_ncfm_distill_debug);

struct _GstNcfmDistill {
  GstBaseSink parent;
  GstPad *srcpad;              /* preview frames */

  /* properties (object lock) */
  gchar *location, *dataset;
  guint ipc, factor, save_every, preview_every;
  NcfmSynsetInit init;
  gfloat lr, weight_decay, alpha, beta, calib;
  NcfmMetric metric;
  guint64 seed;
  guint max_nonfinite_steps;
  gboolean allow_dataset_change;
  gint preview_fps_n, preview_fps_d;
  guint check_every;
  guint sampler_step_every;

  /* streaming state: the property values copied at start */
  gchar *s_location;
  guint s_ipc, s_factor, s_save_every, s_preview_every;
  NcfmSynsetInit s_init;
  gfloat s_lr, s_weight_decay, s_alpha, s_beta, s_calib;
  NcfmMetric s_metric;
  guint64 s_seed;
  guint s_max_nonfinite_steps;
  gboolean s_allow_dataset_change;
  gint s_preview_fps_n, s_preview_fps_d;
  guint s_check_every;
  guint s_sampler_step_every;

  NcfmFileLock *set_lock;      /* this run's claim on s_location, start to stop */
  NcfmDataset *ds;             /* from start until the set is initialised, then dropped */
  gchar *ds_name, *ds_class_names;  /* what the resume checks compare */
  gchar *ds_path;              /* the dataset property as an absolute path */
  NcfmSafetensors *resume;   /* the file found at start, until the first buffer */
  guint k, c, h, w;
  NcfmDevice *device;
  NcfmSynset *synset;          /* the images, AdamW state and metadata, from the first buffer */
  NcfmDistiller *distiller;    /* its class step */
  guint shard_index, shard_count;  /* the stream's class shard (count 1: every class) */
  guint64 shard_round;         /* class shard: batches per round of the whole run */
  guint64 step, saved_step, previewed_step;
  gboolean failed;             /* a step or save posted an error: no save at EOS (the
                                * source still sends one), the file keeps its last save */
  NcfmSampler *psi;            /* the learned sampler of the last buffer, saved with the set */
  gint64 t0;
  guint64 n_real;
  gboolean warned_per_sample, warned_no_trained;

  /* data parallel (gstncfmdistill-dp.c) */
  gboolean claim_deferred;     /* rank > 0 of a launch: location claimed on the first
                                * buffer, unless the stream is data parallel */
  NcfmComm *dp_comm;           /* data parallel: the ranks, from the first buffer */
  gboolean dp_follower;        /* data parallel, rank > 0: never writes location */
  guint64 dp_checked_step;     /* the last step the ranks compared their sets at */

  /* the preview stream: frames are queued by the streaming thread (the
   * latest wins) and pushed by the src pad's task, so a sink behind it can
   * preroll while this sink prerolls too */
  GMutex pv_lock;
  GCond pv_cond;
  GstBuffer *pv_buffer;        /* the next frame to push */
  GstCaps *pv_caps;            /* its caps */
  gboolean pv_eos, pv_flushing;
  gboolean pv_started;         /* the task sent stream-start, caps and segment */
  guint64 pv_next_frame;       /* the task's: the earliest grid index of the next frame */
  gboolean pv_warned;          /* the task's: a refused frame was reported */
};

/* gstncfmdistill-io.c */
gboolean gst_ncfm_distill_save (GstNcfmDistill *self);
gboolean gst_ncfm_distill_check_resume (GstNcfmDistill *self, NcfmSafetensors *st);
gchar *gst_ncfm_distill_class_names_json (NcfmDataset *ds);
gboolean gst_ncfm_distill_meta_uint (NcfmSafetensors *st, const gchar *key, guint64 *out);
gchar *gst_ncfm_distill_dataset_path (const gchar *location);

gboolean gst_ncfm_distill_open_resume (GstNcfmDistill *self);

/* gstncfmdistill-shard.c */
gboolean gst_ncfm_distill_location_per_shard (GstNcfmDistill *self);
gboolean gst_ncfm_distill_shard_begin (GstNcfmDistill *self, GstBuffer *buf);
gboolean gst_ncfm_distill_shard_holds (GstNcfmDistill *self, guint c);
gboolean gst_ncfm_distill_shard_done (GstNcfmDistill *self, GstBuffer *buf);
guint64 gst_ncfm_distill_shard_step (GstNcfmDistill *self, GstBuffer *buf);

/* gstncfmdistill-props.c */
void gst_ncfm_distill_install_properties (GObjectClass *gobject_class);
void gst_ncfm_distill_init_properties (GstNcfmDistill *self);
gchar *gst_ncfm_distill_copy_properties (GstNcfmDistill *self);
guint gst_ncfm_distill_sampler_step_every (GstNcfmDistill *self, NcfmSynset *set,
    NcfmBatchMeta *bm);

/* gstncfmdistill-lock.c */
NcfmFileLock *gst_ncfm_distill_claim_location (GstNcfmDistill *self);

/* gstncfmdistill-dp.c */
gboolean gst_ncfm_distill_dp_defer_claim (GstNcfmDistill *self);
gboolean gst_ncfm_distill_dp_setup (GstNcfmDistill *self, GstBuffer *buf);
gboolean gst_ncfm_distill_dp_check (GstNcfmDistill *self, gboolean at_eos);
void gst_ncfm_distill_dp_clear (GstNcfmDistill *self);

/* gstncfmdistill-preview.c */
void gst_ncfm_distill_preview_init (GstNcfmDistill *self, GstStaticPadTemplate *templ);
void gst_ncfm_distill_preview_finalize (GstNcfmDistill *self);
void gst_ncfm_distill_queue_preview (GstNcfmDistill *self);
void gst_ncfm_distill_preview_eos (GstNcfmDistill *self);
void gst_ncfm_distill_preview_flush (GstNcfmDistill *self, GstEvent *event);
GstStateChangeReturn gst_ncfm_distill_preview_change_state (GstNcfmDistill *self,
    GstStateChange transition, GstStateChangeReturn ret);

G_END_DECLS
#endif
