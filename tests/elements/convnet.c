/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* convnet.c: the extractors ncfmconvnet and ncfmresnet through GstHarness on
 * hand-made image + label tensor buffers: output caps, features equal to the
 * library model's own forward with the same weights, the model meta and
 * rotation with random inits, model-pool rotation and the init/trained blend,
 * kept metas, and errors on the bus.  The elements are linked in and
 * registered here (no plugin is loaded), so the test makes tensor memories
 * and reads metas with the plugin's own helpers. */
#include <float.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "gstncfmcaps.h"
#include "gstncfmconvnet.h"
#include "gstncfmmeta.h"
#include "gstncfmmodelmeta.h"
#include "gstncfmresnet.h"
#include "gstncfmtensormemory.h"

#define B 3
#define C 3
#define SIDE 32

static NcfmDevice *cpu;
static gchar *tmp_dir;

static void
setup (void)
{
  cpu = ncfm_device_new ("cpu", NULL);
  fail_unless (cpu != NULL);
  tmp_dir = g_dir_make_tmp ("ncfm-convnet-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
}

static void
teardown (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  for (const gchar *n; dir && (n = g_dir_read_name (dir));) {
    g_autofree gchar *p = g_build_filename (tmp_dir, n, NULL);
    g_unlink (p);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_object (&cpu);
}

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* Images [n, c, side, side] of a smooth pattern that differs per image. */
static NcfmTensor *
make_images (gint64 n, gint64 c, gint64 side, guint salt)
{
  const gint64 shape[4] = { n, c, side, side }, numel = n * c * side * side;
  g_autofree gfloat *v = g_new (gfloat, numel);
  for (gint64 i = 0; i < numel; i++)
    v[i] = (gfloat) sin (0.37 * (gdouble) i + salt) * 1.5f;
  return ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_F32, shape, 4, (const guint8 *) v,
      numel * sizeof (gfloat), NULL);
}

static GstCaps *
input_caps (gint64 n, gint64 c, gint64 side)
{
  GstNcfmTensorsInfo info;
  const gint64 images[4] = { n, c, side, side }, labels[1] = { n };
  gst_ncfm_tensors_info_init (&info, FALSE);
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_F32, images, 4, NULL));
  fail_unless (gst_ncfm_tensors_info_add (&info, NCFM_DTYPE_I32, labels, 1, NULL));
  return gst_ncfm_tensors_info_to_caps (&info);
}

/* A batch as ncfmdatasetsrc makes it: images, labels i % 10, a batch meta. */
static GstBuffer *
make_batch (NcfmTensor *images)
{
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  g_autofree gint32 *l = g_new (gint32, n);
  for (gint64 i = 0; i < n; i++)
    l[i] = (gint32) (i % 10);
  NcfmTensor *labels = ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_I32, &n, 1, (const guint8 *) l,
      n * sizeof (gint32), NULL);
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (images));
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (labels));
  g_object_unref (labels);
  const gchar *names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", NULL };
  const gfloat mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.25f, 0.25f, 0.25f };
  gst_buffer_add_ncfm_batch_meta (buf, names, 3, mean, std);
  return buf;
}

/* A harness around "<element> <props>" with input caps [n, c, side, side] set. */
static GstHarness *
start_element (const gchar *element, const gchar *props, gint64 n, gint64 c, gint64 side)
{
  g_autofree gchar *line = g_strdup_printf ("%s %s", element, props);
  GstHarness *h = gst_harness_new_parse (line);
  gst_harness_set_src_caps (h, input_caps (n, c, side));
  return h;
}

static GstHarness *
start_convnet (const gchar *props, gint64 n, gint64 c, gint64 side)
{
  return start_element ("ncfmconvnet", props, n, c, side);
}

static GstBuffer *
push_pull (GstHarness *h, guint salt)
{
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, salt);
  GstBuffer *out = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
  fail_unless (out != NULL);
  return out;
}

static NcfmTensor *
tensor_of (GstBuffer *buf, guint i)
{
  GstMemory *mem = gst_buffer_peek_memory (buf, i);
  fail_unless (gst_is_ncfm_tensor_memory (mem));
  return gst_ncfm_tensor_memory_get_tensor (mem);
}

