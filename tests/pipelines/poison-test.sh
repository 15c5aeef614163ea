#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Never poison the synthetic set, from gst-launch-1.0: one NaN in a pool member, in the
# extractor's weights, in a teacher or in the weights to evaluate, and a diverging ncfmtrain,
# each stop with a non-zero exit and an error naming the property, the file and the tensor
# (or the step), and leave the set or weights file byte for byte; a second ncfmdistill on a
# location that a running one holds is refused naming its pid.
#   poison-test.sh MAKE_BLOBS
set -euo pipefail
make_blobs=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-poison-test-XXXXXX")
first=
trap '[ -n "$first" ] && kill -9 "$first" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# a NaN at element 17 of tensor $2 of the safetensors file $1 (F32, little-endian)
poison() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
path, name = sys.argv[1], sys.argv[2]
with open(path, 'r+b') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    begin = json.loads(f.read(n))[name]['data_offsets'][0]
    f.seek(8 + n + begin + 4 * 17)
    f.write(struct.pack('<I', 0x7fc00000))
PY
}

# expect_failure NEEDLE... -- COMMAND...: a non-zero exit and every needle in its output
expect_failure() {
  local needles=() out
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  if out=$("$@" 2>&1); then
    fail "no error from: $*"
  fi
  for n in "${needles[@]}"; do
    echo "$out" | grep -qF -- "$n" || fail "'$n' not in: $out"
  done
  echo "$out" | grep -m1 '^ERROR'
}

"$make_blobs" idx "$tmp/blobs" 10 200 50
src="ncfmdatasetsrc location=$tmp/blobs batch-size=20 epochs=1"
mkdir "$tmp/pool"
for k in 0 1; do
  gst-launch-1.0 -q $src mode=mixed ! ncfmtrain depth=1 width=8 seed=$k \
    init-location="$tmp/pool/premodel${k}_init.safetensors" \
    location="$tmp/pool/premodel${k}_trained.safetensors"
done
distill() {
  gst-launch-1.0 -q $src ! ncfmconvnet depth=1 width=8 "$@" ! ncfmcf num-freqs=32 ! \
    ncfmdistill location="$tmp/set.safetensors" dataset="$tmp/blobs" ipc=1 factor=1
}
distill pool="$tmp/pool"
set_hash=$(sha256sum < "$tmp/set.safetensors")
tensor=layers.conv.0.weight

cp "$tmp/pool/premodel1_trained.safetensors" "$tmp/member.safetensors"
poison "$tmp/pool/premodel1_trained.safetensors" $tensor
expect_failure "property pool" "$tmp/pool/premodel1_trained.safetensors" \
  "tensor '$tensor' has a NaN at element 17" -- distill pool="$tmp/pool"
[ "$(sha256sum < "$tmp/set.safetensors")" = "$set_hash" ] || fail "a NaN pool member changed the set"

poison "$tmp/member.safetensors" $tensor
expect_failure "property weights" "$tmp/member.safetensors" \
  "tensor '$tensor' has a NaN at element 17" -- distill weights="$tmp/member.safetensors"
[ "$(sha256sum < "$tmp/set.safetensors")" = "$set_hash" ] || fail "NaN weights changed the set"

weights_hash=$(sha256sum < "$tmp/pool/premodel0_trained.safetensors")
expect_failure "property teacher" "$tmp/member.safetensors" "tensor '$tensor'" -- \
  gst-launch-1.0 $src mode=mixed ! ncfmtrain depth=1 width=8 teacher="$tmp/member.safetensors" \
  location="$tmp/pool/premodel0_trained.safetensors"
expect_failure "Training diverged at step" "lower learning rate (property lr, 10)" -- \
  gst-launch-1.0 ncfmdatasetsrc location="$tmp/blobs" batch-size=50 epochs=10 mode=mixed ! \
  ncfmtrain depth=2 width=8 norm=none lr=10 location="$tmp/pool/premodel0_trained.safetensors"
[ "$(sha256sum < "$tmp/pool/premodel0_trained.safetensors")" = "$weights_hash" ] \
  || fail "a failed ncfmtrain changed its location"
expect_failure "property weights" "$tmp/member.safetensors" "tensor '$tensor'" -- \
  gst-launch-1.0 ncfmdatasetsrc location="$tmp/blobs" split=test ! \
  ncfmevaluate weights="$tmp/member.safetensors"

# a second writer: refused while the first runs (epochs=0: until killed), allowed after
gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/blobs" batch-size=20 epochs=0 ! \
  ncfmconvnet depth=1 width=8 ! ncfmcf num-freqs=32 ! ncfmdistill \
  location="$tmp/set.safetensors" dataset="$tmp/blobs" ipc=1 factor=1 save-every=1 &
first=$!
# a loaded machine (CI runs two tests at a time) may take a while to start it
for _ in $(seq 600); do
  [ -e "$tmp/.set.safetensors.lock" ] && break
  kill -0 "$first" 2>/dev/null || fail "the first distiller ended before it took the lock"
  sleep 0.1
done
[ -e "$tmp/.set.safetensors.lock" ] || fail "the first distiller took no lock in 60 s"
expect_failure "$tmp/set.safetensors" "property location" "process $first " -- distill
kill -9 "$first"
wait "$first" 2>/dev/null || true
first=
distill
echo "ok"
