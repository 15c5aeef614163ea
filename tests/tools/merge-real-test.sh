#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ncfm-synset split/merge on a set that ncfmdistill wrote (one process, learned sampler,
# factor 2): the class shards of 3 ranks merged back, in any order, are the file byte for
# byte; a shard of another run (another seed) is refused naming both files and the field.
#   merge-real-test.sh MAKE_BLOBS NCFM_SYNSET
set -euo pipefail
make_blobs=$1
tool=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-merge-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$make_blobs" idx "$tmp/blobs" 10 200 50
distill() {
  gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" batch-size=20 epochs=1 seed="$2" ! \
    ncfmconvnet depth=1 width=8 ! ncfmcf num-freqs=32 sampler=learned ! \
    ncfmdistill location="$1" dataset="$tmp/blobs" ipc=2 factor=2 seed="$2"
}
distill "$tmp/set.safetensors" 0
"$tool" split "$tmp/set.safetensors" 3 "$tmp/shard"
"$tool" merge "$tmp/shard-0.safetensors" "$tmp/shard-1.safetensors" "$tmp/shard-2.safetensors" \
  -o "$tmp/merged.safetensors"
cmp "$tmp/set.safetensors" "$tmp/merged.safetensors" || fail "the merged set differs"
"$tool" merge "$tmp/shard-2.safetensors" "$tmp/shard-0.safetensors" "$tmp/shard-1.safetensors" \
  -o "$tmp/merged2.safetensors"
cmp "$tmp/set.safetensors" "$tmp/merged2.safetensors" || fail "merged in another order, the set differs"

distill "$tmp/other.safetensors" 1
"$tool" split "$tmp/other.safetensors" 3 "$tmp/other"
if out=$("$tool" merge "$tmp/shard-0.safetensors" "$tmp/other-1.safetensors" \
    "$tmp/shard-2.safetensors" -o "$tmp/mixed.safetensors" 2>&1); then
  fail "shards of two runs merged: $out"
fi
echo "$out" | grep -qF "shard-0.safetensors and $tmp/other-1.safetensors disagree on metadata" \
  || fail "no file and field named: $out"
[ ! -e "$tmp/mixed.safetensors" ] || fail "a refused merge wrote its output"
echo "ok: merged shards equal the one-process set byte for byte"
