#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The measured result of distilling from an unlabeled video (docs/results.md), end to end:
#   pipelines/live-experiment.sh [OUT]            (default OUT: live-out/ in the checkout)
#   1. splits Fashion-MNIST's train split (shuffled, seed LIVE_SEED) in two disjoint
#      halves (pipelines/split-video-frames.py): the labeller's half, and the video's;
#   2. encodes the video's frames with VP8 (near lossless, WebM, LIVE_FPS frames/s):
#      the video carries no labels;
#   3. trains on the labeller's half only: the demo's pool, and the labeller (one
#      ConvNet-3 w64, AdamW, LIVE_LABELLER_EPOCHS epochs); tests it on the test split and
#      on the video's frames (both held out from it);
#   4. distils the video as a live camera would be: filesrc ! decodebin ! clocksync (the
#      frames at LIVE_FPS) ! ncfmtensorize unlabeled=true ! ncfmlabel (min-confidence
#      LIVE_MIN_CONFIDENCE) ! ncfmgather (a class's batch after LIVE_MIN_NEW new frames)
#      ! the demo's chain (pool, IPC 10, Gaussian frequencies, batches of 128);
#   5. the same frames with their true labels through ncfmdatasetsrc, for the same number
#      of class steps as step 4 took, the rest equal (both sets start from the same real
#      images of the labeller's half: no true label of a video frame reaches step 4);
#   6. a random real subset of the video's frames (IPC 10, true labels);
#   7. evaluates the three sets with the demo's reduced protocol (evaluate.sh, ConvNet-3
#      w128, LIVE_EVAL_EPOCHS epochs, 1 repeat, the real test split) and prints the rows.
# Knobs (environment): LIVE_DATASET (default Debian's Fashion-MNIST; an idx directory or
# an ImageFolder root with train/ and test/, e.g. CIFAR-10 as JPEG: its video is RGB),
# LIVE_FRAMES (0: the whole half), LIVE_FPS, LIVE_MIN_NEW, LIVE_MIN_CONFIDENCE,
# LIVE_LABELLER_EPOCHS, LIVE_POOL_MEMBERS, LIVE_POOL_SUBSET, LIVE_EVAL_EPOCHS, LIVE_SEED,
# NCFM_BUILD_DIR (default build-release, as the demo).
set -euo pipefail
t_start=$(date +%s)
out_arg=${1:-}
set --  # setup.sh takes its arguments as extra packages
source "$(dirname "$0")/setup.sh"
build=${NCFM_BUILD_DIR:-$ncfm_root/build-release}
ncfm_build_dir "$build" --buildtype=release
export GST_PLUGIN_PATH=$build/plugins/elements
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

dataset=${LIVE_DATASET:-/usr/share/datasets/fashion-mnist}
out=${out_arg:-$ncfm_root/live-out}
mkdir -p "$out" && out=$(cd "$out" && pwd)
frames=${LIVE_FRAMES:-0}
fps=${LIVE_FPS:-100}
min_new=${LIVE_MIN_NEW:-12}
min_conf=${LIVE_MIN_CONFIDENCE:-0.7}
labeller_epochs=${LIVE_LABELLER_EPOCHS:-3}
eval_epochs=${LIVE_EVAL_EPOCHS:-300}
seed=${LIVE_SEED:-0}
pool_members=${LIVE_POOL_MEMBERS:-2}
pool_subset=${LIVE_POOL_SUBSET:-12000}
# an ImageFolder root of 32x32 JPEGs (train/CLASS/IMAGE: CIFAR-10) gives an RGB video; an
# idx directory a GRAY8 video of 28x28 (Fashion-MNIST, MNIST).  The trees keep the root's
# name, from which ncfmdatasetsrc takes the mean/std that ncfmtensorize's preset matches.
if [ -d "$dataset/train" ]; then
  name=$(basename "$dataset") channels=3 side=32 preset=cifar10
else
  name=fashion channels=1 side=28 preset=fashion-mnist
fi
labelled=$out/$name-labeller frames_set=$out/$name-frames
# the demo's distillation settings (pipelines/demo.sh, docs/results.md)
width=64 real_batch=128 freqs=1024 ipc=10
pipelines=$ncfm_root/pipelines