/* The buffer's model meta; its model an NcfmConvNet, or with the _of
 * variant an instance of @type. */
static NcfmModelMeta *
model_meta_of (GstBuffer *buf, GType type)
{
  NcfmModelMeta *m = gst_buffer_get_ncfm_model_meta (buf);
  fail_unless (m != NULL);
  fail_unless (G_TYPE_CHECK_INSTANCE_TYPE (m->model, type), "model is a %s",
      G_OBJECT_TYPE_NAME (m->model));
  return m;
}

static NcfmModelMeta *
model_meta (GstBuffer *buf)
{
  return model_meta_of (buf, NCFM_TYPE_CONVNET);
}

/* Max |a - b| over two F32 tensors of one size, and max |b|. */
static gdouble
max_diff (NcfmTensor *a, NcfmTensor *b, gdouble *scale)
{
  g_autoptr (GBytes) x = ncfm_tensor_to_bytes (a), y = ncfm_tensor_to_bytes (b);
  fail_unless_equals_uint64 (g_bytes_get_size (x), g_bytes_get_size (y));
  const gfloat *p = g_bytes_get_data (x, NULL), *q = g_bytes_get_data (y, NULL);
  gdouble d = 0, s = 0;
  for (gsize i = 0; i < g_bytes_get_size (x) / 4; i++) {
    d = MAX (d, fabs ((gdouble) p[i] - q[i]));
    s = MAX (s, fabs ((gdouble) q[i]));
  }
  if (scale)
    *scale = s;
  return d;
}

/* @a and @b hold the same tensors, bit for bit. */
static void
check_same_parameters (NcfmModel *a, NcfmModel *b)
{
  fail_unless_equals_int (ncfm_model_get_n_parameters (a), ncfm_model_get_n_parameters (b));
  for (guint i = 0; i < ncfm_model_get_n_parameters (a); i++) {
    const gchar *name = ncfm_model_get_parameter_name (a, i);
    fail_unless (max_diff (ncfm_model_get_parameter (a, name), ncfm_model_get_parameter (b, name),
            NULL) == 0.0, "%s differs", name);
  }
}

static void
check_out_dims (GstHarness *h, const gchar *dims)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (caps != NULL);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "dimensions"), dims);
  fail_unless_equals_string (gst_structure_get_string (s, "types"), "float32,int32");
  gst_caps_unref (caps);
}

GST_START_TEST (test_output_caps)
{
  /* the reference geometry: 3x32x32, ConvNet-3 of width 128 -> 2048 features */
  GstHarness *h = start_convnet ("", B, C, SIDE);
  GstBuffer *out = push_pull (h, 0);
  check_out_dims (h, "2048:3,3");
  fail_unless_equals_int64 (ncfm_tensor_get_dim (tensor_of (out, 0), 1), 2048);
  fail_unless_equals_int (model_meta (out)->feature_dim, 2048);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* one channel 28x28 (Fashion-MNIST) pads to 32x32: width 8 -> 8 * 4 * 4 */
  h = start_convnet ("width=8", 5, 1, 28);
  g_autoptr (NcfmTensor) images = make_images (5, 1, 28, 1);
  out = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
  check_out_dims (h, "128:5,5");
  NcfmModelMeta *m = model_meta (out);
  fail_unless (m->in_channels == 1 && m->height == 28 && m->width == 28);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_features_match_library)
{
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, C, SIDE, SIDE, 10, 3, 8, NCFM_NORM_INSTANCE,
      42, NULL);
  g_autofree gchar *path = tmp_path ("weights.safetensors");
  fail_unless (ncfm_convnet_save (net, path, NULL));
  g_autofree gchar *props = g_strdup_printf ("width=8 weights=%s", path);
  GstHarness *h = start_convnet (props, B, C, SIDE);

  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 7);
  GstBuffer *in = make_batch (g_object_ref (images));
  GstMemory *labels_in = gst_buffer_peek_memory (in, 1);
  GstBuffer *out = gst_harness_push_and_pull (h, in);
  check_out_dims (h, "128:3,3");

  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_convnet_forward (net, images, acts, NULL));
  gdouble scale;
  const gdouble d = max_diff (tensor_of (out, 0), ncfm_activations_get_features (acts), &scale);
  /* the same kernels on the same data: at most rounding of a few ulps */
  fail_unless (d <= 8 * FLT_EPSILON * MAX (scale, 1.0), "features differ by %g", d);
  g_print ("features vs library forward: max |diff| %g (scale %g)\n", d, scale);

  /* labels are the input's memory; the batch meta is kept; the meta's model has the weights */
  fail_unless (gst_buffer_peek_memory (out, 1) == labels_in);
  fail_unless (gst_buffer_get_ncfm_batch_meta (out) != NULL);
  NcfmModelMeta *m = model_meta (out);
  fail_unless (m->trained == NULL && m->pool_member == -1);
  check_same_parameters (NCFM_MODEL (m->model), NCFM_MODEL (net));
  /* a file: the same model for every buffer */
  GstBuffer *out2 = push_pull (h, 8);
  fail_unless (model_meta (out2)->model == m->model);
  gst_buffer_unref (out2);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* chunk: a batch in parts gives the whole batch's features (instance norm) */
