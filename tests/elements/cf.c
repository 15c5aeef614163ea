/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cf.c: ncfmcf through GstHarness on hand-made feature + label tensor
 * buffers: the CF meta (t [M, d], statistics equal to NcfmCFStats on the
 * same features and t, bitwise; counts and class ids), fresh and
 * reproducible draws, the learned sampler, normalisation on and off, kept
 * metas, errors on the bus.  Built twice: with the element linked in and
 * registered here (no plugin), and with -DCF_TEST_PIPELINE, which loads the
 * plugin and runs ncfmdatasetsrc ! ncfmconvnet ! ncfmcf ! fakesink to EOS. */
#include <math.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#ifdef CF_TEST_PIPELINE
#include <glib/gstdio.h>
#include <ncfm.h>
#include "elements-test-util.h"
#else
#include "gstncfmcaps.h"
#include "gstncfmcf.h"
#include "gstncfmcfmeta.h"
#include "gstncfmmeta.h"
#include "gstncfmmodelmeta.h"
#include "gstncfmtensormemory.h"
#endif

#ifndef CF_TEST_PIPELINE

#define B 12
#define D 20
#define M 64
#define K 10

static NcfmDevice *cpu;

static void
setup (void)
{
  cpu = ncfm_device_new ("cpu", NULL);
  fail_unless (cpu != NULL);
}

static void
teardown (void)
{
  g_clear_object (&cpu);
}

/* Features [n, d] of a pattern that differs per buffer (salt). */
static NcfmTensor *
make_features (gint64 n, gint64 d, guint salt)
{
  const gint64 shape[2] = { n, d }, numel = n * d;
  g_autofree gfloat *v = g_new (gfloat, numel);
  for (gint64 i = 0; i < numel; i++)
    v[i] = (gfloat) sin (0.61 * (gdouble) i + salt) * 2.0f + 0.3f;
  return ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_F32, shape, 2, (const guint8 *) v,
      numel * sizeof (gfloat), NULL);
}

/* Labels i % classes, [n]. */
static NcfmTensor *
make_labels (gint64 n, gint classes)
{
  g_autofree gint32 *l = g_new (gint32, n);
  for (gint64 i = 0; i < n; i++)
    l[i] = (gint32) (i % classes);
  return ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_I32, &n, 1, (const guint8 *) l,
      n * sizeof (gint32), NULL);
}

static GstCaps *
feature_caps (gint64 n, gint64 d)
{
  GstNcfmTensorsInfo info;
  const gint64 features[2] = { n, d }, labels[1] = { n };
  gst_ncfm_tensors_info_init (&info, FALSE);
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_F32, features, 2, NULL));
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_I32, labels, 1, NULL));
  return gst_ncfm_tensors_info_to_caps (&info);
}

/* A feature batch as ncfmconvnet emits it (labels i % 5 of K classes), with a
 * batch meta of K classes when @batch_meta. */
static GstBuffer *
make_batch (gint64 n, gint64 d, guint salt, gboolean batch_meta)
{
  g_autoptr (NcfmTensor) features = make_features (n, d, salt);
  g_autoptr (NcfmTensor) labels = make_labels (n, 5);
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (features));
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (labels));
  if (batch_meta) {
    const gchar *names[K + 1] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", NULL };
    const gfloat mean[1] = { 0.5f }, std[1] = { 0.25f };
    gst_buffer_add_ncfm_batch_meta (buf, names, 1, mean, std);
  }
  return buf;
}

static GstHarness *
start_cf (const gchar *props, gint64 n, gint64 d)
{
  g_autofree gchar *line = g_strdup_printf ("ncfmcf %s", props);
  GstHarness *h = gst_harness_new_parse (line);
  gst_harness_set_src_caps (h, feature_caps (n, d));
  return h;
}

static NcfmTensor *
tensor_of (GstBuffer *buf, guint i)
{
  GstMemory *mem = gst_buffer_peek_memory (buf, i);
  fail_unless (gst_is_ncfm_tensor_memory (mem));
  return gst_ncfm_tensor_memory_get_tensor (mem);
}

static NcfmCFMeta *
cf_meta (GstBuffer *buf)
{
  NcfmCFMeta *m = gst_buffer_get_ncfm_cf_meta (buf);
  fail_unless (m != NULL);
  fail_unless (NCFM_IS_TENSOR (m->t) && NCFM_IS_CF_STATS (m->stats));
  fail_unless (NCFM_IS_SAMPLER (m->sampler));
  return m;
}

