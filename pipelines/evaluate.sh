#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The evaluation protocol of a synthetic set (method card section 7), as gst-launch lines:
#   pipelines/evaluate.sh SYNSET [--preset P] [--epochs E] [--repeats R] [--dataset-dir D]
#                                [--teacher W] [--depth N]
# For each repeat r: a fresh ConvNet-3 (width 128, instance norm, seed r) trained on the
# decoded synthetic set (multi-formation tiles included) with AdamW lr 0.001, batch 128,
# E epochs, lr halved at 20/40/60/80 %, per-sample DSA and CutMix (p 0.5); then its top-1
# accuracy on the test split of the real dataset.  Prints each repeat and `mean +- std`
# (the population std over repeats, as numpy.std).
# SYNSET      a synthetic set written by ncfmdistill (.safetensors)
# --epochs    training epochs over the synthetic set (default 1000; the method card quotes
#             2000 for CIFAR-10 IPC10 and no table for other settings)
# --repeats   fresh networks trained and tested (default 5)
# --dataset-dir  the real dataset whose test split is used (default: Debian's Fashion-MNIST)
# --teacher   soft labels from this trained model's softmax (a separate, labelled variant)
# --depth     ConvNet depth (default 3, for 28x28 / 32x32 images; 4 for 64x64)
# --preset    the evaluation of a preset of pipelines/presets.sh (e.g. cifar10-ipc10: 2000
#             epochs; tinyimagenet-*: depth 4); options after it override it
# Fewer epochs or repeats than the defaults run a reduced protocol, and every line says so.
# Extra gst-launch options can be passed in GST_LAUNCH_OPTS; NCFM_DEVICE picks the device.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$root/build/plugins/elements}
readonly protocol_epochs=1000 protocol_repeats=5

die() {
  echo "evaluate.sh: error: $*" >&2
  exit 1
}
usage() {
  sed -n '3,4p' "$0" | sed 's/^# *//' >&2
  exit 2
}

synset="" epochs=$protocol_epochs repeats=$protocol_repeats depth=3
dataset=/usr/share/datasets/fashion-mnist teacher=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=${2:?}; shift 2 ;;
    --repeats) repeats=${2:?}; shift 2 ;;
    --dataset-dir) dataset=${2:?}; shift 2 ;;
    --teacher) teacher=${2:?}; shift 2 ;;
    --depth) depth=${2:?}; shift 2 ;;
    --preset)
      # shellcheck source=presets.sh
      . "$root/pipelines/presets.sh"
      ncfm_preset "${2:?}" || exit 2
      epochs=$preset_eval_epochs depth=$preset_depth
      [ -z "$preset_dataset" ] || dataset=$preset_dataset
      echo "preset $2: $epochs epochs ($preset_eval_note), depth $depth" >&2
      shift 2 ;;
    -h|--help) usage ;;
    -*) echo "evaluate.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$synset" ] || usage; synset=$1; shift ;;
  esac
done
[ -n "$synset" ] || usage
for v in epochs repeats depth; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer, not '${!v}'"
done
[ -f "$synset" ] || die "no synthetic set at $synset"
[ -e "$dataset" ] || die "no dataset at $dataset (--dataset-dir)"
[ -z "$teacher" ] || [ -f "$teacher" ] || die "no teacher weights at $teacher (--teacher)"

tag=""
if [ "$epochs" -lt $protocol_epochs ] || [ "$repeats" -lt $protocol_repeats ]; then
  tag="[reduced protocol ($epochs epochs, $repeats repeats)] "
