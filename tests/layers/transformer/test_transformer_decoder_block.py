import numpy as np
import pytest

from mmkeras.layers import TransformerDecoderBlock
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(3)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def test_basics():
    run_layer_test(TransformerDecoderBlock, **CASES["TransformerDecoderBlock"])


def test_decoder_only_block():
    run_layer_test(
        TransformerDecoderBlock,
        init_kwargs=dict(num_heads=2, intermediate_dim=16),
        args=(_floats(2, 4, 8),),
        expected_output_shape=(2, 4, 8),
        expected_num_trainable_weights=16,
        run_mixed_precision=False,
    )


@pytest.mark.parametrize("xla", [True, False])
def test_cached_decoding_equals_full_pass(xla):
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32, xla=xla)
    tokens, image = _floats(2, 5, 16), _floats(2, 9, 24)
    image_mask = np.arange(9)[None] < np.array([[9], [5]])
    full = block(tokens, image, encoder_padding_mask=image_mask).numpy()

    self_cache = block.empty_cache(batch_size=2, max_length=5)
    cross_cache = block.compute_cross_attention_cache(image)
    steps = []
    for index in range(5):
        output, self_cache = block(
            tokens[:, index : index + 1],
            encoder_padding_mask=image_mask,
            self_attention_cache=self_cache,
            self_attention_cache_update_index=index,
            cross_attention_cache=cross_cache,
        )
        steps.append(output.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


def test_future_tokens_do_not_leak():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    tokens, image = _floats(1, 5, 16), _floats(1, 3, 16)
    before = block(tokens, image).numpy()
    changed = tokens.copy()
    changed[:, 3:] = 0.0
    after = block(changed, image).numpy()
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)


def test_cross_attention_without_encoder_sequence_is_explained():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8)
    tokens = _floats(1, 3, 8)
    block(tokens)
    with pytest.raises(ValueError, match="built without an encoder_sequence"):
        block(tokens, _floats(1, 2, 8))


def test_cross_attention_scores_match_between_full_and_cached_passes():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    tokens, image = _floats(2, 4, 16), _floats(2, 9, 24)
    image_mask = np.arange(9)[None] < np.array([[9], [5]])
    full, scores = block(
        tokens,
        image,
        encoder_padding_mask=image_mask,
        return_cross_attention_scores=True,
    )
    assert scores.shape == (2, 2, 4, 9)
    np.testing.assert_allclose(np.sum(scores, -1), 1.0, atol=1e-5)
    # Padded image tokens get no attention.
    np.testing.assert_allclose(scores[1, :, :, 5:], 0.0, atol=1e-7)
    self_cache = block.empty_cache(batch_size=2, max_length=4)
    output, _, step_scores = block(
        tokens[:, :1],
        encoder_padding_mask=image_mask,
        self_attention_cache=self_cache,
        self_attention_cache_update_index=0,
        cross_attention_cache=block.compute_cross_attention_cache(image),
        return_cross_attention_scores=True,
    )
    np.testing.assert_allclose(output, full[:, :1], atol=1e-5)
    np.testing.assert_allclose(step_scores, scores[:, :, :1], atol=1e-5)


def test_unrolled_steps_share_one_compiled_function():
    import tensorflow as tf

    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32, xla=True)
    tokens = _floats(2, 4, 16)
    block.build(tokens.shape)

    @tf.function
    def decode():
        cache = block.empty_cache(batch_size=2, max_length=4)
        for index in range(4):  # Python ints, one per step
            _, cache = block(
                tokens[:, index : index + 1],
                self_attention_cache=cache,
                self_attention_cache_update_index=index,
            )
        return cache

    decode()
    assert block._forward_fn.compiled.experimental_get_tracing_count() == 1


def test_xla_and_plain_blocks_have_equal_gradients():
    tokens, image = _floats(2, 5, 16), _floats(2, 9, 24)
    xla = TransformerDecoderBlock(2, intermediate_dim=32, xla=True)
    plain = TransformerDecoderBlock(2, intermediate_dim=32, xla=False)
    xla(tokens, image)
    plain(tokens, image)
    plain.set_weights(xla.get_weights())
    expected, actual = (_gradients(b, tokens, image) for b in (xla, plain))
    # Float32 round-off, relative to the largest gradient (some are ~0).
    tolerance = 1e-5 * max(np.abs(g).max() for g in actual)
    for x, p in zip(expected, actual, strict=True):
        np.testing.assert_allclose(x, p, atol=tolerance)


def _gradients(block, *inputs):
    import tensorflow as tf

    @tf.function  # the compiled path runs in graphs only
    def gradients():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(block(*inputs, training=True)))
        return tape.gradient(loss, block.trainable_variables)

    return [g.numpy() for g in gradients()]
