import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers import GatedCrossAttentionBlock
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(7)
# Text of width 16, image latents of width 12.
TEXT = rng.standard_normal((2, 5, 16)).astype("float32")
LATENTS = rng.standard_normal((2, 3, 12)).astype("float32")
# Row 0 sees the image from token 2 on, row 1 never.
ATTENDS = np.array([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]], bool)


def _block(**kwargs):
    return GatedCrossAttentionBlock(
        num_heads=4, intermediate_dim=24, num_key_value_heads=2, **kwargs
    )


@pytest.fixture(scope="module")
def blocks():
    """A plain and an XLA block with the same weights, gates still 0."""
    pair = {xla: _block(xla=xla) for xla in (False, True)}
    for block in pair.values():
        block(TEXT, LATENTS)
    pair[True].set_weights(pair[False].get_weights())
    return pair


@pytest.fixture(scope="module")
def opened():
    """A plain block with both gates opened."""
    block = _block()
    block(TEXT, LATENTS)
    block.attention_gate.assign(0.7)
    block.mlp_gate.assign(-0.4)
    return block


def test_basics():
    case = CASES["GatedCrossAttentionBlock"]
    run_layer_test(GatedCrossAttentionBlock, **case)


def test_structure_is_flamingo_with_llama_parts(blocks):
    weights = blocks[False].weights
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in weights}
    assert shapes == {
        "attention_gate": (),
        "mlp_gate": (),
        "cross_attention/query/kernel": (16, 4, 4),
        "cross_attention/key/kernel": (12, 2, 4),
        "cross_attention/value/kernel": (12, 2, 4),
        "cross_attention/output/kernel": (4, 4, 16),
        "cross_attention_norm/scale": (16,),
        "feed_forward/hidden/kernel": (16, 24),
        "feed_forward/gate/kernel": (16, 24),
        "feed_forward/output/kernel": (24, 16),
        "feed_forward_norm/scale": (16,),
    }
    assert blocks[False].compute_cache(LATENTS).shape == (2, 2, 3, 2, 4)


def test_at_initialisation_the_output_is_x_exactly(blocks):
    block = blocks[False]
    for seed in range(3):
        draw = np.random.default_rng(seed)
        x = (10 * draw.standard_normal((2, 5, 16))).astype("float32")
        latents = draw.standard_normal((2, 4, 12)).astype("float32")
        np.testing.assert_array_equal(block(x, latents), x)
    cache = block.compute_cache(LATENTS)
    np.testing.assert_array_equal(block(TEXT, cache=cache), TEXT)


def test_open_gates_change_only_the_rows_that_attend(opened):
    outputs = opened(TEXT, LATENTS, attends_image=ATTENDS).numpy()
    np.testing.assert_array_equal(outputs[~ATTENDS], TEXT[~ATTENDS])
    changed = np.abs(outputs - TEXT).max(-1)
    assert (changed[ATTENDS] > 1e-3).all(), changed
    # Without attends_image every row sees the image.
    everywhere = opened(TEXT, LATENTS).numpy()
    np.testing.assert_allclose(everywhere[ATTENDS], outputs[ATTENDS], 1e-6)
    assert (np.abs(everywhere - TEXT).max(-1) > 1e-3).all()


def test_each_gate_opens_its_branch():
    block = _block()
    block(TEXT, LATENTS)
    block.mlp_gate.assign(0.5)
    only_mlp = block(TEXT, LATENTS).numpy()
    mlp = block.feed_forward(block.feed_forward_norm(TEXT)).numpy()
    np.testing.assert_allclose(only_mlp, TEXT + np.tanh(0.5) * mlp, atol=1e-5)
    block.mlp_gate.assign(0.0)
    block.attention_gate.assign(-1.0)
    normed = block.cross_attention_norm(TEXT)
    attended = block.cross_attention(normed, LATENTS).numpy()
    np.testing.assert_allclose(
        block(TEXT, LATENTS), TEXT + np.tanh(-1.0) * attended, atol=1e-5
    )


def test_the_cache_gives_the_latents_outputs_step_by_step(opened):
    expected = opened(TEXT, LATENTS, attends_image=ATTENDS).numpy()
    cache = opened.compute_cache(LATENTS)
    np.testing.assert_allclose(
        opened(TEXT, cache=cache, attends_image=ATTENDS), expected, atol=1e-6
    )
    steps = [
        opened(
            TEXT[:, i : i + 1], cache=cache, attends_image=ATTENDS[:, i : i + 1]
        )
        for i in range(5)
    ]
    np.testing.assert_allclose(np.concatenate(steps, 1), expected, atol=1e-5)


def test_no_image_returns_x(opened):
    np.testing.assert_array_equal(opened(TEXT), TEXT)


