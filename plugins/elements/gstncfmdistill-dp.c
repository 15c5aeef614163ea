/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-dp.c: ncfmdistill in a data-parallel run (the source's
 * NcfmBatchMeta: shard_count > 1 without class_shard).  Every rank holds a
 * copy of the set and takes the same step on it (ncfmcf sums the statistics
 * over the ranks), so only rank 0 writes the location, and the ranks compare
 * their copies every check-every steps (ncfm_data_parallel_check_set()).
 * The mode is known from the first buffer only; a rank > 0 of a launch whose
 * location is shared with rank 0 (no %r in it) therefore claims it then, and
 * not at all when the stream is data parallel. */
#include "gstncfmdistill-private.h"

#include <string.h>

#include "gstncfmmeta.h"

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

/* At start: whether the claim on the location waits for the first buffer
 * (rank > 0 of a launch, a location without %r). */
gboolean
gst_ncfm_distill_dp_defer_claim (GstNcfmDistill *self)
{
  guint rank = 0;
  GST_OBJECT_LOCK (self);
  const gboolean per_rank = self->location && strstr (self->location, "%r");
  GST_OBJECT_UNLOCK (self);
  self->claim_deferred = ncfm_comm_launched (&rank, NULL) && rank > 0 && !per_rank;
  if (self->claim_deferred)
    GST_INFO_OBJECT (self, "rank %u: %s claimed on the first buffer unless the stream is data "
        "parallel", rank, self->s_location);
  return self->claim_deferred;
}

/* On the first buffer: the ranks of a data-parallel stream, or the deferred
 * claim of any other; FALSE with an error posted on failure. */
gboolean
gst_ncfm_distill_dp_setup (GstNcfmDistill *self, GstBuffer *buf)
{
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  if (self->dp_comm)          /* set up on an earlier buffer that failed later on */
    return TRUE;
  if (!bm || bm->class_shard || bm->shard_count < 2) {
    if (!self->claim_deferred)
      return TRUE;
    self->claim_deferred = FALSE;
    self->set_lock = gst_ncfm_distill_claim_location (self);
    return self->set_lock != NULL;
  }
  g_autoptr (GError) error = NULL;
  self->dp_comm = ncfm_data_parallel_comm_new (bm->shard_index, bm->shard_count, &error);
  if (!self->dp_comm) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot distil data parallel: %s",
            error->message), ("the source's sharding: ncfmdatasetsrc properties shard-index, "
            "shard-count, class-shard"));
    return FALSE;
  }
  self->dp_follower = bm->shard_index > 0;
  self->dp_checked_step = G_MAXUINT64;
  GST_INFO_OBJECT (self, "data parallel, rank %u of %u: %s", bm->shard_index, bm->shard_count,
      self->dp_follower ? "a copy of the set, not saved" : "saves the set");
  return TRUE;
}

/* After a step (and at EOS): the ranks compare their copies of the set when
 * it is due; FALSE with an error posted when they differ or a rank is gone. */
gboolean
gst_ncfm_distill_dp_check (GstNcfmDistill *self, gboolean at_eos)
{
  if (!self->dp_comm || !self->synset || self->step == self->dp_checked_step)
    return TRUE;
  const guint every = self->s_check_every;
  if (!at_eos && self->step != 1 && (!every || self->step % every != 0))
    return TRUE;
  g_autoptr (GError) error = NULL;
  if (!ncfm_data_parallel_check_set (self->dp_comm, self->synset, self->step, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Data parallel, rank %u of %u, step %"
            G_GUINT64_FORMAT ": %s (rank 0 does not save; %s keeps its last save)",
            ncfm_comm_get_rank (self->dp_comm), ncfm_comm_get_size (self->dp_comm), self->step,
            error->message, self->s_location),
        ("property check-every; every rank must run the same pipeline: the same seeds, "
            "frequencies, augmentation and models"));
    return FALSE;
  }
  self->dp_checked_step = self->step;
  return TRUE;
}

void
gst_ncfm_distill_dp_clear (GstNcfmDistill *self)
{
  g_clear_object (&self->dp_comm);
  self->dp_follower = FALSE;
  self->claim_deferred = FALSE;
  self->dp_checked_step = G_MAXUINT64;
}
