/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tensormemory.c: the plugin's building blocks called directly, without the
 * plugin: the NcfmTensor allocator (map, share, copy), the other/tensors caps
 * helpers (round trip, messages naming the field that disagrees) and
 * NcfmBatchMeta (survives buffer copies, keeps its loader). */
#include <string.h>
#include <gst/check/gstcheck.h>

#include "gstncfmcaps.h"
#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

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

static NcfmTensor *
ramp_tensor (gint64 n)
{
  g_autofree float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = (float) i;
  return ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_F32, &n, 1, (const guint8 *) v,
      n * sizeof (float), NULL);
}

GST_START_TEST (test_memory_map_share_copy)
{
  NcfmTensor *t = ramp_tensor (16);
  GstMemory *mem = gst_ncfm_tensor_memory_new (t);
  fail_unless (gst_is_ncfm_tensor_memory (mem));
  fail_unless (gst_memory_is_type (mem, GST_NCFM_TENSOR_MEMORY_TYPE));
  fail_unless (gst_ncfm_tensor_memory_get_tensor (mem) == t);
  fail_unless_equals_int (mem->size, 64);
  GstAllocator *found = gst_allocator_find (GST_NCFM_TENSOR_MEMORY_TYPE);
  fail_unless (found == mem->allocator);
  gst_object_unref (found);

  /* CPU: the tensor's own memory, read and write */
  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READWRITE));
  fail_unless (map.data == ncfm_tensor_get_data (t));
  ((float *) map.data)[3] = 42.0f;
  gst_memory_unmap (mem, &map);
  fail_unless_equals_float (ncfm_tensor_f32 (t)[3], 42.0f);

  /* a shared region is the same tensor, offset */
  GstMemory *sub = gst_memory_share (mem, 8, 16);
  fail_unless (gst_ncfm_tensor_memory_get_tensor (sub) == t);
  fail_unless (gst_memory_map (sub, &map, GST_MAP_READ));
  fail_unless_equals_int (map.size, 16);
  fail_unless_equals_float (((float *) map.data)[1], 42.0f);
  gst_memory_unmap (sub, &map);
  gst_memory_unref (sub);

  /* the whole: a new tensor; a part: system memory */
  GstMemory *copy = gst_memory_copy (mem, 0, -1);
  fail_unless (gst_is_ncfm_tensor_memory (copy));
  NcfmTensor *ct = gst_ncfm_tensor_memory_get_tensor (copy);
  fail_unless (ct != t);
  fail_unless (memcmp (ncfm_tensor_get_data (ct), ncfm_tensor_get_data (t), 64) == 0);
  gst_memory_unref (copy);
  copy = gst_memory_copy (mem, 12, 8);
  fail_if (gst_is_ncfm_tensor_memory (copy));
  fail_unless (gst_memory_map (copy, &map, GST_MAP_READ));
  fail_unless_equals_float (((float *) map.data)[0], 42.0f);
  fail_unless_equals_float (((float *) map.data)[1], 4.0f);
  gst_memory_unmap (copy, &map);
  gst_memory_unref (copy);

  /* the memory keeps the tensor alive */
  g_object_add_weak_pointer (G_OBJECT (t), (gpointer *) &t);
  g_object_unref (t);
  fail_unless (t != NULL);
  gst_memory_unref (mem);
  fail_unless (t == NULL);
}
GST_END_TEST;

static void
image_batch_info (GstNcfmTensorsInfo *info, gint64 b, gint64 c, gint64 hw, gboolean cuda)
{
  const gint64 images[4] = { b, c, hw, hw }, labels[1] = { b };
  gst_ncfm_tensors_info_init (info, cuda);
  fail_unless (gst_ncfm_tensors_info_add (info, NCFM_DTYPE_F32, images, 4, NULL));
  fail_unless (gst_ncfm_tensors_info_add (info, NCFM_DTYPE_I32, labels, 1, NULL));
}