static gboolean
same_bytes (NcfmTensor *a, NcfmTensor *b)
{
  g_autoptr (GBytes) x = ncfm_tensor_to_bytes (a), y = ncfm_tensor_to_bytes (b);
  return g_bytes_equal (x, y);
}

/* @stats equal (bitwise) NcfmCFStats computed directly on the meta's features, labels and
 * draw (ncfmcf takes the draw's path: fast transforms for a structured draw). */
static void
check_stats_match_library (NcfmCFMeta *m, gboolean normalize)
{
  g_autoptr (NcfmCFStats) ref = ncfm_cf_stats_new (cpu, m->num_classes, m->num_freqs, m->dim,
      normalize, NULL);
  fail_unless (ref != NULL);
  fail_unless (ncfm_cf_stats_accumulate_draw (ref, m->features, m->labels, m->freq_draw, NULL));
  fail_unless (same_bytes (ncfm_cf_stats_get_sum_cos (m->stats), ncfm_cf_stats_get_sum_cos (ref)));
  fail_unless (same_bytes (ncfm_cf_stats_get_sum_sin (m->stats), ncfm_cf_stats_get_sum_sin (ref)));
  fail_unless (same_bytes (ncfm_cf_stats_get_sum_features (m->stats),
          ncfm_cf_stats_get_sum_features (ref)));
  for (guint c = 0; c < m->num_classes; c++)
    fail_unless_equals_int64 (ncfm_cf_stats_get_count (m->stats, c),
        ncfm_cf_stats_get_count (ref, c));
}

GST_START_TEST (test_meta_and_stats)
{
  GstHarness *h = start_cf ("num-freqs=64", B, D);
  GstBuffer *in = make_batch (B, D, 0, TRUE);
  GstMemory *f_in = gst_buffer_peek_memory (in, 0), *l_in = gst_buffer_peek_memory (in, 1);
  GstBuffer *out = gst_harness_push_and_pull (h, in);
  /* the memories pass by reference, the caps unchanged */
  fail_unless (gst_buffer_peek_memory (out, 0) == f_in && gst_buffer_peek_memory (out, 1) == l_in);
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad), *want = feature_caps (B, D);
  fail_unless (gst_caps_is_equal (caps, want));
  gst_caps_unref (caps);
  gst_caps_unref (want);

  NcfmCFMeta *m = cf_meta (out);
  const gint64 tshape[2] = { M, D };
  fail_unless (ncfm_tensor_has_shape (m->t, tshape, 2));
  fail_unless (m->noise == NULL);
  fail_unless (m->num_classes == K && m->num_freqs == M && m->dim == D && m->normalize);
  fail_unless (m->features == tensor_of (out, 0) && m->labels == tensor_of (out, 1));
  fail_unless_equals_int (ncfm_sampler_get_kind (m->sampler), NCFM_SAMPLER_GAUSSIAN);
  fail_unless_equals_uint64 (m->draw, 0);
  check_stats_match_library (m, TRUE);
  /* labels i % 5 over 12 rows: classes 0, 1 three times, 2..4 twice, 5..9 absent */
  const gint64 counts[K] = { 3, 3, 2, 2, 2, 0, 0, 0, 0, 0 };
  for (guint c = 0; c < K; c++)
    fail_unless_equals_int64 (ncfm_cf_stats_get_count (m->stats, c), counts[c]);
  fail_unless_equals_int (m->n_class_ids, 5);
  for (guint i = 0; i < 5; i++)
    fail_unless_equals_int (m->class_ids[i], i);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* t of the next buffer through @h */
static NcfmTensor *
next_t (GstHarness *h, guint salt, guint64 *draw)
{
  GstBuffer *out = gst_harness_push_and_pull (h, make_batch (B, D, salt, TRUE));
  NcfmCFMeta *m = cf_meta (out);
  NcfmTensor *t = g_object_ref (m->t);
  if (draw)
    *draw = m->draw;
  gst_buffer_unref (out);
  return t;
}

