#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Splits a dataset's train split in two disjoint halves for the live experiment
(pipelines/live-experiment.sh); the dataset is an idx directory (Fashion-MNIST, MNIST) or
an ImageFolder root (root/train/CLASS/IMAGE, root/test/..., e.g. CIFAR-10 as JPEG):

  split-video-frames.py DATASET OUT [--frames N] [--seed S] [--name NAME]

OUT/NAME-labeller/  the first half with true labels: trains the labeller and the pool
OUT/NAME-frames/    the video's frames in video order with their true labels, for the
                    true-labelled and the random rows only
OUT/frames.gray     idx: the same frames as raw GRAY8 bytes, one after another, the
                    input of the video encoder (no labels)
OUT/frames/         ImageFolder: the same frames as links 000000.jpg, 000001.jpg, ...
                    in video order (no labels), for multifilesrc
NAME defaults to "fashion".  idx halves are written as idx files; ImageFolder halves as
trees of links to the dataset's images.  Both halves link the real test split.  The train
split is shuffled with seed S (default 0) before the halves are cut, so the video's
classes come in random order; N (default: all of the second half) frames go into the
video.  Pure Python (no numpy): Debian's python3 as it comes."""
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


def read_imagefolder(root):
    """The train split's (class, path) pairs: classes and files sorted by name."""
    train = os.path.join(root, "train")
    classes = sorted(c for c in os.listdir(train) if os.path.isdir(os.path.join(train, c)))
    return [(c, os.path.join(train, c, f)) for c in classes
            for f in sorted(os.listdir(os.path.join(train, c)))]


def link_imagefolder(dataset, out, name, items):
    d = os.path.join(out, name)
    for c, path in items:
        os.makedirs(os.path.join(d, "train", c), exist_ok=True)
        os.symlink(os.path.abspath(path), os.path.join(d, "train", c, os.path.basename(path)))
    os.symlink(os.path.abspath(os.path.join(dataset, "test")), os.path.join(d, "test"))


def split_order(n, seed, frames):
    """The labeller's half and the video's frames, as indices of the shuffled split."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    half = n // 2
    video = order[half:]
    if frames:
        if frames > len(video):
            sys.exit(f"split-video-frames.py: --frames {frames}: the second half has "
                     f"{len(video)} images")
        video = video[:frames]
    return order[:half], video


def split_imagefolder(a):
    try:
        items = read_imagefolder(a.dataset)
    except OSError as e:
        sys.exit(f"split-video-frames.py: cannot read the ImageFolder train split of "
                 f"{a.dataset}: {e}")
    if not os.path.isdir(os.path.join(a.dataset, "test")):
        sys.exit(f"split-video-frames.py: {a.dataset}: no test split (test/)")
    labeller, video = split_order(len(items), a.seed, a.frames)
    # a class missing from a half would give that half's tree fewer classes than the other
    missing = {c for c, _ in items} - {items[i][0] for i in video}
    if missing:
        sys.exit(f"split-video-frames.py: --frames {a.frames}: no video frame of the "
                 f"class(es) {', '.join(sorted(missing))}; take more frames")
    link_imagefolder(a.dataset, a.out, a.name + "-labeller", [items[i] for i in labeller])
    link_imagefolder(a.dataset, a.out, a.name + "-frames", [items[i] for i in video])
    d = os.path.join(a.out, "frames")
    os.makedirs(d, exist_ok=True)
    for k, i in enumerate(video):
        ext = os.path.splitext(items[i][1])[1]
        os.symlink(os.path.abspath(items[i][1]), os.path.join(d, f"{k:06d}{ext}"))
    print(f"{len(labeller)} labeller images, {len(video)} video frames (ImageFolder, "
          f"seed {a.seed})")


def split_idx(a):
    try:
        (n, h, w), pixels = read_idx(os.path.join(a.dataset, "train-images-idx3-ubyte.gz"))
        (nl,), labels = read_idx(os.path.join(a.dataset, "train-labels-idx1-ubyte.gz"))
    except (OSError, struct.error, ValueError) as e:
        sys.exit(f"split-video-frames.py: cannot read the idx train split of {a.dataset}: {e}")
    if nl != n or h != w:
        sys.exit(f"split-video-frames.py: {a.dataset}: {n} images of {h}x{w}, {nl} labels")
    labeller, frames = split_order(n, a.seed, a.frames)
    size = h * w
    image = lambda i: pixels[i * size:(i + 1) * size]
    write_split(a.dataset, a.out, a.name + "-labeller", [image(i) for i in labeller],
                [labels[i] for i in labeller], h)
    video = [image(i) for i in frames]
    write_split(a.dataset, a.out, a.name + "-frames", video, [labels[i] for i in frames], h)
    with open(os.path.join(a.out, "frames.gray"), "wb") as f:
        f.write(b"".join(video))
    print(f"{len(labeller)} labeller images, {len(frames)} video frames of {w}x{h} "
          f"(seed {a.seed})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset")
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="fashion")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if os.path.isdir(os.path.join(a.dataset, "train")):
        split_imagefolder(a)
    else:
        split_idx(a)


if __name__ == "__main__":
    main()