GST_START_TEST (test_caps_round_trip)
{
  GstNcfmTensorsInfo info, back;
  image_batch_info (&info, 256, 1, 28, FALSE);
  GstCaps *caps = gst_ncfm_tensors_info_to_caps (&info);
  GstCaps *want = gst_caps_from_string ("other/tensors, format=(string)static, "
      "num_tensors=(int)2, dimensions=(string)\"28:28:1:256,256\", "
      "types=(string)\"float32,int32\", framerate=(fraction)0/1");
  fail_unless (gst_caps_is_equal (caps, want));
  GstCaps *templ = gst_caps_from_string (GST_NCFM_TENSORS_CAPS_STR);
  fail_unless (gst_caps_can_intersect (caps, templ));
  fail_unless (gst_ncfm_tensors_info_from_caps (&back, caps, NULL));
  fail_unless (gst_ncfm_tensors_info_check (&info, &back, NULL));
  fail_unless_equals_int (back.tensors[0].shape[0], 256);
  fail_unless_equals_int (back.tensors[0].shape[3], 28);
  gst_caps_unref (caps);
  gst_caps_unref (want);

  /* CUDA: the memory:NcfmCUDA feature */
  image_batch_info (&info, 8, 3, 32, TRUE);
  caps = gst_ncfm_tensors_info_to_caps (&info);
  fail_unless (gst_caps_features_contains (gst_caps_get_features (caps, 0),
          GST_CAPS_FEATURE_MEMORY_NCFM_CUDA));
  fail_unless (gst_caps_can_intersect (caps, templ));
  fail_unless (gst_ncfm_tensors_info_from_caps (&back, caps, NULL));
  fail_unless (back.cuda);
  gst_caps_unref (caps);
  gst_caps_unref (templ);

  /* trailing 1s do not matter, as in NNStreamer */
  caps = gst_caps_from_string ("other/tensors, format=static, num_tensors=2, "
      "dimensions=\"32:32:3:8,8:1:1:1\", types=\"float32,int32\"");
  fail_unless (gst_ncfm_tensors_info_from_caps (&back, caps, NULL));
  back.cuda = TRUE;
  fail_unless (gst_ncfm_tensors_info_check (&info, &back, NULL));
  gst_caps_unref (caps);
}
GST_END_TEST;

static gchar *
check_message (const GstNcfmTensorsInfo *expected, const gchar *caps_str)
{
  GstNcfmTensorsInfo got;
  GstCaps *caps = gst_caps_from_string (caps_str);
  gchar *why = NULL;
  fail_unless (gst_ncfm_tensors_info_from_caps (&got, caps, NULL));
  fail_if (gst_ncfm_tensors_info_check (expected, &got, &why));
  gst_caps_unref (caps);
  return why;
}

static gchar *
parse_message (const gchar *caps_str)
{
  GstNcfmTensorsInfo got;
  GstCaps *caps = gst_caps_from_string (caps_str);
  GError *error = NULL;
  fail_if (gst_ncfm_tensors_info_from_caps (&got, caps, &error));
  fail_unless (error != NULL);
  gchar *msg = g_strdup (error->message);
  g_error_free (error);
  gst_caps_unref (caps);
  return msg;
}

GST_START_TEST (test_caps_messages)
{
  GstNcfmTensorsInfo want;
  image_batch_info (&want, 256, 3, 32, FALSE);
  gchar *m = check_message (&want, "other/tensors, num_tensors=2, "
      "dimensions=\"28:28:1:256,256\", types=\"float32,int32\"");
  fail_unless_equals_string (m, "caps field dimensions disagrees: got \"28:28:1:256,256\", "
      "expected \"32:32:3:256,256\"");
  g_free (m);
  m = check_message (&want, "other/tensors, num_tensors=2, "
      "dimensions=\"32:32:3:256,256\", types=\"float32,float32\"");
  fail_unless_equals_string (m, "caps field types disagrees: got \"float32,float32\", "
      "expected \"float32,int32\"");
  g_free (m);
  m = check_message (&want, "other/tensors, num_tensors=1, dimensions=\"32:32:3:256\", "
      "types=\"float32\"");
  fail_unless_equals_string (m, "caps field num_tensors disagrees: got 1, expected 2");
  g_free (m);
  m = check_message (&want, "other/tensors(memory:NcfmCUDA), num_tensors=2, "
      "dimensions=\"32:32:3:256,256\", types=\"float32,int32\"");
  fail_unless (strstr (m, "memory:NcfmCUDA") != NULL, "%s", m);
  g_free (m);

  m = parse_message ("other/tensors, num_tensors=2, dimensions=\"32:32:3:256\", "
      "types=\"float32,int32\"");
  fail_unless (strstr (m, "dimensions") && strstr (m, "32:32:3:256"), "%s", m);
  g_free (m);
  m = parse_message ("other/tensors, num_tensors=1, dimensions=(string)\"32:0:3\", "
      "types=(string)float32");
  fail_unless (strstr (m, "dimensions") && strstr (m, "\"0\""), "%s", m);
  g_free (m);
  m = parse_message ("other/tensors, num_tensors=1, dimensions=32, types=complex");
  fail_unless (strstr (m, "types") && strstr (m, "complex"), "%s", m);
  g_free (m);
  m = parse_message ("other/tensors, format=flexible, num_tensors=1, dimensions=3, "
      "types=int8");
  fail_unless (strstr (m, "format") && strstr (m, "flexible"), "%s", m);
  g_free (m);
  m = parse_message ("video/x-raw, format=RGB");
  fail_unless (strstr (m, "video/x-raw") != NULL, "%s", m);
  g_free (m);
}
GST_END_TEST;

