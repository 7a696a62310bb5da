import numpy as np
import pytest

from mmkeras.layers import TransformerEncoderBlock
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(2)


def test_basics():
    run_layer_test(TransformerEncoderBlock, **CASES["TransformerEncoderBlock"])


def test_post_layer_norm_variant():
    run_layer_test(
        TransformerEncoderBlock,
        init_kwargs=dict(num_heads=2, intermediate_dim=16, norm_first=False),
        args=(rng.standard_normal((2, 4, 8)).astype("float32"),),
        expected_output_shape=(2, 4, 8),
        run_mixed_precision=False,
    )


def test_padding_never_changes_real_positions():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    tokens = rng.standard_normal((2, 6, 16)).astype("float32")
    mask = np.arange(6)[None] < np.array([[6], [4]])
    before = block(tokens, padding_mask=mask).numpy()
    noisy = np.where(mask[..., None], tokens, 50.0)
    after = block(noisy, padding_mask=mask).numpy()
    np.testing.assert_allclose(after[1, :4], before[1, :4], atol=1e-5)
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)


def test_xla_and_plain_blocks_agree():
    tokens = rng.standard_normal((2, 6, 16)).astype("float32")
    mask = np.arange(6)[None] < np.array([[6], [2]])
    xla = TransformerEncoderBlock(2, intermediate_dim=32, xla=True)
    plain = TransformerEncoderBlock(2, intermediate_dim=32, xla=False)
    expected = xla(tokens, padding_mask=mask)
    plain(tokens)
    plain.set_weights(xla.get_weights())
    actual = plain(tokens, padding_mask=mask)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_heads_must_divide_features():
    block = TransformerEncoderBlock(num_heads=3, intermediate_dim=8)
    with pytest.raises(ValueError, match="features=16, num_heads=3"):
        block(np.zeros((1, 2, 16), "float32"))


def test_bad_input_rank():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=8)
    with pytest.raises(ValueError, match=r"inputs must have rank 3.*\(2, 16\)"):
        block(np.zeros((2, 16), "float32"))


def test_keras_padding_mask_is_used_without_being_passed():
    import keras

    embedding = keras.layers.Embedding(20, 16, mask_zero=True)
    block = TransformerEncoderBlock(2, intermediate_dim=32)
    ids = keras.Input((6,), dtype="int32")
    model = keras.Model(ids, block(embedding(ids)))
    tokens = np.array([[5, 6, 7, 0, 0, 0]], "int32")
    vectors = embedding(tokens)
    explicit = block(vectors, padding_mask=tokens != 0)
    unmasked = block(vectors, padding_mask=np.ones_like(tokens, bool))
    implicit = model(tokens)
    np.testing.assert_allclose(implicit[:, :3], explicit[:, :3], atol=1e-6)
    assert not np.allclose(implicit[:, :3], unmasked[:, :3], atol=1e-3)


@pytest.mark.parametrize("xla", [True, False])
def test_an_xla_block_is_one_compiled_function(xla):
    import tensorflow as tf

    block = TransformerEncoderBlock(2, intermediate_dim=32, xla=xla)
    spec = tf.TensorSpec((2, 6, 16))
    graph = tf.function(block).get_concrete_function(spec).graph
    outer = [op.node_def for op in graph.get_operations()]
    nodes = outer + [
        node
        for function in graph._functions.values()
        for node in function.definition.node_def
    ]
    xla_calls = [n for n in nodes if n.attr["_XlaMustCompile"].b]
    matmuls_outside = [n for n in outer if "MatMul" in n.op or n.op == "Einsum"]
    # With xla, every matmul (MLP too) is in the one compiled call, and the
    # attention core inside it is plain, not a second one.
    assert len(xla_calls) == (1 if xla else 0)
    assert bool(matmuls_outside) is not xla


def test_eager_calls_run_the_plain_path_and_graphs_the_compiled_one():
    import tensorflow as tf

    block = TransformerEncoderBlock(2, intermediate_dim=32, xla=True)
    tokens = rng.standard_normal((2, 6, 16)).astype("float32")
    eager = block(tokens)
    assert block._forward_fn.compiled.experimental_get_tracing_count() == 0
    np.testing.assert_allclose(tf.function(block)(tokens), eager, atol=1e-5)
    assert block._forward_fn.compiled.experimental_get_tracing_count() == 1


def test_a_compiled_block_applies_dropout_in_training_only():
    import tensorflow as tf

    block = TransformerEncoderBlock(
        2, intermediate_dim=32, dropout=0.5, xla=True
    )
    tokens = rng.standard_normal((2, 6, 16)).astype("float32")
    run = tf.function(lambda x, training: block(x, training=training))
    inference = run(tokens, False).numpy()
    np.testing.assert_array_equal(run(tokens, False), inference)
    first = run(tokens, True).numpy()
    second = run(tokens, True).numpy()
    assert not np.allclose(first, inference, atol=1e-3)
    assert not np.allclose(first, second, atol=1e-3)  # the seeds move on
    assert block._forward_fn.compiled.experimental_get_tracing_count() == 2


def test_xla_and_plain_blocks_have_equal_gradients():
    import tensorflow as tf

    tokens = rng.standard_normal((2, 6, 16)).astype("float32")
    mask = np.arange(6)[None] < np.array([[6], [3]])
    blocks = [
        TransformerEncoderBlock(2, intermediate_dim=32, xla=xla)
        for xla in (True, False)
    ]
    for block in blocks:
        block(tokens)
    blocks[1].set_weights(blocks[0].get_weights())
    gradients = []
    for block in blocks:

        @tf.function  # the compiled path runs in graphs only
        def gradient(block=block):
            with tf.GradientTape() as tape:
                outputs = block(tokens, padding_mask=mask, training=True)
                loss = tf.reduce_sum(tf.square(outputs))
            return tape.gradient(loss, block.trainable_variables)

        gradients.append(gradient())
    # Float32 round-off, relative to the largest gradient (some are ~0).
    tolerance = 1e-5 * max(np.abs(g).max() for g in gradients[1])
    for x, p in zip(*gradients, strict=True):
        np.testing.assert_allclose(x, p, atol=tolerance)