GST_START_TEST (test_chunk)
{
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, C, SIDE, SIDE, 10, 3, 8, NCFM_NORM_INSTANCE,
      42, NULL);
  g_autofree gchar *path = tmp_path ("weights-chunk.safetensors");
  fail_unless (ncfm_convnet_save (net, path, NULL));
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 9);
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_convnet_forward (net, images, acts, NULL));
  for (guint chunk = 0; chunk <= 3; chunk++) {
    g_autofree gchar *props = g_strdup_printf ("width=8 weights=%s chunk=%u", path, chunk);
    GstHarness *h = start_convnet (props, B, C, SIDE);
    guint got = 99;
    g_object_get (gst_harness_find_element (h, "ncfmconvnet"), "chunk", &got, NULL);
    fail_unless_equals_int (got, chunk);
    GstBuffer *out = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
    fail_unless_equals_int (ncfm_tensor_get_dim (tensor_of (out, 0), 0), B);
    gdouble scale;
    const gdouble d = max_diff (tensor_of (out, 0), ncfm_activations_get_features (acts), &scale);
    fail_unless (d <= 8 * FLT_EPSILON * MAX (scale, 1.0), "chunk %u: features differ by %g",
        chunk, d);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

GST_START_TEST (test_random_rotation)
{
  GstHarness *h = start_convnet ("width=8 rotate-every=2 seed=5", B, C, SIDE);
  GstBuffer *out[5];
  for (guint i = 0; i < 5; i++)
    out[i] = push_pull (h, 3);  /* the same images: only the model changes */
  GObject *m[5];
  for (guint i = 0; i < 5; i++) {
    m[i] = model_meta (out[i])->model;
    fail_unless_equals_uint64 (model_meta (out[i])->rotation, i / 2);
  }
  fail_unless (m[0] == m[1] && m[2] == m[3]);
  fail_unless (m[0] != m[2] && m[2] != m[4] && m[0] != m[4]);
  /* a new random init: other features for the same images */
  fail_unless (max_diff (tensor_of (out[0], 0), tensor_of (out[2], 0), NULL) > 1e-4);
  /* the first model, replayed now, still gives the features it gave (immutable) */
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 3);
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_convnet_forward (NCFM_CONVNET (m[0]), images, acts, NULL));
  fail_unless (max_diff (tensor_of (out[0], 0), ncfm_activations_get_features (acts), NULL) == 0.0);
  for (guint i = 0; i < 5; i++)
    gst_buffer_unref (out[i]);
  gst_harness_teardown (h);

  /* the same seed gives the same models */
  h = start_convnet ("width=8 rotate-every=2 seed=5", B, C, SIDE);
  GstBuffer *again = push_pull (h, 3);
  GstBuffer *first = NULL;
  gst_harness_teardown (h);
  h = start_convnet ("width=8 rotate-every=2 seed=5", B, C, SIDE);
  first = push_pull (h, 3);
  fail_unless (max_diff (tensor_of (again, 0), tensor_of (first, 0), NULL) == 0.0);
  gst_buffer_unref (again);
  gst_buffer_unref (first);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A pool of two members of width 4 on 3x32x32 (ConvNet-3 or ResNet-AP-10),
 * init and trained from different seeds. */