GST_START_TEST (test_batch_meta_copies)
{
  const guint8 pixels[4] = { 0, 64, 128, 255 };
  const gint32 labels[4] = { 0, 1, 1, 0 };
  const gchar *names[] = { "cat", "dog", NULL };
  g_autoptr (GBytes) px = g_bytes_new_static (pixels, sizeof pixels);
  g_autoptr (GBytes) lb = g_bytes_new_static (labels, sizeof labels);
  const gfloat mean[4] = { 0.5f }, std[4] = { 0.25f };
  g_autoptr (NcfmDataset) ds = ncfm_dataset_new_from_data ("pets", NCFM_DTYPE_U8, 4, 1, 1, 1,
      px, lb, names, mean, std, NULL);
  fail_unless (ds != NULL);
  g_autoptr (NcfmLoader) loader = ncfm_loader_new (ds, cpu, 2, NCFM_LOADER_MODE_PER_CLASS, 0, 1,
      TRUE, NULL, 0, NULL);
  fail_unless (loader != NULL);

  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  NcfmBatchMeta *meta = gst_buffer_add_ncfm_batch_meta_from_loader (buf, loader, 1, 3);
  fail_unless (meta != NULL);
  fail_unless (gst_buffer_get_ncfm_batch_meta (buf) == meta);
  fail_unless_equals_int (meta->num_classes, 2);
  fail_unless_equals_string (meta->class_names[1], "dog");
  fail_unless_equals_string (meta->dataset_name, "pets");
  fail_unless_equals_float (meta->mean[0], 0.5f);
  fail_unless_equals_float (meta->std[0], 0.25f);
  fail_unless_equals_int (meta->class_id, 1);
  fail_unless_equals_uint64 (meta->position, 3);
  fail_unless_equals_uint64 (meta->epoch, 1);  /* 2 batches per epoch */
  fail_unless (meta->loader == loader);

  GstBuffer *copies[2] = { gst_buffer_copy (buf),
    gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, 4, 8) };
  gst_buffer_unref (buf);
  for (guint i = 0; i < 2; i++) {
    NcfmBatchMeta *c = gst_buffer_get_ncfm_batch_meta (copies[i]);
    fail_unless (c != NULL && c != meta);
    fail_unless_equals_string (c->class_names[0], "cat");
    fail_unless_equals_string (c->dataset_name, "pets");
    fail_unless_equals_int (c->class_id, 1);
    fail_unless_equals_uint64 (c->position, 3);
    fail_unless_equals_float (c->std[0], 0.25f);
    fail_unless (c->loader == loader);
    gst_buffer_unref (copies[i]);
  }

  /* without a loader: the plain form */
  buf = gst_buffer_new ();
  meta = gst_buffer_add_ncfm_batch_meta (buf, names, 1, mean, std);
  fail_unless (meta->loader == NULL && meta->class_id == -1 && meta->num_classes == 2);
  gst_buffer_unref (buf);
}
GST_END_TEST;

static Suite *
tensormemory_suite (void)
{
  Suite *s = suite_create ("ncfm-tensor-memory");
  TCase *tc = tcase_create ("general");
  tcase_add_checked_fixture (tc, setup, teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_memory_map_share_copy);
  tcase_add_test (tc, test_caps_round_trip);
  tcase_add_test (tc, test_caps_messages);
  tcase_add_test (tc, test_batch_meta_copies);
  return s;
}

GST_CHECK_MAIN (tensormemory);