GST_START_TEST (test_fresh_and_reproducible)
{
  GstHarness *h = start_cf ("num-freqs=64 seed=7 sigma=0.5", B, D);
  guint64 draw;
  g_autoptr (NcfmTensor) t1 = next_t (h, 0, NULL), t2 = next_t (h, 1, &draw);
  gst_harness_teardown (h);
  fail_unless_equals_uint64 (draw, 1);
  fail_if (same_bytes (t1, t2));
  /* the stream of the library's Gaussian sampler of that seed and sigma */
  g_autoptr (NcfmSampler) ref = ncfm_sampler_new_gaussian (cpu, M, D, 0.5f, 7, NULL);
  g_autoptr (NcfmTensor) r1 = ncfm_sampler_sample (ref, NULL), r2 = ncfm_sampler_sample (ref, NULL);
  fail_unless (same_bytes (t1, r1) && same_bytes (t2, r2));
  /* the same seed again: the same t; another seed: another t */
  h = start_cf ("num-freqs=64 seed=7 sigma=0.5", B, D);
  g_autoptr (NcfmTensor) again = next_t (h, 5, NULL);
  gst_harness_teardown (h);
  fail_unless (same_bytes (t1, again));
  h = start_cf ("num-freqs=64 seed=8 sigma=0.5", B, D);
  g_autoptr (NcfmTensor) other = next_t (h, 0, NULL);
  gst_harness_teardown (h);
  fail_if (same_bytes (t1, other));
}
GST_END_TEST;

/* sampler=structured: t [M, d] is the library's structured sampler's draw
 * of that seed and sigma, draw after draw, with no noise */
GST_START_TEST (test_structured_sampler)
{
  GstHarness *h = start_cf ("num-freqs=64 sampler=structured seed=3 sigma=0.5", B, D);
  GstBuffer *out = gst_harness_push_and_pull (h, make_batch (B, D, 0, TRUE));
  NcfmCFMeta *m = cf_meta (out);
  fail_unless_equals_int (ncfm_sampler_get_kind (m->sampler), NCFM_SAMPLER_STRUCTURED);
  fail_unless (m->noise == NULL && m->num_freqs == M);
  check_stats_match_library (m, TRUE);
  g_autoptr (NcfmTensor) t1 = g_object_ref (m->t);
  gst_buffer_unref (out);
  g_autoptr (NcfmTensor) t2 = next_t (h, 1, NULL);
  gst_harness_teardown (h);
  g_autoptr (NcfmSampler) ref = ncfm_sampler_new_structured (cpu, M, D, 0.5f, 3, NULL);
  g_autoptr (NcfmTensor) r1 = ncfm_sampler_sample (ref, NULL), r2 = ncfm_sampler_sample (ref, NULL);
  fail_unless (same_bytes (t1, r1) && same_bytes (t2, r2));
  fail_if (same_bytes (t1, t2));
}
GST_END_TEST;

