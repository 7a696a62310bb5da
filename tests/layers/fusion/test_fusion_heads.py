"""What every fusion head shares: one call signature, padding that never
shows, a `(batch, features)` output and arguments checked by name."""

import keras
import numpy as np
import pytest

import mmkeras
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS

HEADS = sorted(name for name in FUSION_CASES if name.endswith("FusionHead"))
DRAWING_HEADS = {
    "CoAttentionFusionHead",
    "BilinearFusionHead",
    "AttentionFusionHead",
}


def _head(name):
    keras.utils.set_random_seed(0)
    kwargs = dict(FUSION_CASES[name]["init_kwargs"])
    kwargs.pop("dropout", None)
    return getattr(mmkeras.layers, name)(**kwargs)


def test_every_head_is_public_and_has_a_case():
    public = {n for n in mmkeras.layers.__all__ if n.endswith("FusionHead")}
    assert public == set(HEADS) and len(HEADS) == 7


@pytest.mark.parametrize("name", HEADS)
def test_padded_question_tokens_never_change_the_output(name):
    head = _head(name)
    before = np.asarray(head(*HEAD_ARGS))
    changed = np.where(TEXT_MASK[..., None], TEXT_TOKENS, 100.0)
    after = head(IMAGE_TOKENS, changed, TEXT_MASK, TEXT)
    np.testing.assert_allclose(after, before, atol=1e-5)


@pytest.mark.parametrize("name", HEADS)
def test_the_image_and_the_question_both_matter(name):
    head = _head(name)
    before = np.asarray(head(*HEAD_ARGS))
    images = np.roll(IMAGE_TOKENS, 1, axis=0)
    other_image = head(images, TEXT_TOKENS, TEXT_MASK, TEXT)
    assert not np.allclose(other_image, before, atol=1e-4)
    # Heads that read the question tokens or only the pooled question:
    # change both, keeping the padding.
    other_question = head(IMAGE_TOKENS, TEXT_TOKENS * -2.0, TEXT_MASK, -TEXT)
    assert not np.allclose(other_question, before, atol=1e-4)


@pytest.mark.parametrize("name", HEADS)
def test_image_attention_where_the_question_looks(name):
    head = _head(name)
    head(*HEAD_ARGS)
    if name not in DRAWING_HEADS:
        with pytest.raises(ValueError, match=f"{name} has no attention"):
            head.image_attention(*HEAD_ARGS)
        return
    maps = np.asarray(head.image_attention(*HEAD_ARGS))
    assert maps.shape == (3, 9) and np.all(maps >= 0.0)
    total = maps.sum(-1)
    if name == "AttentionFusionHead":  # the query weighs the question too
        assert np.all((total > 0.0) & (total < 1.0))
    else:
        np.testing.assert_allclose(total, 1.0, atol=1e-5)


@pytest.mark.parametrize("name", HEADS)
def test_inputs_of_the_wrong_rank_are_named(name):
    head = _head(name)
    with pytest.raises(ValueError, match="question_pooled must have rank 2"):
        head(IMAGE_TOKENS, TEXT_TOKENS, TEXT_MASK, TEXT_TOKENS)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        (
            "CoAttentionFusionHead",
            dict(hidden_dim=0, num_heads=2),
            "hidden_dim=0",
        ),
        (
            "CoAttentionFusionHead",
            dict(hidden_dim=16, num_heads=3),
            "num_heads=3",
        ),
        ("BilinearFusionHead", dict(hidden_dim=16, num_heads=0), "num_heads=0"),
        (
            "AttentionFusionHead",
            dict(hidden_dim=16, num_heads=2, dropout=1.5),
            "dropout=1.5",
        ),
        (
            "RelationFusionHead",
            dict(hidden_dim=16, num_layers=0),
            "num_layers=0",
        ),
        (
            "TransformerFusionHead",
            dict(hidden_dim=16, num_heads=2, num_layers=-1),
            "num_layers=-1",
        ),
        ("FiLMFusionHead", dict(hidden_dim=2.5), "hidden_dim=2.5"),
    ],
)
def test_bad_arguments_are_named(name, kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        getattr(mmkeras.layers, name)(**kwargs)
    assert "Received" in str(error.value)
