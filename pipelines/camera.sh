#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Distils what a camera, a video file or a network stream shows into a synthetic set:
#   pipelines/camera.sh [--roi] [--detector ELEMENTS] [--labels-from WEIGHTS] \
#     SOURCE LABEL [DATASET] [IPC] [OUT]
# SOURCE   a V4L2 camera (/dev/video0), a video file (anything decodebin plays) or a
#          URI (rtsp://..., anything uridecodebin plays)
# LABEL    the class of everything in the frames: a class id or a class name of
#          DATASET; - with --roi or --labels-from, where the labels come from elsewhere
# --roi    samples are the regions of interest attached to the frames
#          (GstVideoRegionOfInterestMeta), labelled by their type as a class name of
#          DATASET, or by the model of --labels-from; frames without one are dropped
# --detector ELEMENTS  a gst-launch fragment that attaches the regions, put behind the
#          decoder, e.g. 'facedetect min-size-width=40' (gstreamer1.0-opencv); implies --roi
# --labels-from WEIGHTS  each sample's class is the arg-max of this trained classifier
#          (an ncfmtrain output, a pool member, a converted PyTorch model), through
#          ncfmtensorize unlabeled=true ! ncfmlabel ! ncfmgather
# DATASET  the real dataset whose synthetic set is refined: it fixes the classes, the
#          image size and channels, the mean/std and the initial images
#          (default: Debian's Fashion-MNIST)
# IPC      synthetic images per class (default 10)
# OUT      the synthetic set (default camera-synset.safetensors; an existing one is
#          resumed, so runs with different labels fill one set)
# Environment: FRAMES (stop after this many frames; default: the whole file, or until
# Ctrl-C for a camera, which still saves), BATCH (frames per batch, default 64),
# MIN_CONFIDENCE (of --labels-from, default 0.5), EXTRACTOR (default ncfmconvnet),
# GST_LAUNCH_OPTS (e.g. -m for the progress messages), NCFM_BUILD_DIR (default: build),
# NCFM_PYTHON (default: /usr/bin/python3).
set -euo pipefail
usage="usage: $0 [--roi] [--detector ELEMENTS] [--labels-from WEIGHTS] SOURCE LABEL [DATASET] [IPC] [OUT]"
roi=false detector='' weights=''
while [ $# -gt 0 ]; do
  case $1 in
    --roi) roi=true; shift ;;
    --detector) detector=${2:?$usage}; roi=true; shift 2 ;;
    --labels-from) weights=${2:?$usage}; shift 2 ;;
    --) shift; break ;;
    -?*) echo "camera.sh: unknown option $1; $usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
src=${1:?$usage}
label=${2:?$usage}
dataset=${3:-/usr/share/datasets/fashion-mnist}
ipc=${4:-10}
out=${5:-camera-synset.safetensors}
if [ "$label" = - ] && [ $roi = false ] && [ -z "$weights" ]; then
  echo "camera.sh: LABEL - needs --roi or --labels-from, where the labels come from" >&2
  exit 2
fi
if [ "$label" != - ] && { [ $roi = true ] || [ -n "$weights" ]; }; then
  echo "camera.sh: with --roi or --labels-from the labels come from the regions or the" \
    "model: give - as LABEL, not $label" >&2
  exit 2
fi
if [ -n "$weights" ] && [ ! -f "$weights" ]; then
  echo "camera.sh: --labels-from $weights: no such file" >&2
  exit 2
fi

set --  # setup.sh takes extra packages as arguments: none
# shellcheck source=pipelines/setup.sh
source "$(dirname "$0")/setup.sh"
# shellcheck disable=SC2154  # ncfm_build comes from setup.sh
ncfm_build_dir "$ncfm_build"
export GST_PLUGIN_PATH=$ncfm_build/plugins/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}

# The dataset's geometry, normalisation and the label's class id (0 for -), through
# libncfm's GObject introspection: "W H C K ID MEAN STD", then the class names on a
# line of their own (a name may hold spaces).
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
if label == '-':
    class_id = 0
