import json
import pickle
import struct

import numpy as np
import pytest

from mmkeras.encoders import checkpoints


def _write_safetensors(path, tensors):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, array in tensors.items():
        raw = array.astype("<f4").tobytes()
        offsets = [len(data), len(data) + len(raw)]
        header[name] = dict(
            dtype="F32", shape=list(array.shape), data_offsets=offsets
        )
        data += raw
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)


def test_basics(tmp_path):
    tensors = {"a": np.arange(6.0).reshape(2, 3), "b": np.ones((4,))}
    _write_safetensors(tmp_path / "w.safetensors", tensors)
    read = checkpoints.read_safetensors(tmp_path / "w.safetensors")
    assert set(read) == {"a", "b"}
    np.testing.assert_array_equal(read["a"], tensors["a"])
    header = checkpoints.safetensors_header(tmp_path / "w.safetensors")
    assert header["a"]["shape"] == [2, 3]


def test_zip_torch_checkpoints_are_refused(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="zip-format"):
        checkpoints.read_torch_legacy(path)


def test_unexpected_classes_are_not_loaded(tmp_path):
    path = tmp_path / "model.pth"
    with open(path, "wb") as file:
        for header in (1, 1001, {}):
            pickle.dump(header, file, protocol=2)
        pickle.dump(print, file, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing.*print"):
        checkpoints.read_torch_legacy(path)


def test_parameter_count():
    assert checkpoints.parameter_count([(2, 3), (4,), ()]) == 11