static NcfmModel *pool_net[2][2];  /* [member][0 init, 1 trained] */

static NcfmModel *
new_member (GType type, guint64 seed)
{
  if (type == NCFM_TYPE_RESNET)
    return NCFM_MODEL (ncfm_resnet_new (cpu, C, SIDE, SIDE, 10, 10, 4, NCFM_NORM_INSTANCE, seed,
            NULL));
  return NCFM_MODEL (ncfm_convnet_new (cpu, C, SIDE, SIDE, 10, 3, 4, NCFM_NORM_INSTANCE, seed,
          NULL));
}

static void
write_pool (GType type)
{
  for (guint k = 0; k < 2; k++)
    for (guint t = 0; t < 2; t++) {
      pool_net[k][t] = new_member (type, 100 + 10 * k + t);
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          t ? "trained" : "init");
      g_autofree gchar *path = tmp_path (name);
      fail_unless (ncfm_model_save (pool_net[k][t], path, NULL));
    }
}

static void
free_pool (void)
{
  for (guint k = 0; k < 2; k++)
    for (guint t = 0; t < 2; t++)
      g_clear_object (&pool_net[k][t]);
}

/* Every parameter of @model is lam * init + (1 - lam) * trained of member k. */
static void
check_blend (GObject *object, guint k, gdouble lam)
{
  NcfmModel *model = NCFM_MODEL (object);
  fail_unless_equals_int (ncfm_model_get_n_parameters (model),
      ncfm_model_get_n_parameters (pool_net[k][0]));
  for (guint i = 0; i < ncfm_model_get_n_parameters (model); i++) {
    const gchar *name = ncfm_model_get_parameter_name (model, i);
    g_autoptr (GBytes) a = ncfm_tensor_to_bytes (ncfm_model_get_parameter (pool_net[k][0], name));
    g_autoptr (GBytes) b = ncfm_tensor_to_bytes (ncfm_model_get_parameter (pool_net[k][1], name));
    g_autoptr (GBytes) m = ncfm_tensor_to_bytes (ncfm_model_get_parameter (model, name));
    const gfloat *x = g_bytes_get_data (a, NULL), *y = g_bytes_get_data (b, NULL),
        *z = g_bytes_get_data (m, NULL);
    for (gsize j = 0; j < g_bytes_get_size (m) / 4; j++) {
      const gdouble want = lam * x[j] + (1 - lam) * y[j];
      fail_unless (fabs (z[j] - want) <= 2 * FLT_EPSILON * (fabs (x[j]) + fabs (y[j])) + 1e-30,
          "%s[%" G_GSIZE_FORMAT "]: %g, want %g", name, j, z[j], want);
    }
  }
}

