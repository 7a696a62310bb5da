"""Captions of shapes scenes scored: the `caption_truthfulness` evaluator,
`score` and the reference losses of ideal captioners."""

import keras
import pytest

import mmkeras
from mmkeras import evaluation
from mmkeras.data import caption_grammar
from mmkeras.evaluation import captioning
from mmkeras.models.builders import MODEL_BUILDERS

TINY = {
    "name": "shapes_captioner",
    "kwargs": {"hidden_dim": 16, "num_layers": 1, "filters": [8, 8, 8, 8]},
}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return MODEL_BUILDERS.call(TINY)


def test_shapes_score_accounts_for_every_caption(model):
    scores = captioning.score(model, caption_grammar.evaluation_set(10))
    # Untrained, so most captions are false; each in exactly one way.
    assert list(scores["falsehoods"]) == [
        captioning.UNGRAMMATICAL,
        *mmkeras.data._captions.FALSEHOODS,
    ]
    total = scores["truthfulness"] + sum(scores["falsehoods"].values())
    assert total == pytest.approx(1.0)
    grammar = caption_grammar.all_captions()
    scenes = caption_grammar.evaluation_set(6)[2]
    for (text, true), scene in zip(scores["examples"], scenes, strict=True):
        assert true == (text in grammar and grammar[text].is_true(scene))


def test_the_evaluator_scores_greedy_and_beam_captions(model):
    config = {
        "evaluator": {
            "name": "caption_truthfulness",
            "kwargs": {"num_images": 6, "beams": [1, 2]},
        }
    }
    metrics = evaluation.evaluate(model, config)
    assert list(metrics) == [
        "test_bleu4",
        "test_cider",
        "test_truthfulness",
        "test_bleu4_beam2",
        "test_cider_beam2",
        "test_truthfulness_beam2",
    ]
    evaluation_set = caption_grammar.evaluation_set(6)
    greedy = captioning.score(model, evaluation_set)
    beam = captioning.score(
        model, evaluation_set, mmkeras.samplers.BeamSampler(2)
    )
    assert metrics["test_truthfulness"] == greedy["truthfulness"]
    assert metrics["test_cider_beam2"] == pytest.approx(beam["cider"])


def test_reference_losses_rank_the_ideal_captioners():
    full, blind = captioning.reference_losses(20).values()
    # About 130 true captions of ~11 tokens each: log(130) / 11 ~ 0.5;
    # not knowing where objects are leaves every relation open.
    assert 0.45 < full < blind < 0.65
    assert blind - full > 0.05