def test_xla_and_plain_give_the_same_outputs_and_gradients(blocks):
    def run(block):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                outputs = block(TEXT, LATENTS, attends_image=ATTENDS)
                loss = tf.reduce_sum(outputs**2)
            return outputs, tape.gradient(loss, block.trainable_variables)

        return step

    steps = {xla: run(block) for xla, block in blocks.items()}
    # Closed gates: x exactly, compiled too.
    np.testing.assert_array_equal(steps[True]()[0], TEXT)
    cache = blocks[False].compute_cache(LATENTS)
    results, decoded = {}, {}
    for xla, block in blocks.items():
        block.attention_gate.assign(0.6)
        block.mlp_gate.assign(0.3)
        try:
            results[xla] = steps[xla]()  # the same XLA program, gates read
            decoded[xla] = tf.function(
                lambda b=block: b(
                    TEXT[:, 4:], cache=cache, attends_image=ATTENDS[:, 4:]
                )
            )()
        finally:
            block.attention_gate.assign(0.0)
            block.mlp_gate.assign(0.0)
    np.testing.assert_allclose(decoded[True], decoded[False], atol=1e-5)
    np.testing.assert_allclose(
        decoded[False], results[False][0][:, 4:], atol=1e-5
    )
    assert blocks[True]._forward_fn.compiled.experimental_get_tracing_count()
    (expected, expected_grads), (actual, grads) = results[False], results[True]
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert np.abs(actual - TEXT).max() > 1e-2
    for a, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_under_mixed_precision(opened, policy):
    expected = opened(TEXT, LATENTS).numpy()
    block = _block(dtype=policy)
    block(TEXT, LATENTS)
    # At initialisation the output is x in the compute dtype, exactly.
    dtype = policy.split("_")[1]
    np.testing.assert_array_equal(
        block(TEXT, LATENTS), tf.cast(TEXT, dtype).numpy()
    )
    block.set_weights(opened.get_weights())
    outputs = block(TEXT, LATENTS)
    assert outputs.dtype == dtype
    assert block.compute_cache(LATENTS).dtype == dtype
    assert block.attention_gate.dtype == "float32"
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.1
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_heads=0), "num_heads must be a positive integer"),
        (dict(intermediate_dim=None), "intermediate_dim must be a positive"),
        (dict(key_dim=2.5), "key_dim must be a positive integer"),
        (dict(num_key_value_heads=3), "num_key_value_heads must divide"),
        (dict(layer_norm_epsilon="1e-5"), "layer_norm_epsilon must be"),
        (dict(dropout=-0.1), "dropout must be a float in"),
        (dict(xla=None), "xla must be True, False or"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = dict(num_heads=4, intermediate_dim=8, num_key_value_heads=2)
    with pytest.raises(ValueError, match=message):
        GatedCrossAttentionBlock(**{**arguments, **kwargs})


def test_bad_inputs(blocks):
    block = blocks[False]
    cache = block.compute_cache(LATENTS)
    with pytest.raises(ValueError, match=r"not both\. Received: image_lat"):
        block(TEXT, LATENTS, cache=cache)
    with pytest.raises(ValueError, match=r"x must have rank 3"):
        block(TEXT[0], LATENTS)
    with pytest.raises(ValueError, match=r"image_latents must have rank 3"):
        block(TEXT, LATENTS[0])
    with pytest.raises(ValueError, match=r"x must have 16 features"):
        block(TEXT[..., :8], LATENTS)
    with pytest.raises(ValueError, match=r"image_latents must have 12 feat"):
        block(TEXT, TEXT)
    with pytest.raises(ValueError, match=r"image_latents must have 12 feat"):
        block.compute_cache(TEXT)
    with pytest.raises(ValueError, match=r"attends_image must have rank 2"):
        block(TEXT, LATENTS, attends_image=ATTENDS[..., None])
    with pytest.raises(ValueError, match=r"cache must have rank 5"):
        block(TEXT, cache=cache[0])
    with pytest.raises(ValueError, match=r"num_key_value_heads=2, key_dim=4"):
        block(TEXT, cache=cache[:, :, :, :1])
    with pytest.raises(ValueError, match=r"image_latents must have the batch"):
        block(TEXT, LATENTS[:1])
    with pytest.raises(ValueError, match=r"cache must have the batch size"):
        block(TEXT, cache=cache[:1])
    with pytest.raises(ValueError, match=r"attends_image must have the \(b"):
        block(TEXT, LATENTS, attends_image=ATTENDS[:, :4])


def test_the_first_call_needs_image_latents():
    block = _block()
    with pytest.raises(ValueError, match="call it the first time with image"):
        block(TEXT)
    with pytest.raises(ValueError, match="compute_cache needs the built"):
        block.compute_cache(LATENTS)
    with pytest.raises(ValueError, match="features must be divisible by"):
        _block()(TEXT[..., :15], LATENTS)
