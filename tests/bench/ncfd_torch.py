#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch side of bench-ncfd: the NCFD loss at the reference shapes, stated
as in the reference implementation (normalise, t X^T, cos/sin means, the
amplitude/phase terms), forward + backward; prints one JSON object."""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
from torch_ncfm import ncfd  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--m', type=int, default=4096)
p.add_argument('--d', type=int, default=2048)
p.add_argument('--nr', type=int, default=1024)
p.add_argument('--ns', type=int, default=40)
p.add_argument('--iters', type=int, default=3)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--device', default='cpu')
a = p.parse_args()
torch.set_num_threads(a.threads)
dev = torch.device(a.device)
g = torch.Generator(device='cpu').manual_seed(0)
real = torch.randn(a.nr, a.d, generator=g).to(dev)
syn0 = torch.randn(a.ns, a.d, generator=g).to(dev)
t0 = torch.randn(a.m, a.d, generator=g).to(dev)


def step(grad_t):
    syn = syn0.clone().requires_grad_(True)
    t = t0.clone().requires_grad_(grad_t)
    ncfd(F.normalize(real, dim=1), F.normalize(syn, dim=1), t).backward()


def sync():
    if dev.type == 'cuda':
        torch.cuda.synchronize()


def ms(fn):
    fn()
    sync()
    t = time.perf_counter()
    for _ in range(a.iters):
        fn()
    sync()
    return (time.perf_counter() - t) / a.iters * 1e3


base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {'syn_ms': ms(lambda: step(False)), 'syn_t_ms': ms(lambda: step(True)),
       'torch': torch.__version__}
if dev.type == 'cuda':
    out['peak_extra_mb'] = torch.cuda.max_memory_allocated() / 2**20
else:
    out['peak_extra_mb'] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps(out))
