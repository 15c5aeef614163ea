#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Distils a dataset into a synthetic set with one gst-launch line:
#   pipelines/distill.sh [DATASET] [IPC] [ITERATIONS] [EXTRACTOR] [OUT]
# DATASET     dataset location (default: Debian's Fashion-MNIST)
# IPC         synthetic images per class (default 10)
# ITERATIONS  rounds over the classes: one per-class batch of every class each (default 100)
# EXTRACTOR   the feature extractor element (default ncfmconvnet; swapping it is one word)
# OUT         the synthetic set (default synset.safetensors; an existing one is resumed)
# Extra gst-launch options can be passed in GST_LAUNCH_OPTS (e.g. -m for the progress messages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dataset=${1:-/usr/share/datasets/fashion-mnist}
ipc=${2:-10}
iterations=${3:-100}
extractor=${4:-ncfmconvnet}
out=${5:-synset.safetensors}
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins/elements}
# shellcheck disable=SC2086
exec gst-launch-1.0 ${GST_LAUNCH_OPTS:-} \
  ncfmdatasetsrc location="$dataset" mode=per-class batch-size=256 epochs="$iterations" ! \
  ncfmaugment strategy=color_crop_cutout ! \
  "$extractor" ! \
  ncfmcf num-freqs=4096 ! \
  ncfmdistill location="$out" dataset="$dataset" ipc="$ipc" init=mix
