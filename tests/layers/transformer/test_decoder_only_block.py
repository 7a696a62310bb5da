import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers import DecoderOnlyBlock
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(11)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def _block(**kwargs):
    return DecoderOnlyBlock(
        num_heads=4, num_key_value_heads=2, intermediate_dim=24, **kwargs
    )


@pytest.fixture(scope="module")
def blocks():
    """A plain and an XLA block with the same weights."""
    pair = {xla: _block(xla=xla) for xla in (False, True)}
    for block in pair.values():
        block(_floats(1, 2, 16))
    pair[True].set_weights(pair[False].get_weights())
    return pair


def test_basics():
    run_layer_test(DecoderOnlyBlock, **CASES["DecoderOnlyBlock"])


def test_structure_is_llama():
    block = _block(head_dim=6)
    block(_floats(1, 3, 16))
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in block.weights}
    assert shapes == {
        "self_attention/query/kernel": (16, 4, 6),
        "self_attention/key/kernel": (16, 2, 6),
        "self_attention/value/kernel": (16, 2, 6),
        "self_attention/output/kernel": (4, 6, 16),
        "self_attention_norm/scale": (16,),
        "feed_forward/hidden/kernel": (16, 24),
        "feed_forward/gate/kernel": (16, 24),
        "feed_forward/output/kernel": (24, 16),
        "feed_forward_norm/scale": (16,),
    }
    assert block.empty_cache(3, 7).shape == (3, 2, 7, 2, 6)


@pytest.mark.parametrize("xla", [False, True])
def test_cached_decoding_equals_full_pass(blocks, xla):
    block = blocks[xla]
    x = _floats(2, 6, 16)
    mask = np.ones((2, 6), bool)
    mask[1, :2] = False  # left padding
    positions = np.maximum(np.cumsum(mask, 1) - 1, 0)
    full = blocks[False](x, padding_mask=mask, positions=positions).numpy()

    @tf.function  # the compiled path runs in graphs only
    def decode():
        cache = block.empty_cache(2, 8)
        cache_mask = np.concatenate([mask, np.ones((2, 2), bool)], 1)
        output, cache = block(
            x[:, :3],
            padding_mask=cache_mask,
            positions=positions[:, :3],
            cache=cache,
            cache_update_index=0,
        )
        steps = [output]
        for index in range(3, 6):
            output, cache = block(
                x[:, index : index + 1],
                padding_mask=cache_mask,
                positions=positions[:, index : index + 1],
                cache=cache,
                cache_update_index=index,
            )
            steps.append(output)
        return tf.concat(steps, 1)

    decoded = decode().numpy()
    np.testing.assert_allclose(decoded[mask], full[mask], atol=1e-5)


def test_padded_tokens_never_change_real_outputs(blocks):
    block = blocks[False]
    x = _floats(2, 5, 16)
    mask = np.arange(5)[None] < np.array([[5], [3]])
    before = block(x, padding_mask=mask).numpy()
    noisy = np.where(mask[..., None], x, 100.0 * _floats(2, 5, 16))
    after = block(noisy, padding_mask=mask).numpy()
    np.testing.assert_allclose(after[mask], before[mask], atol=1e-5)
    # Left padding with positions counted from the first real token gives
    # the unpadded sequence's outputs.
    left = np.concatenate([_floats(1, 2, 16), x[1:, :3]], 1)
    left_mask = np.array([[False, False, True, True, True]])
    padded = block(left, padding_mask=left_mask, positions=[[0, 0, 0, 1, 2]])
    np.testing.assert_allclose(padded[:, 2:], before[1:, :3], atol=1e-5)


def test_future_tokens_do_not_leak(blocks):
    x = _floats(1, 5, 16)
    before = blocks[False](x).numpy()
    changed = x.copy()
    changed[:, 3:] = 0.0
    after = blocks[False](changed).numpy()
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)


def test_xla_and_plain_give_the_same_outputs_and_gradients(blocks):
    x = _floats(2, 5, 16)
    mask = np.arange(5)[None] < np.array([[5], [4]])

    def run(block):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                outputs = block(x, padding_mask=mask)
                loss = tf.reduce_sum(outputs**2)
            return outputs, tape.gradient(loss, block.trainable_variables)

        return step()

    (expected, expected_grads), (actual, grads) = (
        run(blocks[False]),
        run(blocks[True]),
    )
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    for a, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-4)


def test_the_compiled_block_writes_the_cache_in_place(blocks):
    """XLA's dynamic-update-slice, not the exportable gather and select."""
    block = blocks[True]
    step = _floats(1, 1, 16)
    cache = block.empty_cache(1, 4)
    block(step, cache=cache, cache_update_index=0)  # traces the plain path
    tf.function(
        lambda: block(step, cache=cache, cache_update_index=tf.constant(1))
    )()
    graph = block._forward_fn.compiled.get_concrete_function(
        step, None, None, cache, tf.constant(1), None
    ).graph
    types = {op.type for op in graph.get_operations()}
    assert "XlaDynamicUpdateSlice" in types
    assert "GatherV2" not in types


def test_under_mixed_bfloat16(blocks):
    x = _floats(2, 5, 16)
    expected = blocks[False](x).numpy()
    block = _block(dtype="mixed_bfloat16")
    block(x)
    block.set_weights(blocks[False].get_weights())
    outputs = block(x)
    assert outputs.dtype == "bfloat16"
    assert block.empty_cache(1, 2).dtype == "bfloat16"
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.1
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_key_value_heads=3), "num_key_value_heads must divide"),
        (dict(rope_max_wavelength=None), "needs a rotary embedding"),
        (dict(rope_layout="pairs"), "rope_layout must be one of"),
        (dict(head_dim=0), "head_dim=0"),
        (dict(xla="no"), "xla must be True, False or"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecoderOnlyBlock(
            num_heads=4,
            intermediate_dim=8,
            **{"num_key_value_heads": 2, **kwargs},
        )


def test_cache_and_index_go_together(blocks):
    block = blocks[False]
    with pytest.raises(ValueError, match="Pass cache and cache_update_index"):
        block(_floats(1, 1, 16), cache=block.empty_cache(1, 3))
