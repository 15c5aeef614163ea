/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* network.c: a camera on another machine feeding the distiller, on the
 * loopback: one pipeline serves a live test source as RTP/VP8 over UDP to
 * 127.0.0.1, a second receives it (udpsrc on a port the system picked, so
 * parallel runs do not clash), labels the frames with a model and distils
 * them (ncfmtensorize unlabeled=true ! ncfmlabel ! ncfmgather ! ncfmaugment !
 * ncfmconvnet ! ncfmcf ! ncfmdistill).  The receiver ends itself: when the
 * sender is done and no packet came for 0.5 s, it is sent EOS and saves. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "elements-test-util.h"

#define FRAMES 60
#define RTP_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96"

/* The port the receiver's socket is bound to (it binds on the way to PAUSED). */
static guint
bound_port (GstElement *receiver)
{
  GstElement *src = gst_bin_get_by_name (GST_BIN (receiver), "src");
  GSocket *socket = NULL;
  g_object_get (src, "used-socket", &socket, NULL);
  fail_unless (socket != NULL, "udpsrc has no socket");
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = g_socket_get_local_address (socket, &error);
  fail_unless (addr != NULL, "%s", error ? error->message : "");
  const guint port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
  g_object_unref (socket);
  gst_object_unref (src);
  return port;
}

typedef struct {
  guint64 labelled, steps;
  gboolean sender_done, eos_sent;
} Received;

/* Counts the labeller's images and the distiller's steps; ends the stream once the
 * sender is done and the socket has been quiet for the udpsrc timeout. */
static gboolean
on_receiver_message (GstElement *receiver, GstMessage *msg, Received *r)
{
  const GstStructure *s = gst_message_get_structure (msg);
  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT || !s)
    return TRUE;
  guint64 kept = 0, dropped = 0;
  if (gst_structure_has_name (s, "ncfm-label") && gst_structure_get_uint64 (s, "kept", &kept)
      && gst_structure_get_uint64 (s, "dropped", &dropped))
    r->labelled = kept + dropped;
  else if (gst_structure_has_name (s, "ncfm-progress"))
    gst_structure_get_uint64 (s, "step", &r->steps);
  else if (gst_structure_has_name (s, "GstUDPSrcTimeout") && r->sender_done && !r->eos_sent) {
    r->eos_sent = TRUE;
    gst_element_send_event (receiver, gst_event_new_eos ());
  }
  return TRUE;
}

GST_START_TEST (test_rtp_over_udp)
{
  g_autofree gchar *weights = fresh_model ("network-model.safetensors", 10, IMG_H, 3);
  g_autofree gchar *synset = g_build_filename (tmp_root, "network-synset.safetensors", NULL);
  g_autofree gchar *receive = g_strdup_printf ("udpsrc name=src address=127.0.0.1 port=0 "
      "timeout=500000000 caps=\"" RTP_CAPS "\" ! rtpjitterbuffer latency=100 ! rtpvp8depay ! "
      "vp8dec ! videoconvert ! ncfmtensorize unlabeled=true classes=10 width=%u height=%u "
      "channels=1 batch-size=4 dataset=fashion-mnist ! ncfmlabel weights=%s ! "
      "ncfmgather batch-size=4 capacity=16 min-new=4 ! ncfmaugment strategy=none ! "
      "ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64 ! ncfmdistill location=%s "
      "dataset=%s ipc=1 factor=1 save-every=0", IMG_W, IMG_H, weights, synset, idx_dir);
  GstElement *receiver = gst_parse_launch (receive, NULL);
  fail_unless (receiver != NULL, "%s", receive);
  /* a live source: no preroll */
  fail_unless_equals_int (gst_element_set_state (receiver, GST_STATE_PAUSED),
      GST_STATE_CHANGE_NO_PREROLL);
  const guint port = bound_port (receiver);
  fail_unless (port > 0);
  gst_element_set_state (receiver, GST_STATE_PLAYING);

  /* the sender: 2 s of a live source at 30 frames/s, a keyframe every 10 frames so the
   * receiver can start at once */
  g_autofree gchar *send = g_strdup_printf ("videotestsrc is-live=true num-buffers=%u "
      "pattern=ball ! video/x-raw,width=32,height=24,framerate=30/1 ! vp8enc deadline=1 "
      "keyframe-max-dist=10 ! rtpvp8pay ! udpsink host=127.0.0.1 port=%u", FRAMES, port);
  GstElement *sender = gst_parse_launch (send, NULL);
  fail_unless (sender != NULL, "%s", send);
  g_autofree gchar *send_error = play_to_eos (sender, 30, NULL, NULL);
  fail_unless (send_error == NULL, "%s", send_error);
  gst_object_unref (sender);

  Received r = { .sender_done = TRUE };
  GstBus *bus = gst_element_get_bus (receiver);
  g_autofree gchar *error = NULL;
  gboolean eos = FALSE;
  const gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (!eos && !error && g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop (bus, GST_SECOND);
    if (!msg)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
      eos = TRUE;
    else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      error = error_message_text (msg);
    else
      on_receiver_message (receiver, msg, &r);
    gst_message_unref (msg);
  }
  gst_element_set_state (receiver, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (receiver);
  fail_unless (error == NULL, "%s", error);
  fail_unless (eos, "the receiver did not end (EOS sent: %d)", r.eos_sent);

  /* every frame came over the loopback (a few may be lost to the keyframe wait) and
   * went through the labeller; the distiller stepped and saved */
  GST_INFO ("%" G_GUINT64_FORMAT " images labelled, %" G_GUINT64_FORMAT " steps", r.labelled,
      r.steps);
  fail_unless (r.labelled >= FRAMES / 2 && r.labelled <= FRAMES, "%" G_GUINT64_FORMAT
      " images labelled of %u frames sent", r.labelled, FRAMES);
  fail_unless (r.steps >= 1);
  fail_unless (g_file_test (synset, G_FILE_TEST_EXISTS), "%s not saved", synset);
  g_unlink (synset);
  g_unlink (weights);
}
GST_END_TEST;

static Suite *
network_suite (void)
{
  Suite *s = suite_create ("network");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_rtp_over_udp);
  return s;
}

GST_CHECK_MAIN (network);