/* @element on a pool of @type members: a member and a lambda per rotation, both drawn. */
static void
check_pool_blend (const gchar *element, GType type)
{
  write_pool (type);
  g_autofree gchar *props = g_strdup_printf ("width=4 pool=%s seed=1", tmp_dir);
  GstHarness *h = start_element (element, props, B, C, SIDE);
  gboolean seen[2] = { FALSE, FALSE };
  GObject *prev = NULL;   /* a reference: a freed model's address can be reused */
  for (guint i = 0; i < 8; i++) {
    GstBuffer *out = push_pull (h, i);
    NcfmModelMeta *m = model_meta_of (out, type);
    fail_unless (m->pool_member == 0 || m->pool_member == 1);
    fail_unless (m->pool_lambda > 0.0 && m->pool_lambda < 1.0);
    fail_unless (m->model != prev && m->trained != NULL && m->trained != m->model);
    fail_unless (G_OBJECT_TYPE (m->trained) == type);
    g_set_object (&prev, m->model);
    seen[m->pool_member] = TRUE;
    check_blend (m->model, m->pool_member, m->pool_lambda);
    check_blend (m->trained, m->pool_member, 0.0);
    gst_buffer_unref (out);
  }
  fail_unless (seen[0] && seen[1]);
  g_clear_object (&prev);
  gst_harness_teardown (h);

  /* blend off: the trained member itself */
  g_autofree gchar *props2 = g_strdup_printf ("width=4 pool=%s blend=false", tmp_dir);
  h = start_element (element, props2, B, C, SIDE);
  GstBuffer *out = push_pull (h, 0);
  NcfmModelMeta *m = model_meta_of (out, type);
  fail_unless (m->model == m->trained && m->pool_lambda == 0.0);
  check_blend (m->model, m->pool_member, 0.0);
  gst_buffer_unref (out);
  /* each member is read once per run: a rotation that draws a member again
   * gets the same (frozen) model */
  GObject *seen_model[2] = { NULL, NULL };
  guint reused = 0;
  for (guint i = 1; i < 8; i++) {
    out = push_pull (h, i);
    m = model_meta_of (out, type);
    GObject **slot = &seen_model[m->pool_member];
    if (*slot) {
      fail_unless (*slot == m->trained, "member %d read again", m->pool_member);
      reused++;
    } else {
      *slot = g_object_ref (m->trained);
    }
    gst_buffer_unref (out);
  }
  fail_unless (reused > 0);
  g_clear_object (&seen_model[0]);
  g_clear_object (&seen_model[1]);
  gst_harness_teardown (h);
  free_pool ();
}

GST_START_TEST (test_pool_blend)
{
  check_pool_blend ("ncfmconvnet", NCFM_TYPE_CONVNET);
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

GST_START_TEST (test_errors)
{
  /* a missing weights file fails start, naming the file */
  GstElement *e = gst_element_factory_make ("ncfmconvnet", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_autofree gchar *missing = tmp_path ("no-such-weights.safetensors");
  g_object_set (e, "weights", missing, NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  g_autofree gchar *m1 = pop_error (bus);
  fail_unless (strstr (m1, missing) != NULL, "%s", m1);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (e);

  /* weights of another width: an error naming the tensor */
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, C, SIDE, SIDE, 10, 3, 4, NCFM_NORM_INSTANCE,
      1, NULL);
  g_autofree gchar *path = tmp_path ("width4.safetensors");
  fail_unless (ncfm_convnet_save (net, path, NULL));
  g_autofree gchar *props = g_strdup_printf ("width=8 weights=%s", path);
  GstHarness *h = start_convnet (props, B, C, SIDE);
  gst_element_set_bus (h->element, bus);
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 0);
  fail_unless_equals_int (gst_harness_push (h, make_batch (g_object_ref (images))),
      GST_FLOW_ERROR);
  g_autofree gchar *m2 = pop_error (bus);
  fail_unless (strstr (m2, "layers.conv.0.weight") != NULL && strstr (m2, path) != NULL, "%s", m2);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);

  /* images a ConvNet-3 cannot take: not negotiated, naming the field and the property */
  h = gst_harness_new_parse ("ncfmconvnet width=8");
  gst_element_set_bus (h->element, bus);
  /* a sticky event: pushing it "succeeds", the refusal shows on the bus and the data flow */
  gst_harness_push_event (h, gst_event_new_caps (input_caps (B, C, 4)));
  g_autofree gchar *m3 = pop_error (bus);
  fail_unless (strstr (m3, "caps field dimensions") && strstr (m3, "property depth"), "%s", m3);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  fail_unless_equals_int (gst_harness_push (h, make_batch (make_images (B, C, 4, 0))),
      GST_FLOW_NOT_NEGOTIATED);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}
GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("ncfmconvnet", NULL);
  guint depth, width, classes, every;
  gboolean blend;
  g_object_get (e, "depth", &depth, "width", &width, "num-classes", &classes, "rotate-every",
      &every, "blend", &blend, NULL);
  fail_unless (depth == 3 && width == 128 && classes == 0 && every == 1 && blend);
  gst_util_set_object_arg (G_OBJECT (e), "norm", "batchnorm");
  gint norm;
  g_object_get (e, "norm", &norm, NULL);
  fail_unless_equals_int (norm, NCFM_NORM_BATCH);
  gst_object_unref (e);
}
GST_END_TEST;