die() {
  echo "live-experiment.sh: error: $*" >&2
  exit 1
}
stage() {
  stage_start=$(date +%s)
  printf '\n== %s (at %s s)\n' "$*" "$((stage_start - t_start))"
}
[ -e "$dataset" ] || die "no dataset at $dataset (LIVE_DATASET)"
[ "$channels" = 1 ] || [[ ${name,,} =~ ^cifar-?10 ]] ||
  die "LIVE_DATASET $dataset: an ImageFolder is taken for CIFAR-10 only (its name begins" \
    "with cifar10: its mean/std)"
took() {
  echo "$(($(date +%s) - stage_start)) s"
}
# field LOG MESSAGE FIELD: FIELD of the last element message MESSAGE in gst-launch -m's LOG
field() {
  sed -n "s/^Got message #[0-9]* from element \"[^\"]*\" (element): $2, \(.*\);\$/, \1/p" "$1" |
    tail -n 1 | sed -n "s/.*, $3=([a-z0-9]*)\([^,;]*\).*/\1/p"
}
# top1 WEIGHTS SPLIT_DIR SPLIT: the model's top-1 accuracy (%) on a dataset split
top1() {
  gst-launch-1.0 -m ncfmdatasetsrc location="$2" split="$3" mode=mixed batch-size=500 \
    shuffle=false ! ncfmevaluate weights="$1" silent=true > "$out/evaluate.log" 2>&1 \
    || die "testing $1 on $2: $(tail -n 3 "$out/evaluate.log")"
  printf '%.2f' "$(field "$out/evaluate.log" ncfm-accuracy top1)"
}
# distil LOG SYNSET SOURCE...: the demo's distillation chain after the given source
distil() {
  local log=$1 synset=$2
  shift 2
  rm -f "$synset"
  gst-launch-1.0 -m "$@" ! \
    ncfmaugment strategy=color_crop_cutout ! \
    ncfmconvnet width="$width" pool="$out/pool" ! \
    ncfmcf num-freqs="$freqs" sampler=gaussian ! \
    ncfmdistill location="$synset" dataset="$labelled" ipc="$ipc" factor=1 \
      init=real lr=0.01 > "$log" 2>&1 || die "distilling into $synset: $(tail -n 3 "$log")"
  [ -f "$synset" ] || die "no set at $synset: $(tail -n 3 "$log")"
}

stage "1/7 two disjoint halves of the train split (seed $seed)"
rm -rf "$labelled" "$frames_set" "$out/frames"
python3 "$pipelines/split-video-frames.py" "$dataset" "$out" --frames "$frames" --seed "$seed" \
  --name "$name"
if [ "$channels" = 1 ]; then
  n_frames=$(($(stat -c %s "$out/frames.gray") / 784))
  video_in=(filesrc location="$out/frames.gray" ! \
    rawvideoparse format=gray8 width=28 height=28 framerate="$fps/1")
else
  # the frames are links to the images in video order; VP8 takes I420 only, so the
  # video keeps the colour at half resolution (the images' JPEG mostly is 4:2:0 already)
  n_frames=$(find "$out/frames" -type l | wc -l)
  [ -L "$out/frames/000000.jpg" ] || die "LIVE_DATASET $dataset: the video is made of JPEGs only"
  video_in=(multifilesrc location="$out/frames/%06d.jpg" index=0 stop-index=$((n_frames - 1)) \
    caps="image/jpeg,framerate=$fps/1" ! jpegdec ! videoscale ! \
    "video/x-raw,width=$side,height=$side")
fi

stage "2/7 the video: $n_frames frames, VP8 in WebM at $fps frames/s, no labels"
gst-launch-1.0 -q "${video_in[@]}" ! videoconvert ! video/x-raw,format=I420 ! \
  vp8enc deadline=1 min-quantizer=0 max-quantizer=4 target-bitrate=4000000 \
    keyframe-max-dist=300 ! webmmux ! filesink location="$out/frames.webm"
rm -f "$out/frames.gray"
rm -rf "$out/frames"
echo "  $out/frames.webm: $(stat -c %s "$out/frames.webm") bytes, $(took)"

stage "3/7 the pool and the labeller, trained on the labeller's half only"
"$pipelines/pretrain-pool.sh" "$labelled" "$pool_members" 1 "$out/pool" \
  --train-subset "$pool_subset" --width "$width"
