#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of bench-data: torchvision's ImageFolder path without
torchvision (absent here): PIL open + convert('RGB') per file, decoded by a
pool of worker processes (DataLoader's num_workers), stacked into one uint8
tensor [N, 3, H, W]; the warm path is torch.load of that tensor saved once.
Prints one JSON object."""
import argparse
import json
import os
import tempfile
import time
from multiprocessing import Pool

import numpy as np
import torch
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument('--root', required=True)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def listing(split):
    d = os.path.join(a.root, split)
    classes = sorted(e.name for e in os.scandir(d) if e.is_dir())
    files = []
    for k, c in enumerate(classes):
        files += [(os.path.join(d, c, f), k) for f in sorted(os.listdir(os.path.join(d, c)))]
    return files


def decode(path):
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB')).transpose(2, 0, 1).copy()


out = {}
cold = 0.0
warm = 0.0
tmp = tempfile.mkdtemp()
for split in ('train', 'test'):
    t0 = time.perf_counter()
    files = listing(split)
    with Pool(a.threads) as pool:
        arrays = pool.map(decode, [f for f, _ in files], chunksize=256)
    images = torch.from_numpy(np.stack(arrays))
    labels = torch.tensor([k for _, k in files], dtype=torch.int32)
    cold += time.perf_counter() - t0
    path = os.path.join(tmp, split + '.pt')
    torch.save((images, labels), path)
    del images, labels, arrays
    base = rss_mb()
    t0 = time.perf_counter()
    images, labels = torch.load(path)
    warm += time.perf_counter() - t0
    if split == 'train':
        out['train_rss_mb'] = rss_mb() - base
    del images, labels
    os.unlink(path)
os.rmdir(tmp)
out['cold_s'] = cold
out['warm_ms'] = warm * 1000
print(json.dumps(out))
