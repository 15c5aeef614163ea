#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libncfm-1.0 from Python through GObject Introspection: tensors, safetensors
I/O and the ConvNet (load, forward, backward), checked against the same
PyTorch golden file as the C tests.  Prints TAP."""
import os
import sys
import tempfile

import gi

gi.require_version('Ncfm', '1.0')
from gi.repository import GLib, Ncfm  # noqa: E402
import numpy as np  # noqa: E402
from tap import main, test  # noqa: E402

FIXTURES = os.path.join(os.environ.get('G_TEST_SRCDIR', os.path.dirname(__file__)), '..', 'fixtures')
def f32(tensor):
    shape = tensor.get_shape()
    return np.frombuffer(tensor.to_bytes().get_data(), dtype=np.float32).reshape(shape)


def rel_err(ours, ref):
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))


@test
def tensor_roundtrip():
    dev = Ncfm.Device.new('cpu')
    assert dev.get_name().startswith('cpu')
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Ncfm.Tensor.new_from_data(dev, Ncfm.DType.F32, list(a.shape), a.tobytes())
    assert t.get_numel() == 24 and t.get_dim(-1) == 4 and t.describe() == 'F32 [2, 3, 4]'
    assert np.array_equal(f32(t), a)
    try:
        Ncfm.Tensor.new_from_data(dev, Ncfm.DType.F32, [5], a.tobytes())
        raise AssertionError('size mismatch accepted')
    except GLib.Error as e:
        assert '96 bytes' in e.message, e.message


@test
def device_errors():
    try:
        Ncfm.Device.new('gpu7')
        raise AssertionError('bad device accepted')
    except GLib.Error as e:
        assert 'gpu7' in e.message


@test
def safetensors_io():
    dev = Ncfm.Device.new('cpu')
    st = Ncfm.Safetensors.new()
    a = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    t = Ncfm.Tensor.new_from_data(dev, Ncfm.DType.F32, [3, 4], a.tobytes())
    t.to_safetensors(st, 'weights')
    st.set_metadata('note', 'from python')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'x.safetensors')
        assert st.save(path)
        back = Ncfm.Safetensors.load(path)
        assert back.list_names() == ['weights']
        assert back.get_metadata('note') == 'from python'
        assert np.array_equal(np.array(back.dup_f32('weights'), dtype=np.float32), a.ravel())
        with open(path, 'r+b') as f:
            f.truncate(20)
        try:
            Ncfm.Safetensors.load(path)
            raise AssertionError('truncated file accepted')
        except GLib.Error as e:
            assert 'x.safetensors' in e.message, e.message


@test
def convnet_matches_torch():
    ref = Ncfm.Safetensors.load(os.path.join(FIXTURES, 'convnet3_3x32x32_instancenorm.safetensors'))
    dev = Ncfm.Device.new('cpu')
    net = Ncfm.ConvNet.new(dev, 3, 32, 32, 10, 3, int(ref.get_metadata('width')),
                           Ncfm.Norm.INSTANCE, 0)
    weights = Ncfm.Safetensors.new()
    for i in range(net.get_n_parameters()):
        name = net.get_parameter_name(i)
        t = Ncfm.Tensor.new_from_safetensors(ref, name, dev)
        t.to_safetensors(weights, name)
    assert net.load_safetensors(weights)
    x = Ncfm.Tensor.new_from_safetensors(ref, 'input', dev)
    act = Ncfm.Activations.new()
    assert net.forward(x, act)
    feats = f32(act.get_features())
    want = np.array(ref.dup_f32('features'), dtype=np.float32).reshape(feats.shape)
    assert rel_err(feats, want) <= 1e-4, rel_err(feats, want)
    gf = Ncfm.Tensor.new_from_safetensors(ref, 'grad.features', dev)
    gl = Ncfm.Tensor.new_from_safetensors(ref, 'grad.logits', dev)
    assert net.backward(act, gf, gl, True)
    gi_ = f32(act.get_grad_images())
    want = np.array(ref.dup_f32('grad.input'), dtype=np.float32).reshape(gi_.shape)
    assert rel_err(gi_, want) <= 1e-4, rel_err(gi_, want)
    gw = f32(net.get_gradient('layers.conv.1.weight'))
    want = np.array(ref.dup_f32('grad.layers.conv.1.weight'), dtype=np.float32).reshape(gw.shape)
    assert rel_err(gw, want) <= 1e-4, rel_err(gw, want)


@test
def ncfd_matches_torch():
    ref = Ncfm.Safetensors.load(os.path.join(FIXTURES, 'ncfd_m64_d16_k3.safetensors'))
    dev = Ncfm.Device.new('cpu')
    get = lambda name: Ncfm.Tensor.new_from_safetensors(ref, name, dev)  # noqa: E731
    loss = Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, 0.5, 0.5)
    assert loss.compute(get('real'), get('real_labels'), get('syn'), get('syn_labels'), get('t'),
                        3, True)
    want = np.array(ref.dup_f32('class_loss'))
    assert abs(loss.get_loss() - want.sum()) <= 1e-4 * want.sum(), (loss.get_loss(), want)
    for ours, name in ((loss.get_grad_syn_features(), 'grad.syn'), (loss.get_grad_t(), 'grad.t')):
        got = f32(ours)
        ref_g = np.array(ref.dup_f32(name), dtype=np.float32).reshape(got.shape)
        assert rel_err(got, ref_g) <= 1e-4, (name, rel_err(got, ref_g))


@test
def sampler_psi_ascent():
    """psi from Python: draw t, NCFD on it, back to psi, one ascent step: the
    loss at the same noise goes up (psi plays the max side)."""
    dev = Ncfm.Device.new('cpu')
    rng = np.random.default_rng(0)
    d, m = 8, 32
    real = rng.standard_normal((20, d)).astype(np.float32)
    syn = rng.standard_normal((4, d)).astype(np.float32)
    tensor = lambda a, dt=Ncfm.DType.F32: Ncfm.Tensor.new_from_data(dev, dt, list(a.shape), a.tobytes())  # noqa: E731
    lr, ls = tensor(np.zeros(20, np.int32), Ncfm.DType.I32), tensor(np.zeros(4, np.int32), Ncfm.DType.I32)
    psi = Ncfm.Sampler.new_learned(dev, m, d, 7)
    psi.set_optimizer(0.05, 0.0, 0.0)
    noise = tensor(rng.standard_normal((m // 16, d)).astype(np.float32))
    loss = Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, 0.5, 0.5)
    draw = psi.draw(noise, False)
    assert loss.compute(tensor(real), lr, tensor(syn), ls, draw.get_t(), 1, True)
    before = loss.get_loss()
    assert psi.backward(draw, loss.get_grad_t())
    psi.ascent_step()
    t2 = psi.sample_with_noise(noise)
    assert loss.compute(tensor(real), lr, tensor(syn), ls, t2, 1, True)
    assert loss.get_loss() > before, (before, loss.get_loss())
    g = Ncfm.Sampler.new_gaussian(dev, m, d, 1.0, 3)
    a, b = f32(g.sample()), f32(g.sample())
    assert a.shape == (m, d) and not np.array_equal(a, b)


@test
def convnet_errors():
    dev = Ncfm.Device.new('cpu')
    net = Ncfm.ConvNet.new(dev, 1, 28, 28, 10, 3, 8, Ncfm.Norm.INSTANCE, 0)
    try:
        net.load('/nonexistent/model.safetensors')
        raise AssertionError('missing file accepted')
    except GLib.Error as e:
        assert '/nonexistent/model.safetensors' in e.message
    x = Ncfm.Tensor.new(dev, Ncfm.DType.F32, [2, 3, 28, 28])
    try:
        net.forward(x, Ncfm.Activations.new())
        raise AssertionError('wrong input shape accepted')
    except GLib.Error as e:
        assert '[2, 3, 28, 28]' in e.message, e.message


@test
def nan_weights_refused():
    dev = Ncfm.Device.new('cpu')
    net = Ncfm.ConvNet.new(dev, 1, 8, 8, 10, 1, 4, Ncfm.Norm.INSTANCE, 0)
    st = net.to_safetensors()
    name = 'classifier.weight'
    w = np.array(st.dup_f32(name), dtype=np.float32)
    w[17] = np.nan
    st.set(name, Ncfm.DType.F32, list(st.get_shape(name)), w.tobytes())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'nan.safetensors')
        assert st.save(path)
        try:
            Ncfm.Model.new_from_file(dev, path)
            raise AssertionError('NaN weights accepted')
        except GLib.Error as e:
            assert e.matches(Ncfm.error_quark(), Ncfm.Error.NOT_FINITE), e
            assert f"{path}: tensor '{name}' has a NaN at element 17" in e.message, e.message


@test
def model_registry():
    """Architectures by name from Python: the registry's list, a model built
    by name is the subclass, and an unknown name is an error naming it."""
    names = Ncfm.Model.list_architectures()
    assert names[:2] == ['convnet', 'resnet-ap'], names
    assert Ncfm.Model.lookup_architecture('resnet-ap') == Ncfm.ResNet.__gtype__
    dev = Ncfm.Device.new('cpu')
    net = Ncfm.Model.new_for_architecture('convnet', dev, 1, 8, 8, 10, 1, 4, Ncfm.Norm.INSTANCE, 0)
    assert isinstance(net, Ncfm.ConvNet) and net.get_architecture() == 'convnet'
    assert net.get_depth() == 1 and net.get_net_width() == 4
    raises(lambda: Ncfm.Model.lookup_architecture('vit-b16'), "'vit-b16'", 'convnet, resnet-ap')


def raises(call, *words):
    """call() must raise GLib.Error whose message names every word."""
    try:
        call()
    except GLib.Error as e:
        assert all(w in e.message for w in words), (e.message, words)
        return
    raise AssertionError(f'no GLib.Error (expected one naming {words})')


@test
def argument_errors():
    """Values that cannot make sense are GLib.Errors, not criticals or NaN later."""
    dev = Ncfm.Device.new('cpu')
    raises(lambda: Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, -0.5, 0.5), 'alpha -0.5', '[0, 1]')
    raises(lambda: Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, 0.5, float('nan')), 'beta nan')
    raises(lambda: Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, 0.0, 0.0), 'not both 0')
    assert Ncfm.Ncfd.new(dev, Ncfm.Metric.NCFD, 1.0, 0.0) is not None
    labels = Ncfm.Tensor.new(dev, Ncfm.DType.I32, [4])
    raises(lambda: labels.fill(1.0), 'I32 [4]', 'not a F32')
    x = Ncfm.Tensor.new(dev, Ncfm.DType.F32, [2, 3])
    assert x.fill(0.25) and f32(x)[1, 2] == 0.25
    assert x.get_dim(-2) == 2 and x.get_dim(1) == 3
    raises(lambda: x.get_dim(2), 'axis 2', 'F32 [2, 3]')
    raises(lambda: x.get_dim(-3), 'axis -3')
    psi = Ncfm.Sampler.new_learned(dev, 32, 8, 7)
    raises(lambda: psi.set_optimizer(-0.1, 0.5, 0.0), 'learning rate -0.1')
    raises(lambda: psi.set_optimizer(0.1, 1.5, 0.0), 'momentum 1.5')
    assert np.allclose(psi.get_optimizer(), (1e-3, 0.5, 5e-4)), psi.get_optimizer()  # unchanged
    # a shape whose bytes exceed any memory is an error, not an abort
    raises(lambda: Ncfm.Tensor.new(dev, Ncfm.DType.F32, [1 << 30, 1 << 28]), 'bytes')


@test
def synset_validate_nan():
    st = Ncfm.Safetensors.new()
    img = np.full((2, 1, 4, 4), 0.5, dtype=np.float32)
    img[1, 0, 2, 3] = np.nan
    st.set('images', Ncfm.DType.F32, list(img.shape), img.tobytes())
    st.set('labels', Ncfm.DType.I64, [2], np.arange(2, dtype=np.int64).tobytes())
    st.set_metadata('ncfm.format', 'synset')
    st.set_metadata('ncfm.format_version', '1')
    st.set_metadata('ncfm.class_names', '["a", "b"]')
    img_ok = img.copy()
    img_ok[1, 0, 2, 3] = 0.25
    ok = Ncfm.Safetensors.load_from_bytes(st.serialize(), 'ok')
    ok.set('images', Ncfm.DType.F32, list(img.shape), img_ok.tobytes())
    assert Ncfm.Synset.validate(ok, 'ok.safetensors')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'nan.safetensors')
        assert st.save(path)
        try:
            Ncfm.Synset.file_validate(path)
            raise AssertionError('NaN set accepted')
        except GLib.Error as e:
            assert e.matches(Ncfm.Synset.error_quark(), Ncfm.SynsetError.VALUE), e.message
            assert path in e.message and 'images' in e.message and 'class 1' in e.message, e.message


@test
def optimizer_trainer_steps():
    dev = Ncfm.Device.new('cpu')
    net = Ncfm.ConvNet.new(dev, 1, 8, 8, 2, 1, 4, Ncfm.Norm.INSTANCE, 0)
    net.set_training(True)
    y = np.arange(8, dtype=np.int32) % 2
    x = np.where((np.arange(8)[None, :] < 4) == (y[:, None] == 0), 1.0, -1.0).astype(np.float32)
    x = np.repeat(x[:, None, None, :], 8, axis=2)  # [8, 1, 8, 8]: the bright half is the class
    images = Ncfm.Tensor.new_from_data(dev, Ncfm.DType.F32, list(x.shape), x.tobytes())
    labels = Ncfm.Tensor.new_from_data(dev, Ncfm.DType.I32, [8], y.tobytes())
    opt = Ncfm.Optimizer.new_for_model(net, Ncfm.OptimizerKind.ADAMW, 0.0, 0.0)
    trainer = Ncfm.Trainer.new(net, opt, None, None, 0.5)
    losses = []
    for step in range(3):
        lr = Ncfm.schedule_get_lr(Ncfm.Schedule.EVALUATION, 0.01, step, 3)
        loss, correct = trainer.step(images, labels, Ncfm.Trainer.step_seed(1, step), lr)
        assert 0 <= correct <= 8
        losses.append(loss)
    assert opt.get_step_count() == 3
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    st = Ncfm.Safetensors.new()
    opt.save_state(st, 'opt.')
    assert 'opt.step' in st.list_names() and st.get_metadata('opt.kind') == 'adamw'
    bad = Ncfm.Tensor.new_from_data(dev, Ncfm.DType.I32, [8], (y + 5).tobytes())
    try:
        trainer.step(images, bad, 0, 0.01)
        raise AssertionError('label 5 of 2 classes accepted')
    except GLib.Error as e:
        assert 'label 5 of image 0' in e.message, e.message


if __name__ == '__main__':
    sys.exit(main())