GST_START_TEST (test_learned_sampler)
{
  GstHarness *h = start_cf ("num-freqs=64 sampler=learned seed=3 sampler-lr=0.01", B, D);
  GstBuffer *out = gst_harness_push_and_pull (h, make_batch (B, D, 0, TRUE));
  NcfmCFMeta *m = cf_meta (out);
  fail_unless_equals_int (ncfm_sampler_get_kind (m->sampler), NCFM_SAMPLER_LEARNED);
  gfloat lr, momentum, wd;
  ncfm_sampler_get_optimizer (m->sampler, &lr, &momentum, &wd);
  fail_unless (lr == 0.01f && momentum == 0.5f && wd == 5e-4f);
  const gint64 nshape[2] = { M / 16, D };
  fail_unless (m->noise != NULL && ncfm_tensor_has_shape (m->noise, nshape, 2));
  check_stats_match_library (m, TRUE);
  /* t = psi(eps), each of the M/16 distinct frequencies once (the M of the
   * method repeat them 16 times): a fresh psi of the same seed on the meta's
   * noise gives the same t, and psi's own first draw uses that same noise */
  const gint64 tshape[2] = { M / 16, D };
  fail_unless (ncfm_tensor_has_shape (m->t, tshape, 2) && m->num_freqs == M / 16);
  g_autoptr (NcfmSampler) psi = ncfm_sampler_new_learned (cpu, M, D, 3, NULL);
  g_autoptr (NcfmTensor) replay = ncfm_sampler_sample_distinct (psi, m->noise, NULL);
  fail_unless (same_bytes (m->t, replay));
  g_autoptr (NcfmSampler) psi2 = ncfm_sampler_new_learned (cpu, M, D, 3, NULL);
  g_autoptr (NcfmTensor) own = ncfm_sampler_sample (psi2, NULL);
  g_autoptr (GBytes) tb = ncfm_tensor_to_bytes (m->t), ob = ncfm_tensor_to_bytes (own);
  const gfloat *o = g_bytes_get_data (ob, NULL);
  for (guint k = 0; k < 16; k++)   /* the full draw's 16 tiles are t */
    fail_unless (memcmp (g_bytes_get_data (tb, NULL), o + (gsize) k * (M / 16) * D,
            (M / 16) * D * sizeof (gfloat)) == 0);
  /* the consumer's side: dL/dt goes back to psi (the last draw), then one ascent step */
  g_autoptr (NcfmTensor) grad = ncfm_tensor_new (cpu, NCFM_DTYPE_F32, tshape, 2, NULL);
  ncfm_tensor_fill (grad, 0.01f, NULL);
  ncfm_cf_meta_lock_sampler (m);
  fail_unless (ncfm_sampler_backward (m->sampler, m->freq_draw, grad, NULL));
  ncfm_sampler_ascent_step (m->sampler);
  ncfm_cf_meta_unlock_sampler (m);
  fail_unless_equals_uint64 (ncfm_sampler_get_step (m->sampler), 1);
  /* the next buffer's t comes from the stepped psi and the next noise */
  GstBuffer *out2 = gst_harness_push_and_pull (h, make_batch (B, D, 1, TRUE));
  NcfmCFMeta *m2 = cf_meta (out2);
  fail_unless (m2->sampler == m->sampler);
  fail_if (same_bytes (m->t, m2->t) || same_bytes (m->noise, m2->noise));
  gst_buffer_unref (out2);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_normalize)
{
  GstHarness *h = start_cf ("num-freqs=64 seed=2 normalize=false", B, D);
  GstBuffer *raw = gst_harness_push_and_pull (h, make_batch (B, D, 0, TRUE));
  gst_harness_teardown (h);
  h = start_cf ("num-freqs=64 seed=2", B, D);
  GstBuffer *normed = gst_harness_push_and_pull (h, make_batch (B, D, 0, TRUE));
  gst_harness_teardown (h);
  NcfmCFMeta *a = cf_meta (raw), *b = cf_meta (normed);
  fail_unless (!a->normalize && b->normalize);
  fail_unless (same_bytes (a->t, b->t));
  check_stats_match_library (a, FALSE);
  check_stats_match_library (b, TRUE);
  fail_if (same_bytes (ncfm_cf_stats_get_sum_cos (a->stats), ncfm_cf_stats_get_sum_cos (b->stats)));
  gst_buffer_unref (raw);
  gst_buffer_unref (normed);
}
GST_END_TEST;

