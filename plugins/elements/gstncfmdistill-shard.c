/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-shard.c: ncfmdistill in class-shard mode.  When the
 * stream is a class shard (the NcfmBatchMeta of ncfmdatasetsrc
 * class-shard=true over shard-count > 1 ranks), the element holds and steps
 * the shard's classes only and writes its own file, the location with "%r"
 * replaced by the shard index, in the shard format of `ncfm-synset merge`.
 *
 * Steps are counted in the whole run's batches: a shard's batch keeps the
 * offset it has in a run over every class, and after batch p the shard's
 * classes are where one process's are after batch min(p + N, end of p's
 * round), the next batch the shard would take (N ranks).  That is the step
 * (ncfm.step) the shard saves: the shards of a run all save the whole run's
 * step count at the end of a round (and at EOS), so their files merge into
 * the set one process writes.  On resume, the batches below the file's step
 * (already in it) are skipped, so rerunning a stopped job ends as an
 * uninterrupted one. */
#include "gstncfmdistill-private.h"

#include <string.h>

#include "gstncfmmeta.h"

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

#define SHARD_MARK "%r"

gboolean
gst_ncfm_distill_location_per_shard (GstNcfmDistill *self)
{
  return strstr (self->s_location, SHARD_MARK) != NULL;
}

/* The stream's class shard, when it is one, from the first buffer's batch
 * meta: the location of this shard claimed and checked for resuming. */
gboolean
gst_ncfm_distill_shard_begin (GstNcfmDistill *self, GstBuffer *buf)
{
  NcfmBatchMeta *bm = gst_buffer_get_ncfm_batch_meta (buf);
  const gboolean sharded = bm && bm->class_shard && bm->shard_count > 1;
  const gboolean per_shard = gst_ncfm_distill_location_per_shard (self);
  if (!sharded && !per_shard)
    return TRUE;
  if (!sharded) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Property location %s has %%r"
            " (one file per class shard) but the stream is not a class shard",
            self->s_location), ("ncfmdatasetsrc class-shard=true with shard-count above 1 "
            "(or 0 under mpirun/srun) makes one; otherwise take %%r out"));
    return FALSE;
  }
  if (!per_shard) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("The stream is class shard %u of %u but "
            "property location %s has no %%r: each shard writes its own file",
            bm->shard_index, bm->shard_count, self->s_location),
        ("put %%r (replaced by the shard index) in property location, e.g. "
            "set-%%r.safetensors; ncfm-synset merge joins the files"));
    return FALSE;
  }
  if (!bm->loader || ncfm_loader_get_mode (bm->loader) != NCFM_LOADER_MODE_PER_CLASS) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Class shard %u of %u: the stream must come "
            "from ncfmdatasetsrc mode=per-class", bm->shard_index, bm->shard_count), (NULL));
    return FALSE;
  }
  self->shard_index = bm->shard_index;
  self->shard_count = bm->shard_count;
  self->shard_round = ncfm_loader_get_batches_per_epoch (bm->loader);
  g_autofree gchar *index = g_strdup_printf ("%u", self->shard_index);
  g_auto (GStrv) parts = g_strsplit (self->s_location, SHARD_MARK, -1);
  g_free (self->s_location);
  self->s_location = g_strjoinv (index, parts);
  GST_INFO_OBJECT (self, "class shard %u of %u: %s", self->shard_index, self->shard_count,
      self->s_location);
  g_autoptr (NcfmFileLock) claim = gst_ncfm_distill_claim_location (self);
  if (!claim || !gst_ncfm_distill_open_resume (self))
    return FALSE;
  self->set_lock = g_steal_pointer (&claim);
  return TRUE;
}

/* FALSE (an error posted) for a class the shard does not hold. */
gboolean
gst_ncfm_distill_shard_holds (GstNcfmDistill *self, guint c)
{
  if (ncfm_synset_holds_class (self->synset, c))
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Class shard %u of %u (%s) got a batch of class %u, "
          "which is another shard's", self->shard_index, self->shard_count, self->s_location, c),
      ("a class shard holds the classes c with c mod shard-count = shard-index: use "
          "ncfmdatasetsrc without the classes property"));
  return FALSE;
}

/* A class shard's batch that the resumed file already holds. */
gboolean
gst_ncfm_distill_shard_done (GstNcfmDistill *self, GstBuffer *buf)
{
  if (self->shard_count <= 1 || !GST_BUFFER_OFFSET_IS_VALID (buf)
      || GST_BUFFER_OFFSET (buf) >= self->step)
    return FALSE;
  GST_DEBUG_OBJECT (self, "batch %" G_GUINT64_FORMAT " is in %s (step %" G_GUINT64_FORMAT
      "): skipped", GST_BUFFER_OFFSET (buf), self->s_location, self->step);
  return TRUE;
}

/* The step after @buf: one more, or for a class shard the whole run's step
 * its classes are at (see the top of the file). */
guint64
gst_ncfm_distill_shard_step (GstNcfmDistill *self, GstBuffer *buf)
{
  if (self->shard_count <= 1 || !GST_BUFFER_OFFSET_IS_VALID (buf) || !self->shard_round)
    return self->step + 1;
  const guint64 p = GST_BUFFER_OFFSET (buf), end = (p / self->shard_round + 1) * self->shard_round;
  return MIN (p + self->shard_count, end);
}
