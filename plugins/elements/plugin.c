/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:plugin-ncfm
 *
 * Dataset distillation (NCFM) as GStreamer elements over libncfm-1.0.
 */
#include <gst/gst.h>

#include "gstncfmaugment.h"
#include "gstncfmcf.h"
#include "gstncfmconvnet.h"
#include "gstncfmresnet.h"
#include "gstncfmdatasetsrc.h"
#include "gstncfmdistill.h"
#include "gstncfmevaluate.h"
#include "gstncfmgather.h"
#include "gstncfmlabel.h"
#include "gstncfmtensorize.h"
#include "gstncfmtensormemory.h"
#include "gstncfmtrain.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;
  gst_ncfm_tensor_memory_init_once ();
  ret |= GST_ELEMENT_REGISTER (ncfmdatasetsrc, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmaugment, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmconvnet, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmresnet, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmcf, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmdistill, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmtrain, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmevaluate, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmtensorize, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmlabel, plugin);
  ret |= GST_ELEMENT_REGISTER (ncfmgather, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, ncfm,
    "Dataset distillation (NCFM) as GStreamer elements: data sources, augmentation, "
    "feature extractors, characteristic functions and the synthetic-set optimizer",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
