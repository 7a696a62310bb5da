import keras
import numpy as np
import pytest

from mmkeras.encoders import TransformerTextEncoder
from mmkeras.testing import run_layer_test

_IDS = np.array([[5, 6, 7, 8, 9], [3, 4, 2, 0, 0]], "int32")
_SMALL = dict(
    vocabulary_size=20,
    sequence_length=8,
    hidden_dim=16,
    num_layers=2,
    num_heads=2,
    intermediate_dim=32,
)


def test_basics():
    run_layer_test(
        TransformerTextEncoder,
        _SMALL,
        args=(_IDS,),
        expected_output_shape=((2, 16), (2, 5, 16)),
        # Embedding 2, 16 per block, output norm 2.
        expected_num_trainable_weights=36,
    )


def test_preset_shapes():
    encoder = TransformerTextEncoder.from_preset("small", vocabulary_size=50)
    outputs = encoder(_IDS)
    assert outputs["tokens"].shape == (2, 5, 256)
    assert outputs["pooled"].shape == (2, 256)


def test_padding_never_changes_real_tokens():
    encoder = TransformerTextEncoder(**_SMALL)
    short = encoder(_IDS[1:, :3])
    padded = encoder(_IDS[1:])
    np.testing.assert_allclose(
        padded["tokens"][:, :3], short["tokens"], atol=1e-5
    )
    np.testing.assert_allclose(padded["pooled"], short["pooled"], atol=1e-5)


def test_tokens_carry_the_padding_mask_in_a_functional_model():
    encoder = TransformerTextEncoder(**_SMALL, pooling="mean")
    ids = keras.Input((5,), dtype="int32")
    outputs = encoder(ids)
    # A masked average only equals "pooled" if the mask reached it.
    average = keras.layers.GlobalAveragePooling1D()(outputs["tokens"])
    model = keras.Model(ids, [average, outputs["pooled"]])
    average, pooled = model(_IDS)
    np.testing.assert_allclose(average, pooled, atol=1e-5)


def test_first_pooling_reads_the_first_token():
    outputs = TransformerTextEncoder(**_SMALL, pooling="first")(_IDS)
    np.testing.assert_allclose(outputs["pooled"], outputs["tokens"][:, 0])


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="Available presets: small, tiny"):
        TransformerTextEncoder.from_preset("large", vocabulary_size=10)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="vocabulary_size=0"):
        TransformerTextEncoder(vocabulary_size=0)
    with pytest.raises(ValueError, match="dropout=1.5"):
        TransformerTextEncoder(vocabulary_size=10, dropout=1.5)