/* ---- ncfmresnet: the same base class, another architecture ---- */

GST_START_TEST (test_resnet_caps_and_meta)
{
  /* the reference width 64: 8 x 64 features whatever the image size */
  GstHarness *h = start_element ("ncfmresnet", "", B, C, SIDE);
  GstBuffer *out = push_pull (h, 0);
  check_out_dims (h, "512:3,3");
  fail_unless_equals_int64 (ncfm_tensor_get_dim (tensor_of (out, 0), 1), 512);
  NcfmModelMeta *m = model_meta_of (out, NCFM_TYPE_RESNET);
  fail_unless_equals_int (m->feature_dim, 512);
  fail_unless (m->trained == NULL && m->pool_member == -1 && m->rotation == 0);
  fail_unless_equals_int (ncfm_resnet_get_depth (NCFM_RESNET (m->model)), 10);
  fail_unless_equals_int (ncfm_resnet_get_norm (NCFM_RESNET (m->model)), NCFM_NORM_INSTANCE);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* one channel 28x28, depth 18, width 8, a new random model per buffer */
  h = start_element ("ncfmresnet", "depth=18 width=8 norm=batchnorm", 5, 1, 28);
  g_autoptr (NcfmTensor) images = make_images (5, 1, 28, 1);
  GstBuffer *first = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
  GstBuffer *second = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
  check_out_dims (h, "64:5,5");
  NcfmModelMeta *m1 = model_meta_of (first, NCFM_TYPE_RESNET);
  NcfmModelMeta *m2 = model_meta_of (second, NCFM_TYPE_RESNET);
  fail_unless (m1->in_channels == 1 && m1->height == 28 && m1->width == 28);
  fail_unless_equals_int (ncfm_resnet_get_depth (NCFM_RESNET (m1->model)), 18);
  fail_unless_equals_int (ncfm_resnet_get_norm (NCFM_RESNET (m1->model)), NCFM_NORM_BATCH);
  fail_unless (m1->model != m2->model && m2->rotation == 1);
  fail_unless (max_diff (tensor_of (first, 0), tensor_of (second, 0), NULL) > 1e-4);
  /* the first model, replayed now, still gives the features it gave (the
   * output used batch statistics: replay in training mode too) */
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_model_get_training (NCFM_MODEL (m1->model)));
  fail_unless (ncfm_model_forward (NCFM_MODEL (m1->model), images, acts, NULL));
  fail_unless (max_diff (tensor_of (first, 0), ncfm_activations_get_features (acts), NULL) == 0.0);
  gst_buffer_unref (first);
  gst_buffer_unref (second);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_resnet_features_match_library)
{
  g_autoptr (NcfmModel) net = NCFM_MODEL (ncfm_resnet_new (cpu, C, SIDE, SIDE, 7, 10, 8,
          NCFM_NORM_INSTANCE, 42, NULL));
  g_autofree gchar *path = tmp_path ("resnet.safetensors");
  fail_unless (ncfm_model_save (net, path, NULL));
  g_autofree gchar *props = g_strdup_printf ("width=8 weights=%s", path);
  GstHarness *h = start_element ("ncfmresnet", props, B, C, SIDE);
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 7);
  GstBuffer *out = gst_harness_push_and_pull (h, make_batch (g_object_ref (images)));
  check_out_dims (h, "64:3,3");

  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_model_forward (net, images, acts, NULL));
  gdouble scale;
  const gdouble d = max_diff (tensor_of (out, 0), ncfm_activations_get_features (acts), &scale);
  fail_unless (d <= 8 * FLT_EPSILON * MAX (scale, 1.0), "features differ by %g", d);
  /* the classes come from fc.weight (7 rows), not the batch meta's 12 */
  NcfmModelMeta *m = model_meta_of (out, NCFM_TYPE_RESNET);
  fail_unless_equals_int (ncfm_model_get_num_classes (NCFM_MODEL (m->model)), 7);
  check_same_parameters (NCFM_MODEL (m->model), net);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_resnet_pool_blend)
{
  check_pool_blend ("ncfmresnet", NCFM_TYPE_RESNET);
}
GST_END_TEST;

