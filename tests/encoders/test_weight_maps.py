import keras
import numpy as np
import pytest

from mmkeras.encoders import weight_maps


def _dense_map():
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    return dense, {
        "fc.weight": (dense.kernel, (1, 0)),
        "fc.bias": (dense.bias, None),
    }


def test_basics():
    dense, weight_map = _dense_map()
    weight = np.arange(6.0).reshape(3, 2)  # torch Linear: (out, in)
    tensors = {"fc.weight": weight, "fc.bias": np.ones(3), "extra": np.ones(1)}
    assert weight_maps.assign_weights(weight_map, tensors) == ["extra"]
    np.testing.assert_array_equal(dense.kernel, weight.T)


def test_missing_tensors_are_named():
    _, weight_map = _dense_map()
    with pytest.raises(ValueError, match=r"lacks tensors \['fc.bias'\]"):
        weight_maps.assign_weights(weight_map, {"fc.weight": np.ones((3, 2))})


def test_wrong_sizes_are_named():
    _, weight_map = _dense_map()
    tensors = {"fc.weight": np.ones((3, 3)), "fc.bias": np.ones(3)}
    with pytest.raises(ValueError, match=r"fc.weight of shape \(3, 3\)"):
        weight_maps.assign_weights(weight_map, tensors)


def test_convert_transposes_then_reshapes():
    heads = weight_maps.convert(np.arange(8.0).reshape(4, 2), (1, 0), (2, 2, 2))
    np.testing.assert_array_equal(
        heads.reshape(2, 4), np.arange(8.0).reshape(4, 2).T
    )
