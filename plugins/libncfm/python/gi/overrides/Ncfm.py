# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject overrides for Ncfm-1.0: NcfmTensor to and from numpy.

Ncfm.Tensor.new_from_numpy(device, array) and tensor.to_numpy() move typed
arrays in and out with their dtype and shape checked; new_from_data() and
set_data() keep taking raw bytes (bytes, bytearray, a 'B' memoryview) but
refuse a typed array whose dtype or shape differs from the tensor's instead
of reading its elements as bytes.  numpy is imported only when one of these
is called, so Ncfm works without it."""
from ..module import get_introspection_module
from ..overrides import override

Ncfm = get_introspection_module('Ncfm')

__all__ = []

# numpy dtype name <-> Ncfm.DType.  Into a tensor only the types the ops and
# label paths use, so a float64 array (numpy's default) is an error rather
# than a silent conversion; out of one every type numpy has.
_FROM_NUMPY = {
    'float32': Ncfm.DType.F32,
    'int32': Ncfm.DType.I32,
    'int64': Ncfm.DType.I64,
    'uint8': Ncfm.DType.U8,
}
_TO_NUMPY = dict((v, k) for k, v in _FROM_NUMPY.items())
_TO_NUMPY.update({
    Ncfm.DType.F64: 'float64',
    Ncfm.DType.F16: 'float16',
    Ncfm.DType.I16: 'int16',
    Ncfm.DType.I8: 'int8',
    Ncfm.DType.BOOL: 'bool',
})


def _numpy():
    import numpy
    return numpy


def _dtype_name(dtype):
    return dtype.value_nick.upper() if hasattr(dtype, 'value_nick') else str(dtype)


def _as_array(what, obj):
    """obj (a numpy array or any buffer-protocol object) as a numpy array."""
    np = _numpy()
    if isinstance(obj, np.ndarray):
        return obj
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f'{what}: a {type(obj).__name__} is not an array or buffer '
                        '(give a numpy array, bytes, array.array or memoryview)') from None
    return np.asarray(view)


def _ncfm_dtype(what, array):
    """The Ncfm.DType of a numpy array's dtype, or TypeError naming it."""
    dt = array.dtype
    if not dt.isnative:
        raise TypeError(f"{what}: numpy dtype '{dt.str}' is not in native byte order; "
                        f"convert it with array.astype('{dt.newbyteorder('=').name}')")
    try:
        return _FROM_NUMPY[dt.name]
    except KeyError:
        names = ', '.join(f'{k} ({_dtype_name(v)})' for k, v in _FROM_NUMPY.items())
        raise TypeError(f'{what}: numpy dtype {dt.name} has no tensor type (supported: {names}); '
                        'convert it explicitly, e.g. array.astype(numpy.float32)') from None


def _is_raw(data):
    """bytes, bytearray, a memoryview of bytes, or no buffer at all (a list
    of byte values): what the C API's data argument means.  A numpy array
    or a typed buffer (array.array('f')) is not raw."""
    if isinstance(data, (bytes, bytearray)):
        return True
    if hasattr(data, '__array_interface__'):
        return False
    try:
        return memoryview(data).format in ('B', 'b', 'c')
    except TypeError:
        return True


def _raw_bytes(what, dtype, shape, data):
    """data for a C call taking raw bytes: raw bytes as they are (the C side
    checks their length), a typed array as its C-order bytes once its dtype
    and shape are the tensor's."""
    if _is_raw(data):
        return data
    array = _as_array(what, data)
    have = _ncfm_dtype(what, array)
    if have != dtype:
        raise TypeError(f'{what}: an array of dtype {array.dtype.name} for a {_dtype_name(dtype)} tensor '
                        '(pass bytes(array) to mean raw bytes)')
    if array.shape != tuple(shape):
        raise ValueError(f'{what}: an array of shape {array.shape} for a tensor of shape '
                         f'{list(shape)}')
    return _numpy().ascontiguousarray(array).tobytes()