fi
say() {
  echo "$tag$*"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-evaluate-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs one gst-launch line with -m, its output (messages included) in $work/launch.log;
# with $progress set, ncfm-train messages become a progress line on stderr headed by it
# (rewritten in place on a terminal).  On failure prints its error (the element's
# message) and exits.
launch() {
  local what=$1 tty=0
  shift
  [ -t 2 ] && tty=1
  # shellcheck disable=SC2086
  if ! gst-launch-1.0 -m ${GST_LAUNCH_OPTS:-} "$@" 2>&1 | tee "$work/launch.log" |
      show_progress "${progress:-}" "$tty"; then
    local err
    # the element's own message, not the source's "Internal data stream error" that
    # follows it when both were printed
    # (|| true: a log without any element error, e.g. gst-launch's "no element", must
    # still reach the message below instead of ending the script under set -e)
    err=$(sed -n 's/^ERROR: from element [^ ]*: //p' "$work/launch.log" |
      { grep -v '^Internal data stream error' || true; } | head -n 1)
    [ -n "$err" ] || err=$(sed -n 's/^ERROR: from element [^ ]*: //p' "$work/launch.log" | head -n 1)
    # the preflight's model stands for the synthetic set
    err=${err//"The model of $work/probe.safetensors (property weights)"/"The synthetic set"}
    die "$what failed: ${err:-$(tail -n 3 "$work/launch.log")}"
  fi
}

# show_progress WHAT TTY: gst-launch -m's output on stdin, a line per ncfm-train message
# on stderr (none if WHAT is empty).  field() reads one field of a message's structure: string values escape
# ", " as "\,\ ", so ", NAME=(" cannot start inside another field's value.
show_progress() {
  awk -v what="$1" -v tty="$2" '
    function field(line, name,   v) {
      if (!match(line, ", " name "=\\([a-z0-9]+\\)[^,;]*"))
        return ""
      v = substr(line, RSTART, RLENGTH); sub(/^[^)]*\)/, "", v)
      return v
    }
    what != "" && /^Got message #[0-9]* from element "[^"]*" \(element\): ncfm-train, / {
      printf "%s  %s: step %d/%d (epoch %d), loss %.3f, training accuracy %.1f %%%s", \
        (tty ? "\r" : ""), what, field($0, "step"), field($0, "steps"), field($0, "epoch") + 1, \
        field($0, "loss"), field($0, "accuracy"), (tty ? "" : "\n") > "/dev/stderr"
      shown = 1
    }
    END { if (tty && shown) printf "\n" > "/dev/stderr" }'
}

# message_field NAME FIELD: FIELD of the last element message NAME in $work/launch.log
message_field() {
  sed -n "s/^Got message #[0-9]* from element \"[^\"]*\" (element): $1, \(.*\);\$/, \1/p" \
    "$work/launch.log" | tail -n 1 | sed -n "s/.*, $2=([a-z0-9]*)\([^,;]*\).*/\1/p"
}

model_props=(depth="$depth" width=128 norm=instancenorm)
[ -z "$teacher" ] || model_props+=(teacher="$teacher")
variant="ConvNet-$depth w128 instancenorm, AdamW lr 0.001, batch 128, $epochs epochs, DSA + CutMix"
soft=""
[ -z "$teacher" ] || soft=", soft labels from $teacher"
variant="$variant$soft"

# A preflight of one batch each: a missing test split, or a synthetic set of other classes
# or image shape than the test split, fails here in seconds instead of after a training.
launch "reading the synthetic set $synset" \
  ncfmdatasetsrc location="$synset" mode=mixed batch-size=128 num-buffers=1 ! \
  ncfmtrain "${model_props[@]}" progress-every=0 init-location="$work/probe.safetensors"
launch "checking the test split of $dataset against $synset" \
  ncfmdatasetsrc location="$dataset" split=test mode=mixed batch-size=128 num-buffers=1 ! \
  ncfmevaluate weights="$work/probe.safetensors" silent=true

# a progress line about every 5 % of each training
progress_every=$((epochs >= 20 ? epochs / 20 : 1))
accs=()
for r in $(seq 1 "$repeats"); do
  start=$(date +%s)
  progress="training repeat $r/$repeats on $(basename "$synset")" launch \
    "training repeat $r on $synset" \
    ncfmdatasetsrc location="$synset" mode=mixed batch-size=128 epochs="$epochs" seed="$r" ! \
    ncfmaugment mode=per-sample strategy=color_crop_cutout_flip_scale_rotate seed="$r" ! \
    ncfmtrain "${model_props[@]}" optimizer=adamw schedule=evaluation cutmix=0.5 \
    seed="$r" progress-every="$progress_every" location="$work/model$r.safetensors"
  echo "  testing repeat $r/$repeats on the test split of $dataset" >&2
  launch "testing repeat $r on $dataset" \
    ncfmdatasetsrc location="$dataset" split=test mode=mixed batch-size=500 shuffle=false ! \
    ncfmevaluate weights="$work/model$r.safetensors" label="repeat $r/$repeats" silent=true
  # the accuracy from the ncfm-accuracy message (not from printed text)
  top1=$(message_field ncfm-accuracy top1)
  top5=$(message_field ncfm-accuracy top5)
  [ -n "$top1" ] && [ -n "$top5" ] \
    || die "no ncfm-accuracy message from ncfmevaluate: $(tail -n 3 "$work/launch.log")"
  top1=$(printf '%.2f' "$top1") top5=$(printf '%.2f' "$top5")
  accs+=("$top1")
  say "repeat $r/$repeats: top-1 $top1 %, top-5 $top5 % ($(($(date +%s) - start)) s$soft)"
done
stats=$(printf '%s\n' "${accs[@]}" | awk '{ s += $1; q += $1 * $1; n++ }
  END { m = s / n; v = q / n - m * m; printf "%.2f +- %.2f", m, (v > 0 ? sqrt(v) : 0) }')
say "$(basename "$synset"): top-1 $stats % over $repeats repeats ($variant)"
