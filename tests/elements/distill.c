/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of ncfmdistill with the plugin loaded, on the tiny IDX dataset:
 * ncfmdatasetsrc ! ncfmaugment ! ncfmconvnet ! ncfmcf ! ncfmdistill to EOS;
 * the saved synset, the loss trend, resume and its refusals, init=noise and mmd. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"

typedef struct {
  gboolean eos;
  gchar *error;
  gchar *warning;
  GArray *losses;   /* gdouble, one per ncfm-progress message */
  guint64 last_step;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_clear_pointer (&r->error, g_free);
  g_clear_pointer (&r->warning, g_free);
  g_clear_pointer (&r->losses, g_array_unref);
}

/* The first warning, and each ncfm-progress message checked and its loss kept. */
static void
on_message (GstMessage *msg, gpointer data)
{
  RunResult *r = data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    GError *e = NULL;
    gst_message_parse_warning (msg, &e, NULL);
    if (!r->warning)
      r->warning = g_strdup (e->message);
    g_error_free (e);
    return;
  }
  const GstStructure *s = gst_message_get_structure (msg);
  if (!gst_structure_has_name (s, "ncfm-progress"))
    return;
  gdouble loss = 0;
  guint64 step = 0;
  fail_unless (gst_structure_get_double (s, "loss", &loss));
  fail_unless (gst_structure_get_uint64 (s, "step", &step));
  fail_unless (gst_structure_has_field (s, "images-per-second"));
  const GValue *cl = gst_structure_get_value (s, "class-losses");
  fail_unless (cl != NULL && gst_value_array_get_size (cl) >= 1);
  fail_unless (step > r->last_step);
  r->last_step = step;
  g_array_append_val (r->losses, loss);
}

/* Runs `ncfmdatasetsrc ... ! <middle> ! ncfmdistill <distill>` to EOS or error. */
static void
run_pipeline (const gchar *src, const gchar *middle, const gchar *distill, RunResult *r)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 %s ! %s "
      "! ncfmdistill name=d dataset=%s factor=1 %s", idx_dir, src, middle, idx_dir, distill);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  memset (r, 0, sizeof (*r));
  r->losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
  r->error = play_to_eos (pipeline, 120, on_message, r);
  r->eos = r->error == NULL;
  gst_object_unref (pipeline);
}

#define MIDDLE "ncfmaugment ! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64"
#define FIXED "ncfmaugment strategy=none ! ncfmconvnet width=8 depth=1 rotate-every=0 " \
  "! ncfmcf num-freqs=256"

static gchar *
synset_path (const gchar *name)
{
  return g_build_filename (tmp_root, name, NULL);
}

static guint64
file_step (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL, "%s", error ? error->message : "");
  const gchar *v = ncfm_safetensors_get_metadata (st, "ncfm.step");
  fail_unless (v != NULL);
  return g_ascii_strtoull (v, NULL, 10);
}

static void
check_synset (const gchar *path, guint ipc)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_AUTO, NULL, 0,
      NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error);
  fail_unless (ds != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (ncfm_dataset_get_format (ds), NCFM_DATASET_FORMAT_SYNSET);
  fail_unless_equals_int (ncfm_dataset_get_n_images (ds), 10 * ipc);
  fail_unless_equals_int (ncfm_dataset_get_channels (ds), 1);
  fail_unless_equals_int (ncfm_dataset_get_height (ds), IMG_H);
  fail_unless_equals_int (ncfm_dataset_get_width (ds), IMG_W);
  fail_unless_equals_int (ncfm_dataset_get_num_classes (ds), 10);
  for (guint i = 0; i < 10 * ipc; i++)
    fail_unless_equals_int (ncfm_dataset_get_label (ds, i), (gint32) (i / ipc));
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL);
  fail_unless (ncfm_safetensors_contains (st, "adamw.m"));
  fail_unless (ncfm_safetensors_contains (st, "adamw.v"));
  fail_unless (ncfm_safetensors_contains (st, "adamw.step"));
  gsize n = 0;
  g_autofree gfloat *img = ncfm_safetensors_dup_f32 (st, "images", &n, &error);
  fail_unless (img != NULL && n == (gsize) 10 * ipc * IMG_H * IMG_W);
  for (gsize i = 0; i < n; i++)
    fail_unless (img[i] >= 0.0f && img[i] <= 1.0f);
}

