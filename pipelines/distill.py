#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""NCFM distillation with libncfm from Python, without GStreamer.

Does what this line does, bit for bit (same seeds, same file):
  gst-launch-1.0 ncfmdatasetsrc location=DATASET batch-size=B ! ncfmaugment ! \
    ncfmconvnet depth=DEPTH width=WIDTH ! ncfmcf num-freqs=M ! \
    ncfmdistill dataset=DATASET location=OUT ipc=IPC save-every=0
(--max-steps N stops after N batches, as num-buffers=N on the source would)
usage: distill.py DATASET OUT [--ipc N] [--batch-size B] [--num-freqs M] [--depth D] [--width W]
                  [--max-steps N]
"""
import argparse
import os

import gi
gi.require_version('Ncfm', '1.0')
from gi.repository import Ncfm  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('dataset')
p.add_argument('out')
p.add_argument('--ipc', type=int, default=10)
p.add_argument('--batch-size', type=int, default=256)
p.add_argument('--num-freqs', type=int, default=4096)
p.add_argument('--depth', type=int, default=3)
p.add_argument('--width', type=int, default=128)
p.add_argument('--max-steps', type=int, default=0)
a = p.parse_args()

dev = Ncfm.Device.new(os.environ.get('NCFM_DEVICE'))
ds = Ncfm.Dataset.load(a.dataset, Ncfm.DatasetFormat.AUTO, 'train', 0,
                       Ncfm.DatasetFlags.NONE, None)
k, c, h, w = (ds.get_num_classes(), ds.get_channels(), ds.get_height(), ds.get_width())
# the elements' defaults: one class per batch, DSA shared per batch, seeds 0
loader = Ncfm.Loader.new(ds, dev, a.batch_size, Ncfm.LoaderMode.PER_CLASS, 0, 1, True, None)
augment = Ncfm.Augment.new('color_crop_cutout', Ncfm.AugmentMode.SHARED)
synset = Ncfm.Synset.new(ds, a.ipc, 2, dev)
synset.init_images(ds, Ncfm.SynsetInit.MIX, 0)
synset.set_dataset_path(os.path.realpath(a.dataset))
distiller = Ncfm.Distiller.new(synset, Ncfm.Metric.NCFD, 0.5, 0.5)
sampler, work = None, Ncfm.Activations.new()

step = 0
while not a.max_steps or step < a.max_steps:
    ok, x, labels = loader.next()
    if not ok:
        break
    # ncfmaugment: the draw of buffer `step`; ncfmconvnet: a fresh model per buffer
    params = augment.draw(Ncfm.derive_seed(0, step), x.get_dim(0), h, w)
    xa = Ncfm.Tensor.new(dev, Ncfm.DType.F32, [x.get_dim(0), c, h, w])
    params.apply(x, xa, work)
    model = Ncfm.ConvNet.new(dev, c, h, w, k, a.depth, a.width, Ncfm.Norm.INSTANCE,
                             Ncfm.derive_seed(0, step))
    model.set_frozen(True)
    features = model.forward_features(xa, 128, work)
    d = features.get_dim(1)
    # ncfmcf: t and the real per-class CF statistics at t
    sampler = sampler or Ncfm.Sampler.new_gaussian(dev, a.num_freqs, d, 1.0, 0)
    draw = sampler.draw(None, True)
    t = draw.get_t()
    stats = Ncfm.CFStats.new(dev, k, t.get_dim(0), d, True)
    stats.accumulate_draw(features, labels, draw)
    # ncfmdistill: a step on every class of the batch
    for cls in (i for i in range(k) if stats.get_count(i) > 0):
        distiller.step_class(cls, stats, draw, features, labels, model, None, params)
    distiller.end_step()
    step += 1

synset.save(a.out, None)
print(f'{a.out}: {step} steps, {ds.get_name()} distilled to {a.ipc} images per class')
