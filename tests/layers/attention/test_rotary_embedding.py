import numpy as np
import pytest

from mmkeras.layers import MultiHeadAttention
from mmkeras.layers import RotaryEmbedding
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(7)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def _reference(x, positions, base, layout):
    """RoPE in float64, written per pair."""
    d = x.shape[-1]
    out = np.empty(x.shape, "float64")
    for i in range(d // 2):
        theta = positions[..., None] * base ** (-2.0 * i / d)
        a, b = (
            (2 * i, 2 * i + 1) if layout == "interleaved" else (i, i + d // 2)
        )
        out[..., a] = x[..., a] * np.cos(theta) - x[..., b] * np.sin(theta)
        out[..., b] = x[..., b] * np.cos(theta) + x[..., a] * np.sin(theta)
    return out


def _half_to_interleaved(head_dim):
    """Interleaved column `2i` is half column `i`, `2i + 1` is `i + d/2`:
    the permutation llama.cpp's converter applies to HF's q and k."""
    half = head_dim // 2
    return np.stack([np.arange(half), np.arange(half) + half], -1).reshape(-1)


def test_basics():
    # No weights to train.
    run_layer_test(
        RotaryEmbedding, **CASES["RotaryEmbedding"], run_training_step=False
    )


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_matches_numpy_reference(layout):
    x = _floats(2, 6, 3, 8)
    positions = np.array([[0, 1, 2, 3, 4, 5], [0, 0, 3, 9, 100, 4000]])
    layer = RotaryEmbedding(max_wavelength=10000, layout=layout)
    np.testing.assert_allclose(
        layer(x, positions), _reference(x, positions, 10000, layout), atol=2e-4
    )
    # Position 0 is the identity; the default positions are 0, 1, ...
    np.testing.assert_allclose(layer(x, positions)[:, :1], x[:, :1], atol=1e-7)
    np.testing.assert_allclose(
        layer(x), layer(x, np.arange(6)[None].repeat(2, 0)), atol=1e-7
    )


def test_layouts_agree_after_permuting_the_head_dimensions():
    x = _floats(2, 5, 3, 8)
    positions = rng.integers(0, 50, (2, 5))
    perm = _half_to_interleaved(8)
    half = RotaryEmbedding(layout="half")(x, positions)
    interleaved = RotaryEmbedding(layout="interleaved")(x[..., perm], positions)
    np.testing.assert_allclose(
        interleaved, np.asarray(half)[..., perm], atol=1e-6
    )


def test_scores_depend_on_the_distance_only():
    layer = RotaryEmbedding(max_wavelength=100)
    q, k = _floats(1, 1, 1, 8), _floats(1, 1, 1, 8)

    def score(p, r):
        rotated_q = layer(q, np.array([[p]]))
        rotated_k = layer(k, np.array([[r]]))
        return float(np.sum(np.asarray(rotated_q) * np.asarray(rotated_k)))

    assert score(3, 1) == pytest.approx(score(10, 8), abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_attention_layouts_agree_after_permuting_the_projections():
    """HF's half-split checkpoint and llama.cpp's interleaved one: the same
    attention once the query and key columns are permuted."""
    x = _floats(2, 6, 16)
    mask = np.arange(6)[None] < np.array([[6], [4]])
    layers = {
        layout: MultiHeadAttention(
            num_heads=4,
            key_dim=8,
            num_key_value_heads=2,
            use_bias=False,
            rope_max_wavelength=10000,
            rope_layout=layout,
        )
        for layout in ("half", "interleaved")
    }
    for layer in layers.values():
        layer(x, x)
    weights = layers["half"].get_weights()
    perm = _half_to_interleaved(8)
    query, key, value, output = weights
    layers["interleaved"].set_weights(
        [query[..., perm], key[..., perm], value, output]
    )
    expected = layers["half"](x, x, value_mask=mask, use_causal_mask=True)
    actual = layers["interleaved"](x, x, value_mask=mask, use_causal_mask=True)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    # Unpermuted, the interleaved layer computes something else.
    layers["interleaved"].set_weights(weights)
    other = layers["interleaved"](x, x, value_mask=mask, use_causal_mask=True)
    assert not np.allclose(other, expected, atol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_angles_run_in_float32_under_mixed_precision(policy):
    x = _floats(1, 3, 2, 64)
    # Far positions: a 16-bit angle p * theta would be off by whole turns.
    positions = np.array([[1000, 5000, 8191]])
    outputs = RotaryEmbedding(100000, dtype=policy)(x, positions)
    dtype = policy.split("_")[1]
    assert outputs.dtype == dtype
    expected = _reference(
        x.astype(dtype).astype("float32"), positions, 100000, "interleaved"
    )
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.05
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_wavelength=1), "max_wavelength must be a number > 1"),
        (dict(max_wavelength="big"), "Received: max_wavelength='big'"),
        (dict(layout="split"), "layout must be one of 'interleaved', 'half'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RotaryEmbedding(**kwargs)


def test_odd_head_size_is_refused():
    with pytest.raises(ValueError, match=r"head size\) must be even.*7\)"):
        RotaryEmbedding()(_floats(1, 2, 3, 7))