GST_START_TEST (test_eos_synset)
{
  g_autofree gchar *path = synset_path ("eos.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=2 init=real save-every=2", path);
  RunResult r;
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.losses->len >= 2);
  check_synset (path, 2);
  fail_unless_equals_uint64 (file_step (path), r.last_step);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

GST_START_TEST (test_loss_decreases)
{
  g_autofree gchar *path = synset_path ("trend.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=2 init=real lr=0.05 "
      "save-every=0", path);
  RunResult r;
  /* a fixed model, no augmentation, the same class order every epoch */
  run_pipeline ("epochs=8 shuffle=false", FIXED, props, &r);
  fail_unless (r.eos, "%s", r.error);
  const guint n = r.losses->len, q = n / 4;
  fail_unless (q >= 5, "%u steps", n);
  gdouble first = 0, last = 0;
  for (guint i = 0; i < q; i++) {
    first += g_array_index (r.losses, gdouble, i) / q;
    last += g_array_index (r.losses, gdouble, n - q + i) / q;
  }
  GST_INFO ("loss: first quarter %g, last quarter %g", first, last);
  fail_unless (last < first, "loss did not decrease: %g -> %g", first, last);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

static GBytes *
read_bytes (const gchar *path)
{
  gchar *data = NULL;
  gsize len = 0;
  fail_unless (g_file_get_contents (path, &data, &len, NULL));
  return g_bytes_new_take (data, len);
}

GST_START_TEST (test_resume)
{
  g_autofree gchar *path = synset_path ("resume.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=2 init=real save-every=2", path);
  RunResult r;
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  const guint64 s1 = file_step (path);
  run_result_clear (&r);
  g_autoptr (GBytes) b1 = read_bytes (path);
  {
    g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
    g_autofree gfloat *i1 = ncfm_safetensors_dup_f32 (st, "images", NULL, NULL);

    run_pipeline ("epochs=1", MIDDLE, props, &r);
    fail_unless (r.eos, "%s", r.error);
    const guint64 s2 = file_step (path);
    fail_unless (s2 > s1, "step %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT, s1, s2);
    fail_unless (r.last_step == s2);
    run_result_clear (&r);
    g_autoptr (NcfmSafetensors) st2 = ncfm_safetensors_load (path, NULL);
    gsize n = 0;
    g_autofree gfloat *i2 = ncfm_safetensors_dup_f32 (st2, "images", &n, NULL);
    fail_unless (i1 && i2 && memcmp (i1, i2, n * sizeof (gfloat)) != 0, "images unchanged");
  }

  /* another ipc: an error naming ipc, the file byte-identical */
  g_autoptr (GBytes) before = read_bytes (path);
  g_autofree gchar *bad = g_strdup_printf ("location=%s ipc=3 init=real save-every=2", path);
  run_pipeline ("epochs=1", MIDDLE, bad, &r);
  fail_unless (!r.eos && r.error != NULL);
  fail_unless (strstr (r.error, "ipc") != NULL, "%s", r.error);
  fail_unless (strstr (r.error, "3") != NULL && strstr (r.error, "2") != NULL, "%s", r.error);
  run_result_clear (&r);
  g_autoptr (GBytes) after = read_bytes (path);
  fail_unless (g_bytes_equal (before, after), "the file changed");
  (void) b1;
  g_unlink (path);
}
GST_END_TEST;

GST_START_TEST (test_noise_and_mmd)
{
  g_autofree gchar *path = synset_path ("noise.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=1 init=noise", path);
  RunResult r;
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  check_synset (path, 1);
  run_result_clear (&r);
  g_unlink (path);

  g_autofree gchar *path2 = synset_path ("mmd.safetensors");
  g_autofree gchar *props2 = g_strdup_printf ("location=%s ipc=2 metric=mmd", path2);
  run_pipeline ("epochs=1", MIDDLE, props2, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.losses->len >= 2);
  check_synset (path2, 2);
  run_result_clear (&r);
  g_unlink (path2);
}
GST_END_TEST;

/* the learned sampler psi gets dL/dt and ascends */
GST_START_TEST (test_learned_sampler)
{
  g_autofree gchar *path = synset_path ("psi.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=2", path);
  const gchar *middle = "ncfmaugment ! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64 "
      "sampler=learned";
  RunResult r;
  run_pipeline ("epochs=1", middle, props, &r);
  fail_unless (r.eos, "%s", r.error);
  check_synset (path, 2);
  run_result_clear (&r);

  /* psi is saved with the set, and it moved away from its initialisation */
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL);
  g_autoptr (NcfmSampler) saved = ncfm_sampler_new_from_safetensors (dev, st, "psi.", &error);
  fail_unless (saved != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (ncfm_sampler_get_kind (saved), NCFM_SAMPLER_LEARNED);
  const guint64 step1 = ncfm_sampler_get_step (saved);
  fail_unless (step1 >= 1, "psi took no ascent step");
  g_autoptr (NcfmSampler) fresh = ncfm_sampler_new_learned (dev, 64,
      ncfm_sampler_get_dim (saved), ncfm_sampler_get_seed (saved), NULL);
  gboolean moved = FALSE;
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (saved); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (saved, i);
    g_autoptr (GBytes) a = ncfm_tensor_to_bytes (ncfm_sampler_get_parameter (saved, name));
    g_autoptr (GBytes) b = ncfm_tensor_to_bytes (ncfm_sampler_get_parameter (fresh, name));
    moved |= !g_bytes_equal (a, b);
  }
  fail_unless (moved, "psi's parameters did not move");

  /* a second run continues psi: its step counter goes on from the file's */
  run_pipeline ("epochs=1", middle, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.warning == NULL, "%s", r.warning);
  run_result_clear (&r);
  g_autoptr (NcfmSafetensors) st2 = ncfm_safetensors_load (path, NULL);
  g_autoptr (NcfmSampler) saved2 = ncfm_sampler_new_from_safetensors (dev, st2, "psi.", NULL);
  fail_unless (saved2 != NULL);
  fail_unless (ncfm_sampler_get_step (saved2) > step1, "%" G_GUINT64_FORMAT " -> %"
      G_GUINT64_FORMAT, step1, ncfm_sampler_get_step (saved2));

  /* resuming it with a Gaussian sampler: a warning, not a silent drop */
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.warning && strstr (r.warning, "sampler"), "%s", r.warning);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

/* psi's ascent steps in the file after a per-class run of @src (10 classes). */
static guint64
psi_steps_after (const gchar *src, const gchar *distill)
{
  g_autofree gchar *path = synset_path ("psi-every.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=1 %s", path, distill);
  RunResult r;
  run_pipeline (src, "ncfmaugment ! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64 "
      "sampler=learned", props, &r);
  fail_unless (r.eos, "%s", r.error);
  run_result_clear (&r);
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  fail_unless (st != NULL);
  g_autoptr (NcfmSampler) psi = ncfm_sampler_new_from_safetensors (dev, st, "psi.", NULL);
  fail_unless (psi != NULL);
  g_unlink (path);
  return ncfm_sampler_get_step (psi);
}

/* sampler-step-every: its spec; 20 per-class batches ascend psi 20 times
 * by default, 5 times every 4 class steps, twice once per round (0: the 10
 * classes), 3 times once per round of a 3-class subset over 3 epochs */
GST_START_TEST (test_sampler_step_every)
{
  g_autoptr (GstElement) e = gst_element_factory_make ("ncfmdistill", NULL);
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "sampler-step-every");
  fail_unless (p && G_IS_PARAM_SPEC_UINT (p));
  GParamSpecUInt *u = G_PARAM_SPEC_UINT (p);
  fail_unless_equals_int (u->minimum, 0);
  fail_unless_equals_int (u->maximum, NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY);
  fail_unless_equals_int (u->default_value, 1);
  fail_unless (strstr (g_param_spec_get_blurb (p), "summed gradient")
      && strstr (g_param_spec_get_blurb (p), "0 = once per round"), "%s",
      g_param_spec_get_blurb (p));
  fail_unless_equals_uint64 (psi_steps_after ("epochs=2", ""), 20);
  fail_unless_equals_uint64 (psi_steps_after ("epochs=2", "sampler-step-every=4"), 5);
  fail_unless_equals_uint64 (psi_steps_after ("epochs=2", "sampler-step-every=0"), 2);
  fail_unless_equals_uint64 (psi_steps_after ("epochs=3 classes=1,4,7",
          "sampler-step-every=0"), 3);
}
GST_END_TEST;

