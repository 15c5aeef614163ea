/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-decode.c: one JPEG (libjpeg-turbo) or PNG (libpng) file in
 * memory to 8-bit RGB, as PIL's Image.open(f).convert("RGB") gives it:
 * grey replicated to three channels, palettes expanded, alpha dropped (not
 * composited), 16-bit samples reduced to their high byte.  The format is
 * told by the magic bytes, not the file name.
 *
 * Both libraries report errors by longjmp: all state that lives across the
 * setjmp is kept in a job struct reached through a pointer, so no local
 * variable can be clobbered.  Warnings (libjpeg's "premature end of data",
 * "corrupt data") make the image corrupt too: silently grey-filled pixels
 * are worse than a skipped file. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

/* No real dataset image comes close; a forged header must not make us allocate 1 GB. */
#define MAX_SIDE 16384u
#define MAX_PIXELS (G_GUINT64_CONSTANT (1) << 27)

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
  struct jpeg_decompress_struct cinfo;
  guint8 *out;
} JpegJob;

static void
jpeg_on_error (j_common_ptr cinfo)
{
  JpegJob *job = (JpegJob *) cinfo->err;
  job->pub.format_message (cinfo, job->msg);
  longjmp (job->jump, 1);
}

static void
jpeg_on_message (j_common_ptr cinfo, int level)
{
  JpegJob *job = (JpegJob *) cinfo->err;
  if (level < 0) {              /* a warning: keep the first one */
    if (job->pub.num_warnings++ == 0)
      job->pub.format_message (cinfo, job->msg);
  }
}

static gboolean
too_large (guint w, guint h)
{
  return w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || (guint64) w * h > MAX_PIXELS;
}

static gboolean
decode_jpeg (JpegJob *job, const guint8 *data, gsize len, guint *width,
    guint *height, gchar **why)
{
  struct jpeg_decompress_struct *ci = &job->cinfo;

  ci->err = jpeg_std_error (&job->pub);
  job->pub.error_exit = jpeg_on_error;
  job->pub.emit_message = jpeg_on_message;
  job->msg[0] = '\0';
  job->out = NULL;
  if (setjmp (job->jump)) {
    jpeg_destroy_decompress (ci);
    g_clear_pointer (&job->out, g_free);
    if (why)
      *why = g_strdup_printf ("JPEG: %s", job->msg);
    return FALSE;
  }
  jpeg_create_decompress (ci);
  jpeg_mem_src (ci, data, (unsigned long) len);
  jpeg_read_header (ci, TRUE);
  *width = ci->image_width;
  *height = ci->image_height;
  if (too_large (*width, *height)) {
    g_snprintf (job->msg, sizeof job->msg, "unsupported size %ux%u", *width, *height);
    longjmp (job->jump, 1);
  }
  ci->out_color_space = JCS_RGB;
  ci->dct_method = JDCT_ISLOW;
  jpeg_start_decompress (ci);
  if (ci->output_components != 3 || ci->output_width != *width
      || ci->output_height != *height) {
    g_snprintf (job->msg, sizeof job->msg, "unexpected output of %d components",
        ci->output_components);
    longjmp (job->jump, 1);
  }
  job->out = g_try_malloc ((gsize) *width * *height * 3);
  if (!job->out) {
    g_snprintf (job->msg, sizeof job->msg, "out of memory for %ux%u pixels", *width, *height);
    longjmp (job->jump, 1);
  }
  while (ci->output_scanline < ci->output_height) {
    JSAMPROW row = job->out + (gsize) ci->output_scanline * *width * 3;
    jpeg_read_scanlines (ci, &row, 1);
  }
  jpeg_finish_decompress (ci);
  if (job->pub.num_warnings > 0)
    longjmp (job->jump, 1);
  jpeg_destroy_decompress (ci);
  return TRUE;
}

typedef struct {
  const guint8 *data;
  gsize len, pos;
  char msg[256];
  png_structp png;
  png_infop info;
  guint8 *out;
  png_bytep *rows;
} PngJob;

