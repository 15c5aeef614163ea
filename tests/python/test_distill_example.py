#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pipelines/distill.py (libncfm from Python, no GStreamer) against the gst-launch line it
reproduces, on the blobs dataset: the two saved sets are the same bytes (same seeds); then
a set distilled with other seeds differs, so the comparison can fail.
  test_distill_example.py MAKE_BLOBS PIPELINES_DIR"""
import hashlib
import os
import subprocess
import sys
import tempfile

make_blobs, pipelines = sys.argv[1], sys.argv[2]
ARGS = dict(ipc=2, batch_size=8, num_freqs=64, depth=2, width=8)


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def gst_distill(data, out, seed=0):
    line = ('ncfmdatasetsrc location={d} batch-size={batch_size} ! ncfmaugment seed={s} ! '
            'ncfmconvnet depth={depth} width={width} ! ncfmcf num-freqs={num_freqs} ! '
            'ncfmdistill dataset={d} location={o} ipc={ipc} save-every=0').format(
                d=data, o=out, s=seed, **ARGS)
    subprocess.run(['gst-launch-1.0', '-q'] + line.split(), check=True)


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, 'blobs')
    subprocess.run([make_blobs, 'idx', data, '10', '60', '0'], check=True,
                   stdout=subprocess.DEVNULL)
    py_set, gst_set = os.path.join(tmp, 'py.safetensors'), os.path.join(tmp, 'gst.safetensors')
    opts = [f'--{k.replace("_", "-")}={v}' for k, v in ARGS.items()]
    out = subprocess.run([sys.executable, os.path.join(pipelines, 'distill.py'), data, py_set]
                         + opts, check=True, capture_output=True, text=True).stdout
    assert '10 steps' in out, out
    gst_distill(data, gst_set)
    assert sha(py_set) == sha(gst_set), 'the Python and the gst-launch sets differ'
    other = os.path.join(tmp, 'other.safetensors')
    gst_distill(data, other, seed=1)
    assert sha(other) != sha(gst_set), 'another augmentation seed gave the same set'
print('ok')