elif label.isdigit() and int(label) < k:
    class_id = int(label)
elif label.lower() in (n.lower() for n in names):
    class_id = [n.lower() for n in names].index(label.lower())
else:
    sys.exit(f'camera.sh: {label} is not a class of {location}: 0 .. {k - 1} or one of '
             + ', '.join(names))
floats = lambda get: ','.join('%.6g' % get(ch) for ch in range(c))
print(ds.get_width(), ds.get_height(), c, k, class_id, floats(ds.get_mean), floats(ds.get_std))
print(','.join(n.replace(',', ' ') for n in names))
EOF
)
{ read -r width height channels classes class_id mean std; read -r class_names; } <<<"$info"

# a camera or a network stream: the latest frames (a slow step drops frames rather
# than falling behind); a file: every frame, as fast as the distillation goes
if [ -c "$src" ]; then
  source_desc=(v4l2src device="$src" ! queue max-size-buffers=2 leaky=downstream)
elif [ -f "$src" ]; then
  source_desc=(filesrc location="$src" ! decodebin)
elif [[ $src == *://* ]]; then
  source_desc=(uridecodebin uri="$src" ! queue max-size-buffers=2 leaky=downstream)
else
  echo "camera.sh: $src is neither a V4L2 device, a file nor a URI" >&2
  exit 1
fi
[ -n "${FRAMES:-}" ] && source_desc+=(! identity eos-after="$FRAMES")

batch=${BATCH:-64}
tensorize=(ncfmtensorize classes="$classes" width="$width" height="$height"
  channels="$channels" mean="$mean" std="$std" batch-size="$batch")
if [ $roi = true ]; then
  # The regions at the frame's own size: a crop or a scale in front of ncfmtensorize
  # would lose the metas (aspectratiocrop) or shrink the regions; a frame without a
  # region gives no sample.
  frames=(videoconvert)
  # shellcheck disable=SC2206  # the detector's fragment is split into gst-launch words
  [ -n "$detector" ] && frames+=(! $detector ! videoconvert)
  tensorize+=(roi-only=true)
else
  # The centre of each frame at the dataset's aspect ratio, scaled to its size by
  # videoscale (filtered, unlike the bilinear resize in ncfmtensorize, which then has
  # nothing to do).
  # shellcheck disable=SC2054  # the commas are the caps string's
  frames=(videoconvert ! aspectratiocrop aspect-ratio="$width/$height" ! videoscale !
    video/x-raw,width="$width",height="$height")
fi
labelling=()
if [ -n "$weights" ]; then
  # classes from the model, then per-class batches drawn from a reservoir, so a live
  # source is never held up by the distiller
  tensorize+=(unlabeled=true)
  labelling=(! ncfmlabel weights="$weights" min-confidence="${MIN_CONFIDENCE:-0.5}"
    ! ncfmgather batch-size="$batch" capacity="$((4 * batch))" min-new="$(((batch + 1) / 2))")
  how="labels from $weights"
elif [ $roi = true ]; then
  tensorize+=(class-names="$class_names")
  how="regions labelled by their type"
else
  tensorize+=(label="$class_id")
  how="class $class_id"
fi

echo "camera.sh: $src, $how${detector:+, regions from $detector}, into $out" \
  "($dataset: ${width}x${height}x${channels}, $classes classes)" >&2
# -e: Ctrl-C ends the stream, so the last batch is used and the set saved.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e ${GST_LAUNCH_OPTS:-} \
  "${source_desc[@]}" ! "${frames[@]}" ! "${tensorize[@]}" "${labelling[@]}" ! \
  ncfmaugment strategy=color_crop_cutout ! \
  "${EXTRACTOR:-ncfmconvnet}" ! \
  ncfmcf num-freqs=4096 ! \
  ncfmdistill location="$out" dataset="$dataset" ipc="$ipc" init=mix
