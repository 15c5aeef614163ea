#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Distils a dataset into a synthetic set with one gst-launch line:
#   pipelines/distill.sh [DATASET] [IPC] [ITERATIONS] [EXTRACTOR] [OUT]
#   pipelines/distill.sh --preset P [--iterations N] [--extractor E] [--pool DIR] [--dry-run]
#                        [DATASET] [OUT]
# DATASET     dataset location (default: Debian's Fashion-MNIST, or the preset's)
# IPC         synthetic images per class (default 10)
# ITERATIONS  rounds over the classes: one per-class batch of every class each (default 100)
# EXTRACTOR   the feature extractor element (default ncfmconvnet; swapping it is one word)
# OUT         the synthetic set (default synset.safetensors; an existing one is resumed)
# --preset P  the authors' settings for a dataset x IPC (pipelines/presets.sh; e.g.
#             cifar10-ipc10): 1024 real images and 4096 Gaussian frequencies per class step,
#             factor 2, init mix, image lr 0.01, calibration through a pool of 20 ConvNets
#             pretrained for 60 epochs (pretrained first into --pool DIR, default
#             pool-DATASET beside OUT, unless it holds them), 20000 iterations.  Prints the
#             CPU time estimate first.  --iterations runs fewer (a reduced budget, said so)
# --dry-run   print the estimate and the commands, run nothing
# Extra gst-launch options can be passed in GST_LAUNCH_OPTS (e.g. -m for the progress messages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins/elements}

usage() {
  sed -n '3,6p' "$0" | sed 's/^# *//' >&2
  exit 2
}

preset="" pool="" dry_run=0 p_iterations="" p_extractor=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=${2:?}; shift 2 ;;
    --pool) pool=${2:?}; shift 2 ;;
    --iterations) p_iterations=${2:?}; shift 2 ;;
    --extractor) p_extractor=${2:?}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage ;;
    -*) echo "distill.sh: unknown option $1" >&2; usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -le 5 ] || usage
if [ -z "$preset" ] && { [ -n "$pool$p_iterations$p_extractor" ] || [ "$dry_run" = 1 ]; }; then
  echo "distill.sh: --pool, --iterations, --extractor and --dry-run go with --preset" >&2
  usage
fi

if [ -z "$preset" ]; then
  dataset=${args[0]:-/usr/share/datasets/fashion-mnist}
  ipc=${args[1]:-10}
  iterations=${args[2]:-100}
  extractor=${args[3]:-ncfmconvnet}
  out=${args[4]:-synset.safetensors}
  # shellcheck disable=SC2086
  exec gst-launch-1.0 ${GST_LAUNCH_OPTS:-} \
    ncfmdatasetsrc location="$dataset" mode=per-class batch-size=256 epochs="$iterations" ! \
    ncfmaugment strategy=color_crop_cutout ! \
    "$extractor" ! \
    ncfmcf num-freqs=4096 ! \
    ncfmdistill location="$out" dataset="$dataset" ipc="$ipc" init=mix
fi

# shellcheck source=presets.sh
. "$root/pipelines/presets.sh"
ncfm_preset "$preset" || exit 2
[ ${#args[@]} -le 2 ] || { echo "distill.sh: with --preset, only DATASET and OUT are" \
  "positional" >&2; usage; }
dataset=${args[0]:-$preset_dataset}
[ -n "$dataset" ] || { echo "distill.sh: preset $preset needs a DATASET (the" \
  "${preset%-ipc*} train set: a CIFAR binary directory or an ImageFolder tree)" >&2; exit 2; }
ipc=$preset_ipc
iterations=${p_iterations:-$preset_iterations}
extractor=${p_extractor:-ncfmconvnet}
out=${args[1]:-synset.safetensors}
pool=${pool:-$(dirname "$out")/pool-${preset%-ipc*}}
[[ $iterations =~ ^[1-9][0-9]*$ ]] || { echo "distill.sh: --iterations must be a positive" \
  "integer, not '$iterations'" >&2; exit 2; }
model=()
[ "$extractor" != ncfmconvnet ] || model=(depth="$preset_depth")

echo "preset $preset: IPC $ipc, $iterations iterations, $preset_batch real images and" \
  "$preset_freqs Gaussian frequencies per class step, factor $preset_factor, calibration" \
  "$preset_calib, image lr $preset_lr"
iterations_preset=$preset_iterations preset_iterations=$iterations
echo "estimate: $(ncfm_preset_estimate) for the distillation; the pool," \
  "$preset_pool_members members x $preset_pool_epochs epochs, about" \
  "$(ncfm_preset_pool_estimate) more unless $pool holds it (a model: pipelines/presets.sh)"
[ "$iterations" = "$iterations_preset" ] || echo "a reduced budget: $iterations iterations" \
  "instead of the preset's $iterations_preset"

pretrain=("$root/pipelines/pretrain-pool.sh" "$dataset" "$preset_pool_members"
  "$preset_pool_epochs" "$pool" --depth "$preset_depth")
# shellcheck disable=SC2206
line=(gst-launch-1.0 ${GST_LAUNCH_OPTS:-}
  ncfmdatasetsrc location="$dataset" mode=per-class batch-size="$preset_batch"
    epochs="$iterations" !
  ncfmaugment strategy=color_crop_cutout !
  "$extractor" "${model[@]}" pool="$pool" !
  ncfmcf num-freqs="$preset_freqs" sampler=gaussian !
  ncfmdistill location="$out" dataset="$dataset" ipc="$ipc" factor="$preset_factor" init=mix
    lr="$preset_lr" calib="$preset_calib")
if [ "$dry_run" = 1 ]; then
  printf '%q ' "${pretrain[@]}"; echo
  printf '%q ' "${line[@]}"; echo
  exit 0
fi
"${pretrain[@]}"
exec "${line[@]}"