static void
png_read_memory (png_structp png, png_bytep dst, size_t n)
{
  PngJob *job = png_get_io_ptr (png);
  if (n > job->len - job->pos)
    png_error (png, "unexpected end of file");
  memcpy (dst, job->data + job->pos, n);
  job->pos += n;
}

static void
png_on_error (png_structp png, png_const_charp msg)
{
  PngJob *job = png_get_error_ptr (png);
  g_strlcpy (job->msg, msg, sizeof job->msg);
  png_longjmp (png, 1);
}

static void
png_on_warning (png_structp png, png_const_charp msg)
{
  (void) png;
  (void) msg;                   /* benign (unknown chunks, bad gamma): keep the pixels */
}

static gboolean
decode_png (PngJob *job, const guint8 *data, gsize len, guint *width,
    guint *height, gchar **why)
{
  job->data = data;
  job->len = len;
  job->pos = 0;
  job->msg[0] = '\0';
  job->out = NULL;
  job->rows = NULL;
  job->info = NULL;
  job->png = png_create_read_struct (PNG_LIBPNG_VER_STRING, job, png_on_error, png_on_warning);
  if (!job->png) {
    if (why)
      *why = g_strdup ("PNG: out of memory");
    return FALSE;
  }
  if (setjmp (png_jmpbuf (job->png))) {
    png_destroy_read_struct (&job->png, job->info ? &job->info : NULL, NULL);
    g_clear_pointer (&job->out, g_free);
    g_clear_pointer (&job->rows, g_free);
    if (why)
      *why = g_strdup_printf ("PNG: %s", job->msg);
    return FALSE;
  }
  job->info = png_create_info_struct (job->png);
  if (!job->info)
    png_error (job->png, "out of memory");
  png_set_read_fn (job->png, job, png_read_memory);
  png_set_user_limits (job->png, MAX_SIDE, MAX_SIDE);
  png_read_info (job->png, job->info);
  *width = png_get_image_width (job->png, job->info);
  *height = png_get_image_height (job->png, job->info);
  if (too_large (*width, *height))
    png_error (job->png, "unsupported size");
  int color = png_get_color_type (job->png, job->info);
  png_set_expand (job->png);          /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
  png_set_strip_16 (job->png);
  png_set_strip_alpha (job->png);
  if (!(color & PNG_COLOR_MASK_COLOR))
    png_set_gray_to_rgb (job->png);
  png_set_interlace_handling (job->png);
  png_read_update_info (job->png, job->info);
  if (png_get_rowbytes (job->png, job->info) != (gsize) *width * 3)
    png_error (job->png, "unexpected row size after conversion to RGB");
  job->out = g_try_malloc ((gsize) *width * *height * 3);
  if (!job->out)
    png_error (job->png, "out of memory");
  job->rows = g_new (png_bytep, *height);
  for (guint y = 0; y < *height; y++)
    job->rows[y] = job->out + (gsize) y * *width * 3;
  png_read_image (job->png, job->rows);
  png_read_end (job->png, NULL);
  g_clear_pointer (&job->rows, g_free);
  png_destroy_read_struct (&job->png, &job->info, NULL);
  return TRUE;
}

static gboolean
is_jpeg (const guint8 *data, gsize len)
{
  return len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

static gboolean
is_png (const guint8 *data, gsize len)
{
  return len >= 8 && png_sig_cmp ((png_const_bytep) data, 0, 8) == 0;
}

gboolean
ncfm_dataset_decode_image (const guint8 *data, gsize len, guint8 **rgb, guint *width,
    guint *height, gchar **why)
{
  *rgb = NULL;
  if (is_jpeg (data, len)) {
    JpegJob job;
    if (!decode_jpeg (&job, data, len, width, height, why))
      return FALSE;
    *rgb = job.out;
    return TRUE;
  }
  if (is_png (data, len)) {
    PngJob job;
    if (!decode_png (&job, data, len, width, height, why))
      return FALSE;
    *rgb = job.out;
    return TRUE;
  }
  *why = g_strdup ("not a JPEG or PNG file");
  return FALSE;
}