GST_START_TEST (test_metas_kept)
{
  /* num-classes from the property: the batch meta is not needed */
  GstHarness *h = start_cf ("num-freqs=16 num-classes=6", B, D);
  GstBuffer *in = make_batch (B, D, 0, TRUE);
  gst_buffer_add_ncfm_model_meta (in, G_OBJECT (cpu), NULL, D, 1, 4, 3);
  GstCaps *ref = gst_caps_new_empty_simple ("timestamp/x-test");
  gst_buffer_add_reference_timestamp_meta (in, ref, 42, GST_CLOCK_TIME_NONE);
  GstBuffer *out = gst_harness_push_and_pull (h, in);
  fail_unless_equals_int (cf_meta (out)->num_classes, 6);
  NcfmBatchMeta *batch = gst_buffer_get_ncfm_batch_meta (out);
  fail_unless (batch != NULL && batch->num_classes == K);
  NcfmModelMeta *model = gst_buffer_get_ncfm_model_meta (out);
  fail_unless (model != NULL && model->model == G_OBJECT (cpu) && model->feature_dim == D);
  GstReferenceTimestampMeta *ts = gst_buffer_get_reference_timestamp_meta (out, ref);
  fail_unless (ts != NULL && ts->timestamp == 42);
  /* through ncfmcf again: its meta replaces the first one */
  GstBuffer *again = gst_harness_push_and_pull (h, gst_buffer_ref (out));
  guint n = 0;
  gpointer state = NULL;
  for (GstMeta *meta; (meta = gst_buffer_iterate_meta_filtered (again, &state,
              NCFM_CF_META_API_TYPE));)
    n++;
  fail_unless_equals_int (n, 1);
  fail_unless_equals_uint64 (cf_meta (again)->draw, 1);
  fail_unless_equals_uint64 (cf_meta (out)->draw, 0);
  gst_buffer_unref (again);
  gst_caps_unref (ref);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* The first error message on @bus; its text and debug string joined. */
static gchar *
pop_error (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  gst_message_parse_error (msg, &error, &debug);
  gst_message_unref (msg);
  return g_strdup_printf ("%s | %s", error->message, debug ? debug : "");
}

/* The message of the error that makes "ncfmcf @props" fail to start. */
static gchar *
start_error (const gchar *props)
{
  g_autofree gchar *line = g_strdup_printf ("ncfmcf %s", props);
  GstElement *e = gst_parse_launch (line, NULL);
  fail_unless (e != NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  gchar *msg = pop_error (bus);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return msg;
}

/* The message of the error pushing @buf into @h gives. */
static gchar *
push_error (GstHarness *h, GstBuffer *buf)
{
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_ERROR);
  gchar *msg = pop_error (bus);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  return msg;
}

GST_START_TEST (test_errors)
{
  /* learned needs M a multiple of 16: 40 fails at start, naming num-freqs */
  g_autofree gchar *m1 = start_error ("sampler=learned num-freqs=40");
  fail_unless (strstr (m1, "num-freqs") != NULL, "%s", m1);
  /* no batch meta and no num-classes */
  GstHarness *h = start_cf ("num-freqs=16", B, D);
  g_autofree gchar *m2 = push_error (h, make_batch (B, D, 0, FALSE));
  fail_unless (strstr (m2, "num-classes") != NULL, "%s", m2);
  gst_harness_teardown (h);
  /* labels beyond num-classes */
  h = start_cf ("num-freqs=16 num-classes=3", B, D);
  g_autofree gchar *m3 = push_error (h, make_batch (B, D, 0, TRUE));
  fail_unless (strstr (m3, "num-classes") != NULL, "%s", m3);
  gst_harness_teardown (h);
  /* the feature dimension changes mid-stream */
  h = start_cf ("num-freqs=16", B, D);
  gst_buffer_unref (gst_harness_push_and_pull (h, make_batch (B, D, 0, TRUE)));
  gst_harness_set_src_caps (h, feature_caps (B, D + 4));
  g_autofree gchar *m4 = push_error (h, make_batch (B, D + 4, 0, TRUE));
  fail_unless (strstr (m4, "dimensions") != NULL, "%s", m4);
  gst_harness_teardown (h);
  /* input on the CPU, device=cuda:0: fails at start without CUDA, else at the buffer */
  GstElement *e = gst_parse_launch ("ncfmcf num-freqs=16 device=cuda:0", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  if (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state (e, GST_STATE_NULL);
    h = gst_harness_new_with_element (e, "sink", "src");
    gst_harness_set_src_caps (h, feature_caps (B, D));
    fail_unless_equals_int (gst_harness_push (h, make_batch (B, D, 0, TRUE)), GST_FLOW_ERROR);
    gst_harness_teardown (h);
  }
  g_autofree gchar *m5 = pop_error (bus);
  fail_unless (strstr (m5, "property device") != NULL, "%s", m5);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  /* caps that are not features + labels: the caps field is named */
  h = gst_harness_new_parse ("ncfmcf");
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  GstNcfmTensorsInfo info;
  const gint64 images[4] = { B, 1, 4, 3 }, labels[1] = { B };
  gst_ncfm_tensors_info_init (&info, FALSE);
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_F32, images, 4, NULL));
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_I32, labels, 1, NULL));
  gst_harness_push_event (h, gst_event_new_caps (gst_ncfm_tensors_info_to_caps (&info)));
  g_autofree gchar *m6 = pop_error (bus);
  fail_unless (strstr (m6, "caps field dimensions") != NULL, "%s", m6);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("ncfmcf", NULL);
  guint m, k;
  gfloat sigma, lr, momentum, wd;
  guint64 seed;
  gboolean normalize;
  gint sampler;
  g_object_get (e, "num-freqs", &m, "num-classes", &k, "sigma", &sigma, "sampler-lr", &lr,
      "sampler-momentum", &momentum, "sampler-weight-decay", &wd, "seed", &seed,
      "normalize", &normalize, "sampler", &sampler, NULL);
  fail_unless (m == 4096 && k == 0 && sigma == 1.0f && lr == 1e-3f && momentum == 0.5f
      && wd == 5e-4f && seed == 0 && normalize && sampler == NCFM_SAMPLER_GAUSSIAN);
  gst_util_set_object_arg (G_OBJECT (e), "sampler", "learned");
  g_object_get (e, "sampler", &sampler, NULL);
  fail_unless_equals_int (sampler, NCFM_SAMPLER_LEARNED);
  gst_util_set_object_arg (G_OBJECT (e), "sampler", "structured");
  g_object_get (e, "sampler", &sampler, NULL);
  fail_unless_equals_int (sampler, NCFM_SAMPLER_STRUCTURED);
  gst_object_unref (e);
}
GST_END_TEST;