GST_START_TEST (test_no_location)
{
  RunResult r;
  run_pipeline ("epochs=1", MIDDLE, "ipc=1", &r);
  fail_unless (!r.eos && r.error != NULL && strstr (r.error, "location") != NULL, "%s",
      r.error);
  run_result_clear (&r);
}
GST_END_TEST;

/* Preview frames on the src pad: one for the first buffer, one every
 * preview-every steps and the final set at EOS, an RGB grid whose cells are
 * the saved images. */
typedef struct {
  guint n_frames;
  gint width, height;
  guint64 last_offset;
  GstBuffer *last;
} Previews;

static void
on_preview (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  Previews *p = data;
  (void) sink;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "RGB");
  gst_structure_get_int (s, "width", &p->width);
  gst_structure_get_int (s, "height", &p->height);
  p->n_frames++;
  p->last_offset = GST_BUFFER_OFFSET (buf);
  gst_buffer_replace (&p->last, buf);
}

GST_START_TEST (test_preview)
{
  g_autofree gchar *path = synset_path ("preview.safetensors");
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=1 "
      "! " MIDDLE " ! ncfmdistill name=d dataset=%s factor=1 location=%s ipc=2 preview-every=2 "
      "! fakesink name=pv signal-handoffs=true", idx_dir, idx_dir, path);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  Previews p = { 0 };
  GstElement *pv = gst_bin_get_by_name (GST_BIN (pipeline), "pv");
  g_signal_connect (pv, "handoff", G_CALLBACK (on_preview), &p);
  gst_object_unref (pv);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "no EOS");
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);

  const guint64 steps = file_step (path);
  fail_unless (steps >= 3);
  /* step 0, every second step, and the last one if it was not a multiple; a frame not
   * pushed yet is replaced by the next one (the distiller never waits for the preview),
   * so on a busy machine some middle frames may be skipped, never the first or the last */
  const guint expected = 1 + (guint) (steps / 2) + (steps % 2 ? 1 : 0);
  fail_unless (p.n_frames >= 2 && p.n_frames <= expected,
      "%u frames for %" G_GUINT64_FORMAT " steps (%u at most)", p.n_frames, steps, expected);
  fail_unless_equals_uint64 (p.last_offset, steps);
  fail_unless_equals_int (p.width, 2 * (IMG_W + 1) + 1);
  fail_unless_equals_int (p.height, 10 * (IMG_H + 1) + 1);

  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  g_autofree gfloat *img = ncfm_safetensors_dup_f32 (st, "images", NULL, NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (p.last, &map, GST_MAP_READ));
  const guint stride = GST_ROUND_UP_4 (p.width * 3);
  for (guint c = 0; c < 10; c++)
    for (guint i = 0; i < 2; i++)
      for (guint y = 0; y < IMG_H; y++)
        for (guint x = 0; x < IMG_W; x++) {
          const gfloat v = img[((c * 2 + i) * IMG_H + y) * IMG_W + x];
          const guint8 *px = map.data + (c * (IMG_H + 1) + 1 + y) * stride
              + (i * (IMG_W + 1) + 1 + x) * 3;
          const gint want = (gint) (v * 255.0f + 0.5f);
          fail_unless (px[0] == want && px[1] == want && px[2] == want,
              "class %u image %u (%u,%u): %d vs %d", c, i, y, x, px[0], want);
        }
  gst_buffer_unmap (p.last, &map);
  gst_buffer_unref (p.last);
  g_unlink (path);
}
GST_END_TEST;