class _HostMemory:
    """Exposes a host tensor's memory to numpy; the array's base, so the
    tensor stays alive as long as any array viewing it."""

    def __init__(self, tensor, typestr, shape):
        self.tensor = tensor
        address = tensor.get_host_address()
        self.__array_interface__ = {'version': 3, 'shape': shape, 'typestr': typestr,
                                    'data': (address, False)}


class Tensor(Ncfm.Tensor):

    @classmethod
    def new_from_numpy(cls, device, array):
        """Ncfm.Tensor.new_from_numpy(device, array) -> Ncfm.Tensor

        A new tensor on device holding a copy of array (a numpy array or any
        buffer-protocol object: array.array, memoryview, bytes as uint8).
        The tensor's type comes from the array's dtype: float32 -> F32,
        int32 -> I32, int64 -> I64, uint8 -> U8; any other dtype (float64
        included) raises TypeError naming it, convert explicitly with
        array.astype().  The shape is the array's.  A non-contiguous array
        (a transpose, a strided slice) is copied element by element in C
        order, never read as its raw memory.  Raises GLib.Error for a shape
        libncfm refuses (rank above 8, out of memory)."""
        np = _numpy()
        what = 'Ncfm.Tensor.new_from_numpy'
        array = _as_array(what, array)
        dtype = _ncfm_dtype(what, array)
        shape = list(array.shape)
        if device.is_cuda():
            return Ncfm.Tensor.new_from_data(device, dtype, shape,
                                             np.ascontiguousarray(array).tobytes())
        tensor = Ncfm.Tensor.new(device, dtype, shape)
        np.copyto(tensor.to_numpy(), array, casting='no')
        return tensor

    @classmethod
    def new_from_data(cls, device, dtype, shape, data):
        """Ncfm.Tensor.new_from_data(device, dtype, shape, data) -> Ncfm.Tensor

        A new tensor holding a copy of data: raw little-endian row-major
        bytes (bytes, bytearray, a 'B' memoryview) whose length must be the
        tensor's size in bytes (GLib.Error otherwise), or a typed array
        whose dtype and shape must be the tensor's (TypeError, ValueError
        otherwise); see new_from_numpy()."""
        data = _raw_bytes('Ncfm.Tensor.new_from_data', dtype, shape, data)
        return Ncfm.Tensor.new_from_data(device, dtype, shape, data)

    def set_data(self, data):
        """tensor.set_data(data) -> bool

        Overwrites the tensor with data: raw bytes of exactly its size
        (GLib.Error otherwise) or a typed array of its dtype and shape
        (TypeError, ValueError otherwise)."""
        data = _raw_bytes('Ncfm.Tensor.set_data', self.get_dtype(), self.get_shape(), data)
        return Ncfm.Tensor.set_data(self, data)

    def to_numpy(self):
        """tensor.to_numpy() -> numpy.ndarray

        The tensor as a numpy array of its shape and dtype.  A tensor in
        host memory (the CPU device) gives a writable view, no copy: writes
        through it change the tensor, and the array keeps the tensor alive
        after the last Python reference to it goes.  Do not read it while
        libncfm writes the tensor in another thread.  A CUDA tensor gives a
        copy (device to host), detached from the tensor.  BF16 has no numpy
        type: TypeError."""
        np = _numpy()
        try:
            dtype = np.dtype(_TO_NUMPY[self.get_dtype()]).newbyteorder('<')
        except KeyError:
            raise TypeError(f'Ncfm.Tensor.to_numpy: {self.describe()} has no numpy '
                            'dtype') from None
        shape = tuple(self.get_shape())
        if self.get_device().is_cuda():
            return np.frombuffer(bytearray(self.to_bytes().get_data()), dtype).reshape(shape)
        if self.get_numel() == 0:
            return np.empty(shape, dtype)
        return np.asarray(_HostMemory(self, dtype.str, shape))

    def __array__(self, dtype=None, copy=None):
        """numpy.asarray(tensor): to_numpy(), converted to dtype or copied on request."""
        array = self.to_numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array


Tensor = override(Tensor)
__all__.append('Tensor')
