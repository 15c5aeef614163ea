#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Ncfm override (gi/overrides/Ncfm.py): numpy arrays and buffers into
tensors with their dtype and shape checked, tensors back as zero-copy views.
Prints TAP."""
import array
import gc
import os
import pydoc
import sys

import gi

gi.require_version('Ncfm', '1.0')
from gi.repository import GLib, Ncfm  # noqa: E402
import numpy as np  # noqa: E402
from tap import main, test  # noqa: E402

DEV = Ncfm.Device.new(os.environ.get('NCFM_DEVICE', 'cpu'))


def raw(tensor):
    """The tensor's bytes through the C API's copy, independent of to_numpy()."""
    return tensor.to_bytes().get_data()


def raises(kind, call, *words):
    """call() must raise kind with a message naming every word."""
    try:
        call()
    except kind as e:
        text = e.message if isinstance(e, GLib.Error) else str(e)
        assert all(w in text for w in words), (text, words)
        return
    raise AssertionError(f'no {kind.__name__} (expected one naming {words})')


@test
def override_is_loaded():
    import gi.overrides.Ncfm as override
    want = os.environ.get('NCFM_OVERRIDE_DIR')
    assert not want or os.path.dirname(override.__file__) == want, override.__file__
    assert type(Ncfm.Tensor.new(DEV, Ncfm.DType.F32, [1])) is override.Tensor


@test
def roundtrip_values_and_shapes():
    rng = np.random.default_rng(1)
    cases = [
        (rng.standard_normal((2, 3, 4)).astype(np.float32), Ncfm.DType.F32),
        (rng.integers(-2**31, 2**31 - 1, (5, 7), dtype=np.int32), Ncfm.DType.I32),
        (rng.integers(-2**62, 2**62, (3,), dtype=np.int64), Ncfm.DType.I64),
        (rng.integers(0, 256, (2, 1, 3, 3), dtype=np.uint8), Ncfm.DType.U8),
        (np.float32(2.5).reshape(()), Ncfm.DType.F32),
        (np.zeros((0, 4), np.float32), Ncfm.DType.F32),
    ]
    for a, dtype in cases:
        t = Ncfm.Tensor.new_from_numpy(DEV, a)
        assert t.get_dtype() == dtype and t.get_shape() == list(a.shape), (t.describe(), a.shape)
        assert raw(t) == a.tobytes(), t.describe()
        back = t.to_numpy()
        assert back.dtype == a.dtype and back.shape == a.shape, (back.dtype, back.shape)
        assert np.array_equal(back, a), t.describe()
        assert np.array_equal(np.asarray(t), a)
        assert np.array_equal(np.asarray(t, dtype=np.float64), a.astype(np.float64))
    # buffers that are not numpy arrays
    t = Ncfm.Tensor.new_from_numpy(DEV, array.array('i', [3, -1, 7]))
    assert t.describe() == 'I32 [3]' and list(t.to_numpy()) == [3, -1, 7]
    assert Ncfm.Tensor.new_from_numpy(DEV, b'\x01\x02').describe() == 'U8 [2]'
    # a typed array given to new_from_data / set_data with its own dtype and shape
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Ncfm.Tensor.new_from_data(DEV, Ncfm.DType.F32, [2, 3], a)
    assert raw(t) == a.tobytes()
    assert t.set_data(a * 2) and np.array_equal(t.to_numpy(), a * 2)


@test
def non_contiguous_copied_in_c_order():
    base = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    for a in (base.transpose(2, 0, 1), base[:, ::2, 1::3], np.asfortranarray(base)):
        t = Ncfm.Tensor.new_from_numpy(DEV, a)
        assert t.get_shape() == list(a.shape)
        assert raw(t) == np.ascontiguousarray(a).tobytes(), a.strides
        assert np.array_equal(t.to_numpy(), a)


@test
def unsupported_dtypes_refused():
    raises(TypeError, lambda: Ncfm.Tensor.new_from_numpy(DEV, np.zeros(3)),
           'numpy dtype float64', 'float32 (F32)', 'astype')
    raises(TypeError, lambda: Ncfm.Tensor.new_from_numpy(DEV, np.zeros(3, np.float16)), 'float16')
    raises(TypeError, lambda: Ncfm.Tensor.new_from_numpy(DEV, np.zeros(3, np.complex64)),
           'complex64')
    raises(TypeError, lambda: Ncfm.Tensor.new_from_numpy(DEV, np.zeros(3, '>f4')), "'>f4'",
           'native byte order')
    raises(TypeError, lambda: Ncfm.Tensor.new_from_numpy(DEV, [1.0, 2.0]), 'a list is not')
    # rank above libncfm's maximum: the C error
    raises(GLib.Error, lambda: Ncfm.Tensor.new_from_numpy(DEV, np.zeros((1,) * 9, np.float32)),
           'rank 9')


@test
def mismatched_data_refused():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    # raw bytes of the wrong length: the C check
    raises(GLib.Error, lambda: Ncfm.Tensor.new_from_data(DEV, Ncfm.DType.F32, [2, 3, 4],
                                                          a.tobytes()[:-1]),
           '95 bytes', 'F32 [2, 3, 4]', '96 bytes')
    raises(GLib.Error, lambda: Ncfm.Tensor.new_from_data(DEV, Ncfm.DType.F32, [2, 3, 4],
                                                          a.tobytes() + b'\0'), '97 bytes')
    # 24 int32 elements for a 24-byte F32 tensor: once each element taken as a byte
    ints = np.arange(24, dtype=np.int32)
    raises(TypeError, lambda: Ncfm.Tensor.new_from_data(DEV, Ncfm.DType.F32, [6], ints),
           'dtype int32', 'F32 tensor')
    raises(ValueError, lambda: Ncfm.Tensor.new_from_data(DEV, Ncfm.DType.F32, [6, 4], a),
           '(2, 3, 4)', '[6, 4]')
    t = Ncfm.Tensor.new_from_numpy(DEV, a)
    raises(ValueError, lambda: t.set_data(a.reshape(4, 6)), '(4, 6)', '[2, 3, 4]')
    raises(TypeError, lambda: t.set_data(a.astype(np.float64)), 'float64')
    raises(GLib.Error, lambda: t.set_data(b'\0' * 8), '8 bytes')
    assert raw(t) == a.tobytes()  # every refusal left the tensor as it was


@test
def view_outlives_tensor():
    a = np.arange(4096, dtype=np.float32).reshape(64, 64)
    t = Ncfm.Tensor.new_from_numpy(DEV, a)
    view = t.to_numpy()
    rows = Ncfm.Tensor.new_rows(t, 10, 4).to_numpy()  # a view of a view tensor
    del t
    gc.collect()
    # memory freed too early would now hold these
    junk = [Ncfm.Tensor.new(DEV, Ncfm.DType.F32, [64, 64]) for _ in range(16)]
    for j in junk:
        j.fill(-7.0)
    assert np.array_equal(view, a) and np.array_equal(rows, a[10:14])
    if not DEV.is_cuda():
        # a writable view of the tensor's own memory
        t = Ncfm.Tensor.new_from_numpy(DEV, a)
        v = t.to_numpy()
        v[1, 2] = 0.5
        assert np.frombuffer(raw(t), np.float32)[64 + 2] == 0.5
        assert t.to_numpy().base.tensor is not None


@test
def frame_batch_from_python():
    """NcfmFrameBatch (ncfmtensorize's data path) through GI, with numpy out."""
    batch = Ncfm.FrameBatch.new(DEV, 2, 1, 2, 2, [0.5], [0.25])
    grey = np.array([[0, 51], [204, 255]], np.uint8)
    assert batch.add(grey.tobytes(), 1, 2, 2) and batch.get_count() == 1
    t = batch.finish()
    assert t.describe() == 'F32 [1, 1, 2, 2]', t.describe()
    want = (grey.astype(np.float64) / 255 - 0.5) / 0.25
    assert np.allclose(t.to_numpy()[0, 0], want, rtol=0, atol=1e-6), t.to_numpy()
    raises(GLib.Error, batch.finish, 'no samples')
    raises(GLib.Error, lambda: batch.add(grey.tobytes(), 1, 2, 3), '4 bytes given', '1 x 2 x 3')


@test
def docstrings():
    for fn, words in ((Ncfm.Tensor.new_from_numpy, ('float32 -> F32', 'in C order')),
                      (Ncfm.Tensor.to_numpy, ('no copy', 'CUDA tensor gives a copy')),
                      (Ncfm.Tensor.new_from_data, ('raw little-endian',))):
        text = ' '.join(pydoc.render_doc(fn, renderer=pydoc.plaintext).split())
        assert all(w in text for w in words), text
    # a C function: PyGObject shows its signature (the typelib holds no gtk-doc text)
    assert Ncfm.Tensor.new.__doc__.startswith('new(device:Ncfm.Device'), Ncfm.Tensor.new.__doc__


if __name__ == '__main__':
    sys.exit(main())