GST_START_TEST (test_resnet_errors)
{
  GstBus *bus = gst_bus_new ();
  /* ConvNet weights: the first tensor a ResNet-AP does not have, and the file */
  g_autoptr (NcfmConvNet) conv = ncfm_convnet_new (cpu, C, SIDE, SIDE, 10, 3, 4,
      NCFM_NORM_INSTANCE, 1, NULL);
  g_autofree gchar *path = tmp_path ("convnet.safetensors");
  fail_unless (ncfm_convnet_save (conv, path, NULL));
  g_autofree gchar *props = g_strdup_printf ("width=4 weights=%s", path);
  GstHarness *h = start_element ("ncfmresnet", props, B, C, SIDE);
  gst_element_set_bus (h->element, bus);
  g_autoptr (NcfmTensor) images = make_images (B, C, SIDE, 0);
  fail_unless_equals_int (gst_harness_push (h, make_batch (g_object_ref (images))),
      GST_FLOW_ERROR);
  g_autofree gchar *m1 = pop_error (bus);
  fail_unless (strstr (m1, "classifier.") && strstr (m1, "not a parameter of a ResNet-AP")
      && strstr (m1, path)
      && strstr (m1, "property weights"), "%s", m1);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);

  /* 7x7 images lose all pixels in the third downsampling stage */
  h = gst_harness_new_parse ("ncfmresnet width=4");
  gst_element_set_bus (h->element, bus);
  gst_harness_push_event (h, gst_event_new_caps (input_caps (B, C, 7)));
  g_autofree gchar *m2 = pop_error (bus);
  fail_unless (strstr (m2, "caps field dimensions") && strstr (m2, "7x7")
      && strstr (m2, "properties depth, width"), "%s", m2);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}
GST_END_TEST;

GST_START_TEST (test_resnet_properties)
{
  GstElement *e = gst_element_factory_make ("ncfmresnet", NULL);
  fail_unless (GST_IS_NCFM_EXTRACTOR (e));
  gint depth, norm;
  guint width, every;
  g_object_get (e, "depth", &depth, "width", &width, "norm", &norm, "rotate-every", &every, NULL);
  fail_unless (depth == 10 && width == 64 && norm == NCFM_NORM_INSTANCE && every == 1);
  gst_util_set_object_arg (G_OBJECT (e), "depth", "18");
  gst_util_set_object_arg (G_OBJECT (e), "norm", "none");
  g_object_get (e, "depth", &depth, "norm", &norm, NULL);
  fail_unless (depth == 18 && norm == NCFM_NORM_NONE);
  /* properties are fixed while running */
  fail_unless (gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  ASSERT_WARNING (g_object_set (e, "width", 8, NULL));
  g_object_get (e, "width", &width, NULL);
  fail_unless_equals_int (width, 64);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}
GST_END_TEST;

static Suite *
convnet_suite (void)
{
  gst_ncfm_tensor_memory_init_once ();
  g_assert_true (GST_ELEMENT_REGISTER (ncfmconvnet, NULL));
  g_assert_true (GST_ELEMENT_REGISTER (ncfmresnet, NULL));
  Suite *s = suite_create ("extractors");
  TCase *tc = tcase_create ("general");
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_output_caps);
  tcase_add_test (tc, test_features_match_library);
  tcase_add_test (tc, test_chunk);
  tcase_add_test (tc, test_random_rotation);
  tcase_add_test (tc, test_pool_blend);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_resnet_caps_and_meta);
  tcase_add_test (tc, test_resnet_features_match_library);
  tcase_add_test (tc, test_resnet_pool_blend);
  tcase_add_test (tc, test_resnet_errors);
  tcase_add_test (tc, test_resnet_properties);
  return s;
}

GST_CHECK_MAIN (convnet);
