#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of bench-pipeline: one NCFM class step at the reference
CIFAR-10 shapes, as the reference implementation takes it (method card
sections 1-6): a real batch of one class, one shared color_crop_cutout DSA
draw for real and synthetic images, ConvNet-3 (width 128, instance norm)
features (real ones without autograd), the learned sampler psi giving t, the
NCFD loss, one backward, AdamW on the stored images (multi-formation factor
2: IPC stored images decode to IPC * 4), clamp, and the ascent step of psi.
The train split is held in memory as uint8, as the reference holds its
dataset, so the peak RSS compares with a whole distillation process.
Also the same step with M Gaussian frequencies in place of psi, and the authors'
configuration (method card section 9: Gaussian frequencies, factor 2, init mix and
one calibration step: the cross-entropy of a trained pool member's logits on the
augmented synthetic images, weight 1, added to the loss).
Prints one JSON object: step_s, step_gaussian_s, step_reference_s, peak_rss_mb."""
import argparse
import json
import os
import resource
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
from torch_convnet import ConvNet  # noqa: E402
from torch_ncfm import TILES, Psi, ncfd  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--root', help='CIFAR-10 ImageFolder tree (train/CLASS/*.jpg); random data if absent')
p.add_argument('--real', type=int, default=1024)
p.add_argument('--ipc', type=int, default=10)
p.add_argument('--factor', type=int, default=2)
p.add_argument('--m', type=int, default=4096)
p.add_argument('--iters', type=int, default=3)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--device', default='cpu')
a = p.parse_args()
torch.set_num_threads(a.threads)
dev = torch.device(a.device)
gen = torch.Generator().manual_seed(0)
MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2023, 0.1994, 0.2010]).view(1, 3, 1, 1)


def decode(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB')).transpose(2, 0, 1).copy()


def load_train(root):
    d = os.path.join(root, 'train')
    classes = sorted(e.name for e in os.scandir(d) if e.is_dir())
    files, labels = [], []
    for k, c in enumerate(classes):
        names = sorted(os.listdir(os.path.join(d, c)))
        files += [os.path.join(d, c, f) for f in names]
        labels += [k] * len(names)
    with Pool(a.threads) as pool:
        images = pool.map(decode, files, chunksize=256)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)


if a.root:
    images, labels = load_train(a.root)
else:
    images = torch.randint(0, 256, (5000 * 10, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.arange(10).repeat_interleave(5000)
by_class = [torch.nonzero(labels == c).flatten() for c in range(10)]


def draw():
    u = torch.rand(3, generator=gen).tolist()
    s = int(0.125 * 32 + 0.5)
    dy, dx = torch.randint(-s, s + 1, (2,), generator=gen).tolist()
    cy, cx = torch.randint(0, 32, (2,), generator=gen).tolist()
    return u, s, dy, dx, cy, cx


def dsa(x, prm):
    """color_crop_cutout with one parameter set (method card section 6)."""
    u, s, dy, dx, cy, cx = prm
    n, c, h, w = x.shape
    x = x + (u[0] - 0.5)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (2 * u[1]) + m
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - m) * (u[2] + 0.5) + m
    x = F.pad(x, [s, s, s, s])[:, :, s - dy:s - dy + h, s - dx:s - dx + w]
    side = int(0.5 * h + 0.5)
    mask = torch.ones(h, w, device=x.device)
    mask[max(cy - side // 2, 0):cy - side // 2 + side, max(cx - side // 2, 0):cx - side // 2 + side] = 0
    return x * mask


def multiformation(img, f):
    n, c, h, w = img.shape
    tiles = img.view(n, c, f, h // f, f, w // f).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, h // f, w // f)
    return F.interpolate(tiles, size=(h, w), mode='bilinear', align_corners=False)


net = ConvNet(3, 10, 128, 3, 'instancenorm', (32, 32)).to(dev).train()
for q in net.parameters():
    q.requires_grad_(False)
d = 128 * 4 * 4
# the pool member of the calibration step (its weights do not matter for the timing)
trained = ConvNet(3, 10, 128, 3, 'instancenorm', (32, 32)).to(dev).eval()
for q in trained.parameters():
    q.requires_grad_(False)
psi = Psi(d).to(dev).train()
opt_psi = torch.optim.SGD(psi.parameters(), lr=1e-3, momentum=0.5, weight_decay=5e-4)
syn = []
for c in range(10):
    first = images[by_class[c][:a.ipc * a.factor ** 2]].float() / 255
    start = F.interpolate(first, scale_factor=1 / a.factor, mode='bilinear', align_corners=False)
    grid = start.view(a.ipc, a.factor, a.factor, 3, 32 // a.factor, 32 // a.factor)
    stored = grid.permute(0, 3, 1, 4, 2, 5).reshape(a.ipc, 3, 32, 32)   # init "mix"
    syn.append(stored.to(dev).requires_grad_(True))
opt_img = [torch.optim.AdamW([s], lr=0.01, weight_decay=5e-4) for s in syn]
mean, std = MEAN.to(dev), STD.to(dev)


def step(c, learned=True, calib=False):
    pick = by_class[c][torch.randint(0, len(by_class[c]), (a.real,), generator=gen)]
    real = ((images[pick].float() / 255).to(dev) - mean) / std
    prm = draw()
    with torch.no_grad():
        fr = F.normalize(net(dsa(real, prm))[0], dim=1)
    xs = dsa((multiformation(syn[c], a.factor) - mean) / std, prm)
    fs = F.normalize(net(xs)[0], dim=1)
    if learned:
        t = psi(torch.randn(a.m // TILES, d, generator=gen).to(dev))
    else:   # Gaussian frequencies: M distinct ones, no psi
        t = torch.randn(a.m, d, generator=gen).to(dev)
    loss = ncfd(fr, fs, t)
    if calib:   # the authors' iter_calib: cross-entropy through the trained member
        labels = torch.full((xs.shape[0],), c, dtype=torch.long, device=dev)
        loss = loss + F.cross_entropy(trained(xs)[1], labels)
    opt_img[c].zero_grad()
    opt_psi.zero_grad()
    loss.backward()
    for q in psi.parameters():
        if q.grad is not None:
            q.grad.neg_()   # psi ascends the loss
    opt_img[c].step()
    if learned:
        opt_psi.step()
    with torch.no_grad():
        syn[c].clamp_(0, 1)


def sync():
    if dev.type == 'cuda':
        torch.cuda.synchronize()




def timed(learned, calib=False):
    step(0, learned, calib)   # warm-up
    sync()
    t0 = time.perf_counter()
    for i in range(a.iters):
        step((i + 1) % 10, learned, calib)
    sync()
    return (time.perf_counter() - t0) / a.iters


step_s = timed(True)
step_gaussian_s = timed(False)
step_reference_s = timed(False, calib=True)
out = {'step_s': step_s, 'step_gaussian_s': step_gaussian_s,
       'step_reference_s': step_reference_s, 'torch': torch.__version__,
       'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
       'data': 'cifar10 train split' if a.root else 'random uint8'}
print(json.dumps(out))
