/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmtrainsettings.h: what ncfmtrain is told to do (its properties as
 * one struct): the model, the optimizer and schedule, CutMix, the teacher
 * and the files.  The element keeps one under its object lock and copies it
 * at start. */
#ifndef GST_NCFM_TRAIN_SETTINGS_H
#define GST_NCFM_TRAIN_SETTINGS_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

/* The architectures ncfmtrain builds from properties. */
typedef enum {
  GST_NCFM_TRAIN_ARCH_CONVNET,
  GST_NCFM_TRAIN_ARCH_RESNET_AP,
} GstNcfmTrainArch;

typedef struct {
  GstNcfmTrainArch arch;
  guint depth, width, num_classes, progress_every;
  NcfmNorm norm;
  gchar *init_weights, *teacher, *location, *init_location;
  NcfmOptimizerKind optimizer;
  gfloat lr, momentum, weight_decay, cutmix;
  NcfmSchedule schedule;
  guint64 steps, seed;
} GstNcfmTrainSettings;

/* Property ids 1 .. GST_NCFM_TRAIN_SETTINGS_N_PROPS are the settings'. */
#define GST_NCFM_TRAIN_SETTINGS_N_PROPS 18

void gst_ncfm_train_settings_install (GObjectClass *klass);
void gst_ncfm_train_settings_init (GstNcfmTrainSettings *s);
void gst_ncfm_train_settings_clear (GstNcfmTrainSettings *s);
void gst_ncfm_train_settings_copy (GstNcfmTrainSettings *dst, const GstNcfmTrainSettings *src);
void gst_ncfm_train_settings_set (GstNcfmTrainSettings *s, guint prop_id, const GValue *value);
void gst_ncfm_train_settings_get (const GstNcfmTrainSettings *s, guint prop_id, GValue *value);

gfloat gst_ncfm_train_settings_get_lr (const GstNcfmTrainSettings *s);
guint gst_ncfm_train_settings_get_depth (const GstNcfmTrainSettings *s);
guint gst_ncfm_train_settings_get_width (const GstNcfmTrainSettings *s);
const gchar *gst_ncfm_train_settings_get_arch_name (const GstNcfmTrainSettings *s);
const gchar *gst_ncfm_train_optimizer_nick (NcfmOptimizerKind kind);
const gchar *gst_ncfm_train_schedule_nick (NcfmSchedule schedule);

G_END_DECLS
#endif
