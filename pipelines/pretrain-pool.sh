#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Pretrains the model pool of the distillation, one gst-launch line per member:
#   pipelines/pretrain-pool.sh DATASET K EPOCHS OUTDIR [--train-subset N] [--depth D]
#                              [--width W] [--norm NORM] [--test]
# Member k = 0 .. K-1 is a ConvNet seeded with k, trained on DATASET's train split in mixed
# shuffled batches of 128 with per-sample DSA, CutMix (p 0.5) and SGD (lr 0.01, momentum
# 0.9, weight decay 5e-4, lr x0.2 at 2/3 and 5/6 of the run), as the method card's pool;
# OUTDIR gets premodel{k}_init.safetensors (before the first step) and
# premodel{k}_trained.safetensors, the layout `ncfmconvnet pool=OUTDIR` reads.
# Members whose two files exist already are kept (remove them to retrain).
# --train-subset N  train on a fixed random subset of N images (a fast CPU demo)
# --depth, --width, --norm  the ConvNet (default 3, 128, instancenorm)
# --test            print each trained member's accuracy on the test split
# Extra gst-launch options can be passed in GST_LAUNCH_OPTS (e.g. -m for the ncfm-train
# progress messages); NCFM_DEVICE picks the device.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins/elements}

die() {
  echo "pretrain-pool.sh: error: $*" >&2
  exit 1
}
usage() {
  sed -n '3,5p' "$0" | sed 's/^# *//' >&2
  exit 2
}

[ $# -ge 4 ] || usage
dataset=$1 members=$2 epochs=$3 out=$4
shift 4
subset=0 depth=3 width=128 norm=instancenorm test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --train-subset) subset=${2:?}; shift 2 ;;
    --depth) depth=${2:?}; shift 2 ;;
    --width) width=${2:?}; shift 2 ;;
    --norm) norm=${2:?}; shift 2 ;;
    --test) test=1; shift ;;
    *) echo "pretrain-pool.sh: unknown option $1" >&2; usage ;;
  esac
done
for v in members epochs depth width; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v} must be a positive integer, not '${!v}'"
done
[[ $subset =~ ^[0-9]+$ ]] || die "--train-subset must be a number of images, not '$subset'"
[ -e "$dataset" ] || die "no dataset at $dataset"
mkdir -p "$out" || die "cannot create $out"

for k in $(seq 0 $((members - 1))); do
  init="$out/premodel${k}_init.safetensors" trained="$out/premodel${k}_trained.safetensors"
  if [ -f "$init" ] && [ -f "$trained" ]; then
    echo "premodel $k: kept ($trained exists)"
  else
    start=$(date +%s)
    # shellcheck disable=SC2086
    gst-launch-1.0 -q ${GST_LAUNCH_OPTS:-} \
      ncfmdatasetsrc location="$dataset" mode=mixed batch-size=128 epochs="$epochs" seed="$k" \
        max-images="$subset" ! \
      ncfmaugment mode=per-sample strategy=color_crop_cutout_flip_scale_rotate seed="$k" ! \
      ncfmtrain depth="$depth" width="$width" norm="$norm" optimizer=sgd schedule=pool \
        cutmix=0.5 seed="$k" init-location="$init" location="$trained" \
      || die "training premodel $k failed"
    echo "premodel $k: trained in $(($(date +%s) - start)) s"
  fi
  if [ "$test" = 1 ]; then
    gst-launch-1.0 -q ncfmdatasetsrc location="$dataset" split=test mode=mixed batch-size=500 \
      shuffle=false ! ncfmevaluate weights="$trained" label="premodel $k" \
      || die "testing premodel $k failed"
  fi
done