/* calib without a model pool: a warning naming the property, and the run goes on */
GST_START_TEST (test_calib_without_pool)
{
  g_autofree gchar *path = synset_path ("calib.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=1 calib=1", path);
  RunResult r;
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.warning && strstr (r.warning, "calib"), "%s", r.warning);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

/* calib with a pool: the trained member's cross-entropy changes the images */
static gchar *
make_pool_of (const gchar *name, guint classes)
{
  g_autofree gchar *dir = g_build_filename (tmp_root, name, NULL);
  g_mkdir_with_parents (dir, 0700);
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  for (guint k = 0; k < 2; k++) {
    const gchar *which[2] = { "init", "trained" };
    for (guint j = 0; j < 2; j++) {
      g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, 1, IMG_H, IMG_W, classes, 1, 8,
          NCFM_NORM_INSTANCE, 100 + 10 * k + j, NULL);
      fail_unless (m != NULL);
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k, which[j]);
      g_autofree gchar *file = g_build_filename (dir, name, NULL);
      fail_unless (ncfm_convnet_save (m, file, NULL));
    }
  }
  return g_steal_pointer (&dir);
}

static gfloat *
run_with_pool (const gchar *pool, const gchar *name, gfloat calib, gsize *n)
{
  g_autofree gchar *path = synset_path (name);
  g_autofree gchar *middle = g_strdup_printf ("ncfmaugment strategy=none ! ncfmconvnet "
      "width=8 depth=1 pool=%s ! ncfmcf num-freqs=64 seed=3", pool);
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=1 calib=%g", path, calib);
  RunResult r;
  run_pipeline ("epochs=1 shuffle=false", middle, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (r.warning == NULL, "%s", r.warning);
  run_result_clear (&r);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  gfloat *img = ncfm_safetensors_dup_f32 (st, "images", n, NULL);
  g_unlink (path);
  return img;
}

static gchar *
make_pool (void)
{
  return make_pool_of ("pool", 10);
}

GST_START_TEST (test_calib_with_pool)
{
  g_autofree gchar *pool = make_pool ();
  gsize n0 = 0, n1 = 0, n2 = 0;
  g_autofree gfloat *a = run_with_pool (pool, "c0.safetensors", 0.0f, &n0);
  g_autofree gfloat *b = run_with_pool (pool, "c0b.safetensors", 0.0f, &n1);
  g_autofree gfloat *c = run_with_pool (pool, "c1.safetensors", 5.0f, &n2);
  fail_unless (a && b && c && n0 == n1 && n1 == n2);
  /* the runs are reproducible, so a difference is the calibration's */
  fail_unless (memcmp (a, b, n0 * sizeof (gfloat)) == 0, "runs not reproducible");
  fail_unless (memcmp (a, c, n0 * sizeof (gfloat)) != 0, "calibration changed nothing");
}
GST_END_TEST;

/* kill -9 at random moments of a run that saves at every step: the file is
 * always absent (killed before the first save) or a loadable synthetic set,
 * and a new run resumes from it. */
GST_START_TEST (test_kill_during_saves)
{
  g_autofree gchar *path = synset_path ("killed.safetensors");
  g_autofree gchar *launch = g_find_program_in_path ("gst-launch-1.0");
#ifdef __SANITIZE_ADDRESS__
  /* an uninstrumented gst-launch-1.0 cannot load the sanitized plugin */
  g_clear_pointer (&launch, g_free);
#endif
  if (!launch) {
    g_print ("test_kill_during_saves: no usable gst-launch-1.0, not run\n");
    return;
  }
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=0 "
      "! " MIDDLE " ! ncfmdistill dataset=%s factor=1 location=%s ipc=2 save-every=1", idx_dir,
      idx_dir, path);
  g_auto (GStrv) pargs = g_strsplit (desc, " ", -1);
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, launch);
  g_ptr_array_add (argv, (gpointer) "-q");
  for (guint i = 0; pargs[i]; i++)
    g_ptr_array_add (argv, pargs[i]);
  g_ptr_array_add (argv, NULL);
  guint loadable = 0;
  for (guint round = 0; round < 6; round++) {
    GPid pid;
    g_autoptr (GError) error = NULL;
    fail_unless (g_spawn_async (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD
            | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, &error), "%s", error ? error->message : "");
    /* 0.15 s to 1.4 s in: before, during and after many saves */
    g_usleep ((150 + 250 * round) * 1000);
    kill (pid, SIGKILL);
    int status = 0;
    waitpid (pid, &status, 0);
    g_spawn_close_pid (pid);
    fail_unless (WIFSIGNALED (status), "gst-launch ended by itself (status %d)", status);
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
      continue;
    check_synset (path, 2);
    loadable++;
  }
  g_ptr_array_unref (argv);
  fail_unless (loadable >= 3, "only %u rounds got as far as a save", loadable);
  const guint64 step = file_step (path);
  RunResult r;
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=2 save-every=1", path);
  run_pipeline ("epochs=1", MIDDLE, props, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless (file_step (path) > step);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

/* calib through a pool trained on another number of classes: an error naming both */
GST_START_TEST (test_calib_class_mismatch)
{
  g_autofree gchar *pool = make_pool_of ("pool5", 5);
  g_autofree gchar *path = synset_path ("mismatch.safetensors");
  g_autofree gchar *middle = g_strdup_printf ("ncfmaugment strategy=none ! ncfmconvnet "
      "width=8 depth=1 pool=%s ! ncfmcf num-freqs=64", pool);
  g_autofree gchar *props = g_strdup_printf ("location=%s ipc=1 calib=1", path);
  RunResult r;
  run_pipeline ("epochs=1", middle, props, &r);
  fail_unless (!r.eos && r.error, "no error");
  fail_unless (strstr (r.error, "calib") && strstr (r.error, "5") && strstr (r.error, "10"),
      "%s", r.error);
  run_result_clear (&r);
  g_unlink (path);
}
GST_END_TEST;

static Suite *
distill_suite (void)
{
  Suite *s = suite_create ("ncfmdistill");
  TCase *tc = tcase_create ("pipeline");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_eos_synset);
  tcase_add_test (tc, test_loss_decreases);
  tcase_add_test (tc, test_resume);
  tcase_add_test (tc, test_noise_and_mmd);
  tcase_add_test (tc, test_learned_sampler);
  tcase_add_test (tc, test_sampler_step_every);
  tcase_add_test (tc, test_no_location);
  tcase_add_test (tc, test_preview);
  tcase_add_test (tc, test_kill_during_saves);
  tcase_add_test (tc, test_calib_without_pool);
  tcase_add_test (tc, test_calib_with_pool);
  tcase_add_test (tc, test_calib_class_mismatch);
  return s;
}

GST_CHECK_MAIN (distill);
