#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of bench-augment: the full DSA strategy
color_crop_cutout_flip_scale_rotate with one shared parameter set per batch
(method card section 6), forward and forward+backward to the images; prints
one JSON object with images/s."""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--batch', type=int, default=1024)
p.add_argument('--iters', type=int, default=10)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
gen = torch.Generator().manual_seed(1)
x0 = torch.randn(a.batch, 3, 32, 32, generator=gen)


def affine(x, rows):
    theta = torch.tensor(rows, dtype=x.dtype).expand(x.shape[0], 2, 3)
    return F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False),
                         align_corners=False)


def dsa(x):
    n, c, h, w = x.shape
    u = torch.rand(8, generator=gen).tolist()
    x = x + (u[0] - 0.5)                                          # brightness
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (2 * u[1]) + m                                  # saturation
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - m) * (u[2] + 0.5) + m                                # contrast
    s = int(0.125 * h + 0.5)                                      # crop: translate, zero pad
    dy, dx = torch.randint(-s, s + 1, (2,), generator=gen).tolist()
    x = F.pad(x, [s, s, s, s])[:, :, s - dy:s - dy + h, s - dx:s - dx + w]
    side = int(0.5 * h + 0.5)                                     # cutout
    cy, cx = torch.randint(0, h, (2,), generator=gen).tolist()
    mask = torch.ones(h, w)
    mask[max(cy - side // 2, 0):cy - side // 2 + side, max(cx - side // 2, 0):cx - side // 2 + side] = 0
    x = x * mask
    if u[3] < 0.5:                                                # flip
        x = x.flip(3)
    lo = 1 / 1.2                                                  # scale
    x = affine(x, [[lo + u[4] * (1.2 - lo), 0, 0], [0, lo + u[5] * (1.2 - lo), 0]])
    r = (u[6] - 0.5) * 2 * 15 / 180 * math.pi                     # rotate
    x = affine(x, [[math.cos(r), math.sin(r), 0], [-math.sin(r), math.cos(r), 0]])
    return x


def forward():
    dsa(x0)


def forward_backward():
    x = x0.clone().requires_grad_(True)
    y = dsa(x)
    torch.autograd.grad(y, x, torch.ones_like(y))


def rate(fn):
    fn()
    t = time.perf_counter()
    for _ in range(a.iters):
        fn()
    return a.batch * a.iters / (time.perf_counter() - t)


print(json.dumps({'forward': rate(forward), 'forward_backward': rate(forward_backward),
                  'torch': torch.__version__}))
