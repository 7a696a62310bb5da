"""Reading reference checkpoints as numpy arrays, without torch.

Two formats are read: safetensors (an 8-byte little-endian header length,
a JSON header of dtype/shape/offsets, then raw data) and PyTorch's legacy
(pre-1.6, non-zip) `torch.save` format: pickles for a magic number, the
protocol version and system info, then the state dict whose tensors point
at storages by key, then the list of storage keys, then each storage as an
8-byte element count and its raw little-endian data. The unpickler only
resolves the few names a state dict needs, so a crafted file cannot run
code.
"""

import collections
import json
import math
import pickle
import struct

import numpy as np

_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
_TORCH_STORAGES = {
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "DoubleStorage": "<f8",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


def safetensors_header(path):
    """`{name: {"dtype", "shape", "data_offsets"}}` without the metadata."""
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    header.pop("__metadata__", None)
    return header


def read_safetensors(path):
    """Every tensor of a safetensors file, as `{name: np.ndarray}`."""
    header = safetensors_header(path)
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        data = file.read()[length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]])
        array = np.frombuffer(data[begin:end], dtype=dtype)
        tensors[name] = array.reshape(entry["shape"]).astype(
            dtype.newbyteorder("=")
        )
    return tensors


def read_torch_legacy(path):
    """Every tensor of a legacy `torch.save` state dict, as numpy arrays.

    Raises:
        ValueError: if the file is a zip (torch >= 1.6) checkpoint, which
            this reader does not handle.
    """
    with open(path, "rb") as file:
        if file.read(2) == b"PK":
            raise ValueError(
                f"{path} is a zip-format torch checkpoint; this reader only "
                "handles the legacy format."
            )
        file.seek(0)
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(file)
        unpickler = _StateDictUnpickler(file)
        state = unpickler.load()
        storages = {}
        for key in pickle.load(file):
            dtype = np.dtype(unpickler.storage_dtypes[key])
            (count,) = struct.unpack("<q", file.read(8))
            raw = file.read(count * dtype.itemsize)
            storages[key] = np.frombuffer(raw, dtype=dtype)
    return {
        name: _view(storages[key], offset, shape, strides)
        for name, (key, offset, shape, strides) in state.items()
    }


def parameter_count(shapes):
    """Total elements over an iterable of shapes."""
    return sum(math.prod(shape) for shape in shapes)


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storage_dtypes = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _TORCH_STORAGES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        _, storage_type, key, _location, _numel, _view = pid
        self.storage_dtypes[key] = _TORCH_STORAGES[storage_type]
        return key


def _rebuild_tensor(key, offset, shape, strides, *_):
    return key, offset, tuple(shape), tuple(strides)


def _view(storage, offset, shape, strides):
    itemsize = storage.dtype.itemsize
    array = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=shape,
        strides=tuple(s * itemsize for s in strides),
    )
    return np.array(array, dtype=storage.dtype.newbyteorder("="))
