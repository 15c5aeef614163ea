#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of bench-convnet: the same ConvNet-3 shapes, timed the same
way; prints one JSON object.  Run by the C bench in the same invocation."""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
from torch_convnet import ConvNet  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--batch', type=int, default=256)
p.add_argument('--iters', type=int, default=3)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--device', default='cpu')
p.add_argument('--channels', type=int, default=3)
p.add_argument('--size', type=int, default=32)
p.add_argument('--width', type=int, default=128)
a = p.parse_args()

torch.set_num_threads(a.threads)
dev = torch.device(a.device)
net = ConvNet(a.channels, 10, a.width, 3, 'instancenorm', (a.size, a.size)).to(dev).train()
x = torch.randn(a.batch, a.channels, a.size, a.size, device=dev)
labels = torch.randint(0, 10, (a.batch,), device=dev)


def sync():
    if dev.type == 'cuda':
        torch.cuda.synchronize()


def forward():
    with torch.no_grad():
        net(x)


def forward_backward():
    xg = x.clone().requires_grad_(True)
    net.zero_grad(set_to_none=False)
    _, logits = net(xg)
    F.cross_entropy(logits, labels).backward()


def rate(fn):
    fn()   # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        fn()
    sync()
    return a.batch * a.iters / (time.perf_counter() - t0)


out = {'forward': rate(forward), 'forward_backward': rate(forward_backward),
       'torch': torch.__version__, 'threads': torch.get_num_threads()}
if dev.type == 'cuda':
    out['peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
    out['device'] = torch.cuda.get_device_name()
else:
    out['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
