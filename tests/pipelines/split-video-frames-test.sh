#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pipelines/split-video-frames.py (the live experiment's splitter) on tiny generated data:
# an ImageFolder of images (PNG here, JPEG in CIFAR-10's tarball) is cut in two disjoint trees of links
# that ncfmdatasetsrc reads, with the video's frames as numbered links in video order; an
# idx directory still gives idx halves and the raw GRAY8 frames; bad requests fail clearly.
#   split-video-frames-test.sh MAKE_BLOBS PIPELINES_DIR
set -euo pipefail
make_blobs=$1
split=$2/split-video-frames.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ncfm-split-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# an ImageFolder: 3 classes, 8 train and 2 test images each (one 32x32 RGB PNG, copied;
# the tests see no system plugins, so no jpegenc)
python3 - "$tmp/one.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + bytes(v for x in range(32) for v in (x * 8, y * 8, 128)) for y in range(32))
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
for c in ant bee cat; do
  mkdir -p "$tmp/folder/train/$c" "$tmp/folder/test/$c"
  for i in 0 1 2 3 4 5 6 7; do cp "$tmp/one.png" "$tmp/folder/train/$c/$c$i.png"; done
  for i in 0 1; do cp "$tmp/one.png" "$tmp/folder/test/$c/$c$i.png"; done
done

python3 "$split" "$tmp/folder" "$tmp/out" --frames 9 --seed 3 --name tiny
train_links() {
  find "$tmp/out/$1/train" -type l -printf '%l\n' | sort
}
[ "$(train_links tiny-labeller | wc -l)" -eq 12 ] || fail "the labeller's half is not 12 links"
[ "$(train_links tiny-frames | wc -l)" -eq 9 ] || fail "the video's tree is not 9 links"
[ -z "$(comm -12 <(train_links tiny-labeller) <(train_links tiny-frames))" ] \
  || fail "the halves share images"
# each link stays in its class: train/CLASS/NAME -> the dataset's train/CLASS/NAME
for half in tiny-labeller tiny-frames; do
  while read -r link; do
    [ "$(readlink "$link")" = "$tmp/folder/train/${link#"$tmp/out/$half/train/"}" ] \
      || fail "$link points to $(readlink "$link")"
  done < <(find "$tmp/out/$half/train" -type l)
  [ "$(readlink "$tmp/out/$half/test")" = "$tmp/folder/test" ] || fail "$half: no test link"
done
# the encoder's input: the same 9 images as 000000.png ... 000008.png
[ "$(find "$tmp/out/frames" -type l -printf '%l\n' | sort)" = "$(train_links tiny-frames)" ] \
  || fail "frames/ are not the video tree's images"
[ -L "$tmp/out/frames/000000.png" ] && [ -L "$tmp/out/frames/000008.png" ] \
  || fail "frames/ is not numbered from 000000.png"
# the trees are datasets of 3 classes that ncfmdatasetsrc reads as 3x32x32
for half in tiny-labeller tiny-frames; do
  [ "$(find "$tmp/out/$half/train" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 3 ] \
    || fail "$half: not 3 classes"
  caps=$(gst-launch-1.0 -v ncfmdatasetsrc location="$tmp/out/$half" cache-dir="$tmp/cache" \
    batch-size=3 num-buffers=1 ! ncfmtrain depth=1 width=8 location="$tmp/w.safetensors" 2>&1) \
    || fail "$half: $caps"
  grep -q 'src: caps = .*dimensions=(string)"32:32:3:3' <<< "$caps" || fail "$half: $caps"
done

# the same seed gives the same split; another seed another video
python3 "$split" "$tmp/folder" "$tmp/again" --frames 9 --seed 3 --name tiny
[ "$(find "$tmp/again/frames" -type l -printf '%f %l\n' | sort)" = \
  "$(find "$tmp/out/frames" -type l -printf '%f %l\n' | sort | sed "s|$tmp/out|$tmp/again|")" ] \
  || fail "seed 3 gave two different videos"

# too few frames for every class, too many frames, no test split: clear errors
expect_error() {  # expect_error TEXT ARGS...
  local text=$1 rc=0 err
  shift
  err=$(python3 "$split" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "$*: exit $rc, not 1"
  grep -qF -- "$text" <<< "$err" || fail "$*: '$err' does not say '$text'"
}
expect_error "no video frame of the class(es)" "$tmp/folder" "$tmp/few" --frames 1
expect_error "--frames 13: the second half has 12 images" "$tmp/folder" "$tmp/many" --frames 13
mv "$tmp/folder/test" "$tmp/folder/held"
expect_error "$tmp/folder: no test split (test/)" "$tmp/folder" "$tmp/notest"

# idx: the halves as idx files named fashion-*, the frames as raw GRAY8 bytes
"$make_blobs" idx "$tmp/blobs" 10 100 10
gzip "$tmp/blobs"/*  # the splitter reads the gzipped files that Debian ships
python3 "$split" "$tmp/blobs" "$tmp/idx" --frames 40
[ "$(stat -c %s "$tmp/idx/frames.gray")" -eq $((40 * 16 * 16)) ] || fail "frames.gray size"
for half in fashion-labeller fashion-frames; do
  gst-launch-1.0 -q ncfmdatasetsrc location="$tmp/idx/$half" batch-size=4 num-buffers=1 ! \
    ncfmtrain depth=1 width=8 location="$tmp/w.safetensors" || fail "cannot read $half"
done
echo "split-video-frames: ImageFolder and idx splits as expected"