# the labeller without augmentation: 2 epochs with the pool's DSA + CutMix gave 83.5 %
# on the test split, and a model-labelled set 3.1 points below the true-labelled one
labeller=$out/labeller.safetensors
gst-launch-1.0 -q ncfmdatasetsrc location="$labelled" mode=mixed batch-size=128 \
    epochs="$labeller_epochs" seed=0 ! \
  ncfmtrain depth=3 width="$width" optimizer=adamw schedule=pool seed=0 location="$labeller" \
  || die "training the labeller failed"
labeller_test=$(top1 "$labeller" "$dataset" test)
labeller_frames=$(top1 "$labeller" "$frames_set" train)
echo "  labeller (ConvNet-3 w$width, $labeller_epochs epochs on the labeller's half):" \
  "top-1 $labeller_test % on the test split, $labeller_frames % on the video's frames ($(took))"

stage "4/7 distilling the video with the model's labels"
live_start=$(date +%s)
distil "$out/model.log" "$out/model.safetensors" \
  filesrc location="$out/frames.webm" ! decodebin ! videoconvert ! clocksync ! \
  ncfmtensorize unlabeled=true classes=10 width="$side" height="$side" channels="$channels" \
    dataset="$preset" batch-size=16 ! \
  ncfmlabel weights="$labeller" min-confidence="$min_conf" ! \
  ncfmgather batch-size="$real_batch" capacity=4096 min-new="$min_new"
live_time=$(took)
steps=$(field "$out/model.log" ncfm-gather batches)
kept=$(field "$out/model.log" ncfm-label kept)
dropped=$(field "$out/model.log" ncfm-label dropped)
[ -n "$steps" ] && [ -n "$kept" ] || die "no ncfm-gather/ncfm-label counts in $out/model.log"
kept_share=$(awk -v k="$kept" -v d="$dropped" 'BEGIN { printf "%.1f", 100 * k / (k + d) }')
echo "  $steps class steps in $live_time; kept $kept of $((kept + dropped)) frames" \
  "($kept_share %); realtime factor $(field "$out/model.log" ncfm-gather realtime-factor)," \
  "while busy $(field "$out/model.log" ncfm-gather while-busy)"

stage "5/7 the same frames with their true labels: $steps class steps"
distil "$out/true.log" "$out/true.safetensors" \
  ncfmdatasetsrc location="$frames_set" mode=per-class batch-size="$real_batch" \
    epochs=0 num-buffers="$steps"
true_time=$(took)
echo "  $true_time"

stage "6/7 a random real subset of the video's frames, IPC $ipc"
rm -f "$out/random.safetensors"
gst-launch-1.0 -q \
  ncfmdatasetsrc location="$frames_set" mode=per-class batch-size=16 epochs=1 ! \
  ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=16 ! \
  ncfmdistill location="$out/random.safetensors" dataset="$frames_set" ipc="$ipc" \
    factor=1 init=real lr=0 weight-decay=0 seed=1
[ -f "$out/random.safetensors" ] || die "the random subset failed"

stage "7/7 evaluating the three sets ($eval_epochs epochs, 1 repeat)"
declare -A acc
for set in model true random; do
  # its lines shown as they come (tee -a /dev/stderr would write over a redirected log)
  line=$("$pipelines/evaluate.sh" "$out/$set.safetensors" --epochs "$eval_epochs" \
    --repeats 1 --dataset-dir "$dataset" | tee >(cat >&2) | tail -n 1)
  acc[$set]=$(sed -n 's/.*top-1 \([0-9.]*\) +-.*/\1/p' <<< "$line")
done

printf '\n== done (%s s in all)\n' "$(($(date +%s) - t_start))"
echo "labeller: $labeller_test % on the test split, $labeller_frames % on the video's frames;" \
  "min-confidence $min_conf kept $kept_share % of $n_frames frames"
echo "model-labelled video, $steps class steps ($live_time): top-1 ${acc[model]} %"
echo "true labels, same frames, $steps class steps ($true_time): top-1 ${acc[true]} %"
echo "random real subset of the frames: top-1 ${acc[random]} %"
echo "[reduced protocol ($eval_epochs epochs, 1 repeat)]"
