"""The `accuracy` evaluator: Keras accuracy on a config's validation
split, and on variants of it."""

import numpy as np
import pytest

import mmkeras
from mmkeras import evaluation
from mmkeras.models.builders import MODEL_BUILDERS

CONFIG = {
    "model": {"name": "color_match_fusion", "kwargs": {"hidden_dim": 16}},
    "data": {
        "name": "color_match",
        "kwargs": {"num_train": 32, "num_validation": 48, "batch_size": 16},
    },
    "evaluator": {"name": "accuracy", "kwargs": {"prefix": "validation"}},
}


@pytest.fixture(scope="module")
def model():
    return MODEL_BUILDERS.call(CONFIG["model"])


def _expected(model, num_examples, seed):
    raw = mmkeras.data.color_match_arrays(num_examples, seed)
    predicted = model.predict(raw, verbose=0).argmax(-1)
    return float(np.mean(predicted == raw["label"]))


def test_accuracy_is_the_share_of_right_validation_answers(model):
    metrics = evaluation.evaluate(model, CONFIG)
    assert list(metrics) == ["validation_accuracy"]
    assert metrics["validation_accuracy"] == pytest.approx(
        _expected(model, 48, seed=1)
    )


def test_splits_evaluate_the_validation_data_built_otherwise(model):
    config = dict(CONFIG)
    config["evaluator"] = {
        "name": "accuracy",
        "kwargs": {"prefix": "test", "splits": {"seed_5": {"seed": 4}}},
    }
    metrics = evaluation.evaluate(model, config)
    assert list(metrics) == ["test_accuracy", "test_seed_5_accuracy"]
    assert metrics["test_seed_5_accuracy"] == pytest.approx(
        _expected(model, 48, seed=5)
    )


def test_a_model_without_an_accuracy_metric_is_named(model):
    clone = MODEL_BUILDERS.call(CONFIG["model"])
    clone.compile(metrics=[])
    with pytest.raises(ValueError, match="compiled with an 'accuracy'"):
        evaluation.evaluate(clone, CONFIG)
