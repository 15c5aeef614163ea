#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pipelines/pretrain-pool.sh on the blobs dataset: a pool of two members on a 100-image
# subset, the files ncfmconvnet's pool property reads, and a distillation through it.
#   pretrain-pool-test.sh MAKE_BLOBS PIPELINES_DIR
set -euo pipefail
make_blobs=$1
pretrain=$2/pretrain-pool.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-pool-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$make_blobs" idx "$tmp/blobs" 10 200 100
out=$("$pretrain" "$tmp/blobs" 2 3 "$tmp/pool" --train-subset 100 --depth 2 --width 16 --test)
echo "$out"
for k in 0 1; do
  for f in init trained; do
    [ -f "$tmp/pool/premodel${k}_$f.safetensors" ] || fail "no premodel${k}_$f.safetensors"
  done
  cmp -s "$tmp/pool/premodel${k}_init.safetensors" "$tmp/pool/premodel${k}_trained.safetensors" \
    && fail "premodel $k did not train"
  # 100 images in batches of 128: one step per epoch
  head -c 4096 "$tmp/pool/premodel${k}_trained.safetensors" | grep -qa '"ncfm.train.step":"3"' \
    || fail "premodel $k did not take 3 steps (--train-subset)"
  acc=$(echo "$out" | sed -n "s/^ncfmevaluate: premodel $k: top-1 \([0-9]*\).*/\1/p")
  [ -n "$acc" ] || fail "no test accuracy for premodel $k"
done
cmp -s "$tmp/pool/premodel0_init.safetensors" "$tmp/pool/premodel1_init.safetensors" \
  && fail "the members share their initialisation"

# a second run keeps the members
again=$("$pretrain" "$tmp/blobs" 2 3 "$tmp/pool" --depth 2 --width 16)
[ "$(echo "$again" | grep -c kept)" -eq 2 ] || fail "members were not kept: $again"

# the extractor reads the pool (blend of init and trained) and the distiller runs on it
gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" batch-size=20 epochs=1 ! \
  ncfmconvnet pool="$tmp/pool" depth=2 width=16 ! ncfmcf num-freqs=64 ! \
  ncfmdistill location="$tmp/synset.safetensors" dataset="$tmp/blobs" ipc=1 \
  || fail "distillation with the pool failed"
[ -f "$tmp/synset.safetensors" ] || fail "no synthetic set"

if err=$("$pretrain" "$tmp/none" 1 1 "$tmp/pool2" 2>&1); then
  fail "no error for a missing dataset"
fi
echo "$err" | grep -qF "no dataset at $tmp/none" || fail "unclear error: $err"
echo "ok"
