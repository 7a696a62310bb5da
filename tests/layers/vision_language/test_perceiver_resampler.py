import keras
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers import PerceiverResampler
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(5)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def _resampler(**kwargs):
    return PerceiverResampler(
        num_latents=3, num_layers=1, num_heads=2, hidden_dim=8, **kwargs
    )


@pytest.fixture(scope="module")
def resamplers():
    """A plain and an XLA resampler with the same weights."""
    pair = {xla: _resampler(xla=xla) for xla in (False, True)}
    for resampler in pair.values():
        resampler(_floats(1, 4, 12))
    pair[True].set_weights(pair[False].get_weights())
    return pair


def test_basics():
    run_layer_test(PerceiverResampler, **CASES["PerceiverResampler"])


def test_structure_is_flamingo():
    resampler = PerceiverResampler(2, 1, 2, hidden_dim=8, intermediate_dim=6)
    resampler(_floats(1, 4, 12))
    weights = resampler.weights
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in weights}
    assert shapes == {
        "latents": (2, 8),
        "input_projection/kernel": (12, 8),
        "token_norm_0/gamma": (8,),
        "token_norm_0/beta": (8,),
        "latent_norm_0/gamma": (8,),
        "latent_norm_0/beta": (8,),
        "attention_0/query/kernel": (8, 2, 4),
        "attention_0/key/kernel": (8, 2, 4),
        "attention_0/value/kernel": (8, 2, 4),
        "attention_0/output/kernel": (2, 4, 8),
        "feed_forward_norm_0/gamma": (8,),
        "feed_forward_norm_0/beta": (8,),
        "feed_forward_0/hidden/kernel": (8, 6),
        "feed_forward_0/output/kernel": (6, 8),
        "output_norm/gamma": (8,),
        "output_norm/beta": (8,),
    }
    # The same width: no projection, and the MLP is 4x wide.
    same = PerceiverResampler(2, 1, 2)
    same(_floats(1, 4, 8))
    paths = [w.path for w in same.weights]
    assert not any("input_projection" in path for path in paths)
    assert same.feed_forwards[0].hidden_dense.kernel.shape == (8, 32)


def test_one_layer_is_the_flamingo_formula():
    """Latents attend to [norm(tokens); norm(latents)] with a residual,
    then an MLP residual, then a final norm: computed by hand."""
    resampler = PerceiverResampler(3, 1, 2)
    tokens = _floats(2, 5, 8)
    outputs = resampler(tokens).numpy()
    latents = np.broadcast_to(resampler.latents.numpy(), (2, 3, 8))
    normed = resampler.latent_norms[0](latents)
    keys = np.concatenate([resampler.token_norms[0](tokens), normed], 1)
    latents = latents + resampler.attentions[0](normed, keys)
    mlp = resampler.feed_forwards[0]
    latents = latents + mlp(resampler.feed_forward_norms[0](latents))
    expected = resampler.output_norm(latents).numpy()
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_padded_tokens_never_change_the_latents(resamplers):
    resampler = resamplers[False]
    tokens = _floats(2, 6, 12)
    expected = resampler(tokens).numpy()
    # Three garbage tokens per row, at different places, inf and NaN too.
    garbage = np.array([1e4, np.inf, np.nan], "float32")[:, None]
    padded, masks = [], []
    for row, places in zip(tokens, ([0, 4, 8], [6, 7, 8]), strict=True):
        mask = np.ones(9, bool)
        mask[places] = False
        full = np.empty((9, 12), "float32")
        full[mask] = row
        full[~mask] = garbage * np.ones(12, "float32")
        padded.append(full)
        masks.append(mask)
    padded, masks = np.stack(padded), np.stack(masks)
    actual = resampler(padded, padding_mask=masks).numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_no_real_tokens_is_the_empty_image(resamplers):
    resampler = resamplers[False]
    empty = resampler(np.zeros((1, 0, 12), "float32")).numpy()
    masked = resampler(_floats(1, 4, 12), padding_mask=np.zeros((1, 4), bool))
    np.testing.assert_allclose(masked, empty, atol=1e-6)
    assert np.isfinite(empty).all()


def test_any_number_of_tokens_gives_the_same_shape(resamplers):
    inputs = keras.Input((None, 12))
    model = keras.Model(inputs, resamplers[False](inputs))
    assert model.output_shape == (None, 3, 8)
    for count in (1, 7, 50):
        assert model(_floats(2, count, 12)).shape == (2, 3, 8)


def test_xla_and_plain_give_the_same_outputs(resamplers):
    tokens = _floats(2, 5, 12)
    mask = np.arange(5)[None] < np.array([[5], [2]])
    run = tf.function(lambda r: r(tokens, padding_mask=mask))
    expected = run(resamplers[False])
    compiled = resamplers[True]._forward_fn.compiled
    assert compiled.experimental_get_tracing_count() == 0
    np.testing.assert_allclose(run(resamplers[True]), expected, atol=1e-5)
    # Compiled whole: one XLA computation for all layers.
    assert compiled.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_under_mixed_precision(resamplers, policy):
    tokens = _floats(2, 5, 12)
    mask = np.arange(5)[None] < np.array([[5], [3]])
    expected = resamplers[False](tokens, padding_mask=mask).numpy()
    resampler = _resampler(dtype=policy)
    resampler(tokens)
    resampler.set_weights(resamplers[False].get_weights())
    outputs = resampler(tokens, padding_mask=mask)
    assert outputs.dtype == policy.split("_")[1]
    assert resampler.latents.dtype == "float32"
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.1
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_latents=0), "num_latents must be a positive integer"),
        (dict(num_layers=1.5), "num_layers must be a positive integer"),
        (dict(hidden_dim=9), "hidden_dim must be divisible by num_heads"),
        (dict(intermediate_dim=-1), "intermediate_dim=-1"),
        (dict(layer_norm_epsilon=-1e-5), "layer_norm_epsilon must be"),
        (dict(dropout=1.0), "dropout must be a float in"),
        (dict(xla="no"), "xla must be True, False or"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = dict(num_latents=3, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match=message):
        PerceiverResampler(**{**arguments, **kwargs})


def test_bad_inputs(resamplers):
    resampler = resamplers[False]
    with pytest.raises(ValueError, match=r"image_tokens must have rank 3"):
        resampler(_floats(2, 12))
    with pytest.raises(ValueError, match=r"must have 12 features .* \(2, 4, 8"):
        resampler(_floats(2, 4, 8))
    with pytest.raises(ValueError, match=r"padding_mask must have rank 2"):
        resampler(_floats(2, 4, 12), padding_mask=np.ones((2, 4, 1), bool))
    with pytest.raises(ValueError, match=r"padding_mask must have the \(b"):
        resampler(_floats(2, 4, 12), padding_mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"features must be divisible by"):
        PerceiverResampler(3, 1, num_heads=2)(_floats(1, 4, 7))
