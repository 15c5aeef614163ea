#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pipelines/evaluate.sh on a tiny synthetic set (distilled here from the blobs dataset with
# multi-formation factor 2), with a reduced protocol; then its error messages.
#   evaluate-test.sh MAKE_BLOBS PIPELINES_DIR
set -euo pipefail
make_blobs=$1
evaluate=$2/evaluate.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-evaluate-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$make_blobs" idx "$tmp/blobs" 10 200 100
gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" batch-size=20 epochs=2 ! ncfmaugment ! \
  ncfmconvnet depth=2 width=8 ! ncfmcf num-freqs=64 ! \
  ncfmdistill location="$tmp/synset.safetensors" dataset="$tmp/blobs" ipc=2 factor=2 init=real

out=$("$evaluate" "$tmp/synset.safetensors" --epochs 3 --repeats 2 --dataset-dir "$tmp/blobs" \
  2> "$tmp/progress.txt")
echo "$out"
cat "$tmp/progress.txt"
# progress on stderr: one line per ncfm-train message (progress-every 1 at 3 epochs)
for r in 1 2; do
  for s in 1 2 3; do
    grep -qE "^  training repeat $r/2 on synset.safetensors: step $s/3 \(epoch $s\), loss [0-9.]+, training accuracy [0-9.]+ %\$" \
      "$tmp/progress.txt" || fail "no progress line for step $s of repeat $r"
  done
done
[ "$(grep -c 'step' "$tmp/progress.txt")" -eq 6 ] || fail "progress lines besides the trainings"
[ "$(echo "$out" | wc -l)" -eq 3 ] || fail "expected 3 lines"
while read -r line; do
  [[ $line == "[reduced protocol (3 epochs, 2 repeats)] "* ]] || fail "untagged line: $line"
done <<< "$out"
a=$(echo "$out" | sed -n 's/.*repeat 1\/2: top-1 \([0-9.]*\) %.*/\1/p')
b=$(echo "$out" | sed -n 's/.*repeat 2\/2: top-1 \([0-9.]*\) %.*/\1/p')
if [ -z "$a" ] || [ -z "$b" ]; then
  fail "no repeat lines"
fi
want=$(awk -v a="$a" -v b="$b" 'BEGIN { m = (a + b) / 2; d = a - m; printf "%.2f +- %.2f", m, (d < 0 ? -d : d) }')
echo "$out" | grep -qF "synset.safetensors: top-1 $want % over 2 repeats" \
  || fail "mean line is not '$want'"

# the soft-label variant says so on every line
gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" mode=mixed batch-size=50 ! \
  ncfmtrain depth=2 width=8 location="$tmp/teacher.safetensors"
soft=$("$evaluate" "$tmp/synset.safetensors" --epochs 1 --repeats 1 --dataset-dir "$tmp/blobs" \
  --teacher "$tmp/teacher.safetensors")
echo "$soft"
[ "$(echo "$soft" | grep -c "soft labels from $tmp/teacher.safetensors")" -eq 2 ] \
  || fail "the soft-label lines do not say so"

# errors: a clear message and a non-zero exit, before any training
expect_error() {
  local needle=$1 err
  shift
  if err=$("$evaluate" --epochs 1 --repeats 1 "$@" 2>&1 >/dev/null); then
    fail "no error for $*"
  fi
  # A known, unexplained race (about 1 run in 10 under the parallel suite): the run
  # fails with a generic message (the source's "Internal data stream error.", or
  # ncfmevaluate's "No test images reached ...") instead of the element's own. One
  # retry keeps the check strict about the message while the cause is open.
  if [[ $err == *"failed: Internal data stream error."* \
      || $err == *"failed: No test images reached ncfmevaluate"* ]]; then
    echo "retrying after a generic error: $err"
    if err=$("$evaluate" --epochs 1 --repeats 1 "$@" 2>&1 >/dev/null); then
      fail "no error for $* (retry)"
    fi
  fi
  echo "$err"
  echo "$err" | grep -qF -- "$needle" || fail "'$needle' not in: $err"
}
expect_error "no synthetic set at $tmp/none.safetensors" "$tmp/none.safetensors" \
  --dataset-dir "$tmp/blobs"
"$make_blobs" idx "$tmp/train-only" 10 50 0
expect_error "$tmp/train-only" "$tmp/synset.safetensors" --dataset-dir "$tmp/train-only"
"$make_blobs" synset "$tmp/five.safetensors" 5 2
expect_error "The synthetic set has 5 classes but the stream has 10" "$tmp/five.safetensors" \
  --dataset-dir "$tmp/blobs"
expect_error "--epochs must be a positive integer" "$tmp/synset.safetensors" --epochs x
# no plugin: gst-launch's own reason, not a silent exit (set -e used to end it unsaid)
mkdir "$tmp/no-plugins"
if err=$(GST_PLUGIN_PATH="$tmp/no-plugins" GST_PLUGIN_PATH_1_0="$tmp/no-plugins" GST_PLUGIN_SYSTEM_PATH_1_0="$tmp/no-plugins" \
    GST_REGISTRY_1_0="$tmp/no-plugins/registry.bin" \
    "$evaluate" "$tmp/synset.safetensors" --epochs 1 --repeats 1 --dataset-dir "$tmp/blobs" 2>&1); then
  fail "no error without the ncfm plugin"
fi
echo "$err"
echo "$err" | grep -qF 'no element "ncfmdatasetsrc"' || fail "no reason without the plugin: $err"
echo "ok"
