import keras
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers.text import TokenAndPositionEmbedding
from mmkeras.testing import run_layer_test
from tests.layers.text.cases import TEXT_CASES

_CASE = TEXT_CASES["TokenAndPositionEmbedding"]
_IDS = _CASE["args"][0]


def test_basics():
    # The shared training step cannot check the token table's sparse
    # (IndexedSlices) gradient; test_training_step does it instead.
    run_layer_test(TokenAndPositionEmbedding, **_CASE, run_training_step=False)


def test_training_step():
    layer = TokenAndPositionEmbedding(**_CASE["init_kwargs"])
    ids = keras.Input(shape=_IDS.shape[1:], dtype="int32")
    model = keras.Model(ids, layer(ids))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(_IDS, training=True)))
    gradients = tape.gradient(loss, layer.trainable_weights)
    for weight, gradient in zip(
        layer.trainable_weights, gradients, strict=True
    ):
        gradient = tf.convert_to_tensor(gradient).numpy()
        assert np.all(np.isfinite(gradient)), weight.path
        assert np.any(gradient != 0), weight.path
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(_IDS, np.zeros((2, 5, 6)), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _layer(**kwargs):
    layer = TokenAndPositionEmbedding(**_CASE["init_kwargs"], **kwargs)
    layer.build(_IDS.shape)
    return layer


def test_is_token_plus_position_lookup():
    layer = _layer()
    tokens = layer.token_embedding.embeddings.numpy()
    positions = layer.position_embedding.numpy()
    expected = tokens[_IDS] + positions[: _IDS.shape[1]]
    np.testing.assert_allclose(np.asarray(layer(_IDS)), expected, atol=1e-6)


def test_mask_marks_non_zero_ids():
    layer = _layer()
    mask = np.asarray(layer.compute_mask(_IDS))
    np.testing.assert_array_equal(mask, _IDS != 0)
    assert _layer(mask_zero=False).compute_mask(_IDS) is None


def test_mask_reaches_downstream_layers():
    layer = _layer()
    ids = keras.Input(shape=(None,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(ids))
    model = keras.Model(ids, pooled)
    embedded = np.asarray(layer(_IDS))
    mask = (_IDS != 0)[..., None]
    expected = (embedded * mask).sum(axis=1) / mask.sum(axis=1)
    np.testing.assert_allclose(model(_IDS), expected, atol=1e-6)


def test_single_token_at_start_index_matches_full_sequence():
    layer = _layer()
    full = np.asarray(layer(_IDS))
    for t in range(_IDS.shape[1]):
        step = np.asarray(layer(_IDS[:, t : t + 1], start_index=t))
        np.testing.assert_allclose(step, full[:, t : t + 1], atol=1e-6)


def test_tensor_start_index_under_xla():
    layer = _layer()
    full = np.asarray(layer(_IDS))
    step = tf.function(
        lambda ids, t: layer(ids, start_index=t), jit_compile=True
    )
    for t in range(_IDS.shape[1]):
        outputs = step(_IDS[:, t : t + 1], tf.constant(t))
        np.testing.assert_allclose(outputs, full[:, t : t + 1], atol=1e-6)


def test_compute_output_shape():
    layer = TokenAndPositionEmbedding(10, 8, 6)
    assert layer.compute_output_shape((None, 5)) == (None, 5, 6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(vocabulary_size=0), "vocabulary_size=0"),
        (dict(sequence_length=-3), "sequence_length=-3"),
        (dict(embedding_dim=1.5), "embedding_dim=1.5"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    arguments = dict(vocabulary_size=10, sequence_length=8, embedding_dim=6)
    with pytest.raises(ValueError, match=message):
        TokenAndPositionEmbedding(**{**arguments, **kwargs})


def test_rejects_sequences_longer_than_sequence_length():
    layer = TokenAndPositionEmbedding(10, 8, 6)
    with pytest.raises(ValueError, match=r"sequence_length=8.*\(2, 9\)"):
        layer(np.ones((2, 9), "int32"))


def test_rejects_start_index_past_sequence_length():
    layer = _layer()
    with pytest.raises(ValueError, match="start_index=8"):
        layer(_IDS[:, :1], start_index=8)
    with pytest.raises(ValueError, match="start_index=-1"):
        layer(_IDS[:, :1], start_index=-1)


def test_rejects_bad_rank():
    layer = TokenAndPositionEmbedding(10, 8, 6)
    with pytest.raises(ValueError, match=r"rank 2.*\(2, 5, 1\)"):
        layer(np.ones((2, 5, 1), "int32"))
