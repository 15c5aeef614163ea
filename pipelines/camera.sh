#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Distils what a camera or a video file shows into the synthetic images of one class:
#   pipelines/camera.sh SOURCE LABEL [DATASET] [IPC] [OUT]
# SOURCE   a V4L2 camera (/dev/video0) or a video file (anything decodebin plays)
# LABEL    the class of everything in the frames: a class id or a class name of DATASET
# DATASET  the real dataset whose synthetic set is refined: it fixes the classes, the
#          image size and channels, the mean/std and the initial images
#          (default: Debian's Fashion-MNIST)
# IPC      synthetic images per class (default 10)
# OUT      the synthetic set (default camera-synset.safetensors; an existing one is
#          resumed, so runs with different labels fill one set)
# Environment: FRAMES (stop after this many frames; default: the whole file, or until
# Ctrl-C for a camera, which still saves), BATCH (frames per batch, default 64),
# EXTRACTOR (default ncfmconvnet), GST_LAUNCH_OPTS (e.g. -m for the progress messages),
# NCFM_BUILD_DIR (default: build), NCFM_PYTHON (default: /usr/bin/python3).
set -euo pipefail
usage="usage: $0 SOURCE LABEL [DATASET] [IPC] [OUT]"
src=${1:?$usage}
label=${2:?$usage}
dataset=${3:-/usr/share/datasets/fashion-mnist}
ipc=${4:-10}
out=${5:-camera-synset.safetensors}

set --  # setup.sh takes extra packages as arguments: none
# shellcheck source=pipelines/setup.sh
source "$(dirname "$0")/setup.sh"
# shellcheck disable=SC2154  # ncfm_build comes from setup.sh
ncfm_build_dir "$ncfm_build"
export GST_PLUGIN_PATH=$ncfm_build/plugins/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}

# The dataset's geometry, normalisation and the label's class id, through libncfm's
# GObject introspection: "W H C K ID MEAN STD".
info=$(GI_TYPELIB_PATH=$ncfm_build/plugins/libncfm \
  LD_LIBRARY_PATH=$ncfm_build/plugins/libncfm${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  "${NCFM_PYTHON:-/usr/bin/python3}" - "$dataset" "$label" <<'EOF'
import sys
import gi
gi.require_version('Ncfm', '1.0')
from gi.repository import GLib, Ncfm

location, label = sys.argv[1], sys.argv[2]
try:
    ds = Ncfm.Dataset.load(location, Ncfm.DatasetFormat.AUTO, 'train', 0,
                           Ncfm.DatasetFlags.NONE, None)
except GLib.Error as e:
    sys.exit(f'camera.sh: cannot read the dataset {location}: {e.message}')
k, c = ds.get_num_classes(), ds.get_channels()
names = [ds.get_class_name(i) or str(i) for i in range(k)]
if label.isdigit() and int(label) < k:
    class_id = int(label)
elif label.lower() in (n.lower() for n in names):
    class_id = [n.lower() for n in names].index(label.lower())
else:
    sys.exit(f'camera.sh: {label} is not a class of {location}: 0 .. {k - 1} or one of '
             + ', '.join(names))
floats = lambda get: ','.join('%.6g' % get(ch) for ch in range(c))
print(ds.get_width(), ds.get_height(), c, k, class_id, floats(ds.get_mean), floats(ds.get_std))
EOF
)
read -r width height channels classes class_id mean std <<<"$info"

# a camera: the latest frames (a slow step drops frames rather than falling behind);
# a file: every frame, as fast as the distillation goes
if [ -c "$src" ]; then
  source_desc=(v4l2src device="$src" ! queue max-size-buffers=2 leaky=downstream)
elif [ -f "$src" ]; then
  source_desc=(filesrc location="$src" ! decodebin)
else
  echo "camera.sh: $src is neither a V4L2 device nor a file" >&2
  exit 1
fi
[ -n "${FRAMES:-}" ] && source_desc+=(! identity eos-after="$FRAMES")

echo "camera.sh: $src as class $class_id of $dataset (${width}x${height}x${channels}," \
  "$classes classes) into $out" >&2
# The centre of each frame at the dataset's aspect ratio, scaled to its size by
# videoscale (filtered, unlike the bilinear resize in ncfmtensorize, which then has
# nothing to do); -e: Ctrl-C ends the stream, so the last batch is used and the set saved.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e ${GST_LAUNCH_OPTS:-} \
  "${source_desc[@]}" ! videoconvert ! \
  aspectratiocrop aspect-ratio="$width/$height" ! videoscale ! \
  video/x-raw,width="$width",height="$height" ! \
  ncfmtensorize label="$class_id" classes="$classes" width="$width" height="$height" \
    channels="$channels" mean="$mean" std="$std" batch-size="${BATCH:-64}" ! \
  ncfmaugment strategy=color_crop_cutout ! \
  "${EXTRACTOR:-ncfmconvnet}" ! \
  ncfmcf num-freqs=4096 ! \
  ncfmdistill location="$out" dataset="$dataset" ipc="$ipc" init=mix
