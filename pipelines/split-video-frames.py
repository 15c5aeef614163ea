#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Splits an idx dataset's train split (Fashion-MNIST, MNIST) in two disjoint halves
for the live experiment (pipelines/live-experiment.sh):

  split-video-frames.py DATASET OUT [--frames N] [--seed S]

OUT/fashion-labeller/  the first half (idx, true labels): trains the labeller and the pool
OUT/fashion-frames/    the video's frames in video order with their true labels (idx), for
                       the true-labelled and the random rows only
OUT/frames.gray        the same frames as raw GRAY8 28x28 bytes, one after another, the
                       input of the video encoder (no labels)
Both idx directories link the real test split.  The train split is shuffled with
seed S (default 0) before the halves are cut, so the video's classes come in random
order; N (default: all of the second half) frames go into the video.  Pure Python
(no numpy): Debian's python3 as it comes."""
import argparse
import gzip
import os
import random
import struct
import sys


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_idx(path, dims, payload):
    head = struct.pack(">I", 0x0800 | len(dims)) + struct.pack(">" + "I" * len(dims), *dims)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head + payload)


def write_split(dataset, out, name, images, labels, side):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_idx(os.path.join(d, "train-images-idx3-ubyte.gz"), (len(labels), side, side),
              b"".join(images))
    write_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"), (len(labels),), bytes(labels))
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        link = os.path.join(d, f)
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(os.path.join(dataset, f)), link)
    return d


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset")
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    try:
        (n, h, w), pixels = read_idx(os.path.join(a.dataset, "train-images-idx3-ubyte.gz"))
        (nl,), labels = read_idx(os.path.join(a.dataset, "train-labels-idx1-ubyte.gz"))
    except (OSError, struct.error, ValueError) as e:
        sys.exit(f"split-video-frames.py: cannot read the idx train split of {a.dataset}: {e}")
    if nl != n or h != w:
        sys.exit(f"split-video-frames.py: {a.dataset}: {n} images of {h}x{w}, {nl} labels")
    order = list(range(n))
    random.Random(a.seed).shuffle(order)
    half = n // 2
    frames = order[half:]
    if a.frames:
        if a.frames > len(frames):
            sys.exit(f"split-video-frames.py: --frames {a.frames}: the second half has "
                     f"{len(frames)} images")
        frames = frames[:a.frames]
    size = h * w
    image = lambda i: pixels[i * size:(i + 1) * size]
    os.makedirs(a.out, exist_ok=True)
    write_split(a.dataset, a.out, "fashion-labeller", [image(i) for i in order[:half]],
                [labels[i] for i in order[:half]], h)
    video = [image(i) for i in frames]
    write_split(a.dataset, a.out, "fashion-frames", video, [labels[i] for i in frames], h)
    with open(os.path.join(a.out, "frames.gray"), "wb") as f:
        f.write(b"".join(video))
    print(f"{half} labeller images, {len(frames)} video frames of {w}x{h} (seed {a.seed})")


if __name__ == "__main__":
    main()