static Suite *
cf_suite (void)
{
  gst_ncfm_tensor_memory_init_once ();
  g_assert_true (GST_ELEMENT_REGISTER (ncfmcf, NULL));
  Suite *s = suite_create ("ncfmcf");
  TCase *tc = tcase_create ("general");
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_meta_and_stats);
  tcase_add_test (tc, test_fresh_and_reproducible);
  tcase_add_test (tc, test_structured_sampler);
  tcase_add_test (tc, test_learned_sampler);
  tcase_add_test (tc, test_normalize);
  tcase_add_test (tc, test_metas_kept);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_properties);
  return s;
}

#else /* CF_TEST_PIPELINE */

static GstPadProbeReturn
count_cf_metas (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GType api = g_type_from_name ("NcfmCFMetaAPI");
  (void) pad;
  if (api && gst_buffer_get_meta (GST_PAD_PROBE_INFO_BUFFER (info), api))
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_pipeline_eos)
{
  /* images of 4x3: a ConvNet of depth 1 (deeper ones pool them away) */
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s epochs=1 batch-size=5 "
      "! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64 ! fakesink name=sink", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gint with_meta = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_cf_metas, &with_meta, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  for (guint i = 0; i < 2; i++) {  /* twice: NULL -> PLAYING -> NULL again */
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
    gst_message_unref (msg);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  }
  fail_unless (g_atomic_int_get (&with_meta) >= 2, "%d buffers with a CF meta", with_meta);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* sampler=structured distils: ncfmdistill takes steps on its CF statistics
 * (M = 44, not a multiple of the block, a power of two) and saves a set whose
 * images moved away from the real ones it started from. */
GST_START_TEST (test_structured_distills)
{
  g_autofree gchar *path = g_build_filename (tmp_root, "structured.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s epochs=2 batch-size=5 "
      "! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=44 sampler=structured ! ncfmdistill "
      "dataset=%s location=%s ipc=1 factor=1 init=real lr=0.05 save-every=0", idx_dir, idx_dir,
      path);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  g_autofree gchar *error = play_to_eos (pipeline, 120, NULL, NULL);
  gst_object_unref (pipeline);
  fail_unless (error == NULL, "%s", error);
  g_autoptr (GError) err = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &err);
  fail_unless (st != NULL, "%s", err ? err->message : "");
  const gchar *step = ncfm_safetensors_get_metadata (st, "ncfm.step");
  fail_unless (step != NULL && g_ascii_strtoull (step, NULL, 10) >= 4, "step %s", step);
  /* init=real starts from whole pixels (k / 255); steps leave most pixels between them */
  gsize n = 0;
  g_autofree gfloat *img = ncfm_safetensors_dup_f32 (st, "images", &n, &err);
  fail_unless (img != NULL && n == 10 * IMG_H * IMG_W);
  guint moved = 0;
  for (gsize i = 0; i < n; i++)
    moved += fabsf (img[i] * 255.0f - roundf (img[i] * 255.0f)) > 1e-3f;
  fail_unless (moved > n / 2, "%u of %" G_GSIZE_FORMAT " pixels moved", moved, n);
  g_unlink (path);
}
GST_END_TEST;

static Suite *
cf_suite (void)
{
  Suite *s = suite_create ("ncfmcf-pipeline");
  TCase *tc = tcase_create ("pipeline");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_pipeline_eos);
  tcase_add_test (tc, test_structured_distills);
  return s;
}

#endif /* CF_TEST_PIPELINE */

GST_CHECK_MAIN (cf);
