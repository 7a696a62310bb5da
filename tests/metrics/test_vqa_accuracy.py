import numpy as np
import pytest

import mmkeras.metrics
from mmkeras.metrics import _vqa_answers
from tests.metrics import _harness


def _accuracy(answers, predictions, sample_weight=None):
    metric = mmkeras.metrics.VQAAccuracy()
    metric.update_state(answers, predictions, sample_weight=sample_weight)
    return float(metric.result())


def test_basics():
    _harness.assert_config_round_trip(mmkeras.metrics.VQAAccuracy())


@pytest.mark.parametrize(
    "humans, expected",
    # Leave-one-out over 10 annotators: m matching humans give
    # (m * min(1, (m - 1) / 3) + (10 - m) * min(1, m / 3)) / 10.
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)],
)
def test_official_leave_one_out_values(humans, expected):
    answers = [["yes"] * humans + ["no"] * (10 - humans)]
    assert abs(_accuracy(answers, ["yes"]) - expected) < 1e-6
    ids = [[1] * humans + [2] * (10 - humans)]
    assert abs(_accuracy(ids, [1]) - expected) < 1e-6


@pytest.mark.parametrize(
    "prediction, normalized",
    [
        ("Two dogs!", "2 dogs"),
        ("  the Red\tball.", "red ball"),
        ("dont know", "don't know"),
        ("1,000", "1000"),  # a digit comma deletes all punctuation
        ("black/white", "black white"),
        ("black / white", "black white"),
        ("3.5 ", "3.5"),
        ("None", "0"),
    ],
)
def test_official_normalisation(prediction, normalized):
    assert _vqa_answers.normalize_prediction(prediction) == normalized


def test_normalised_prediction_matches_human_answers():
    answers = [["2 dogs"] * 3 + ["3 dogs"] * 7]
    assert abs(_accuracy(answers, ["Two dogs!"]) - 0.9) < 1e-6
    # Human answers only go through the punctuation rule.
    answers = [["two dogs"] * 3 + ["3 dogs"] * 7]
    assert _accuracy(answers, ["Two dogs!"]) == 0.0
    answers = [["black/white"] * 3 + ["black"] * 7]
    assert abs(_accuracy(answers, ["black white"]) - 0.9) < 1e-6
    # Officially they are not stripped after it: "dogs!" -> "dogs ".
    answers = [["2 dogs!"] * 3 + ["3 dogs"] * 7]
    assert _accuracy(answers, ["2 dogs"]) == 0.0


def test_scores_take_the_argmax_and_weights_average():
    answers = np.array([[1] * 10, [2] * 2 + [0] * 8])
    scores = np.array([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8]], "float32")
    assert abs(_accuracy(answers, scores) - 0.8) < 1e-6
    weighted = _accuracy(answers, scores, sample_weight=np.array([1.0, 3.0]))
    assert abs(weighted - (1.0 + 3 * 0.6) / 4) < 1e-6


def test_evaluate_single_device_and_mirrored():
    rng = np.random.default_rng(0)
    answers = rng.integers(0, 4, (20, 10))
    predictions = rng.integers(0, 4, 20)
    expected = np.mean(
        [
            np.mean([min(1, (np.sum(a == p) - (x == p)) / 3) for x in a])
            for a, p in zip(answers, predictions, strict=True)
        ]
    )
    strings = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy,
        answers.astype(str),
        predictions.astype(str),
    )
    single = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy, answers, predictions
    )
    mirrored = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy,
        answers,
        predictions,
        strategy=_harness.mirrored_strategy(),
    )
    assert abs(strings - expected) < 1e-6
    assert abs(single - expected) < 1e-6
    assert abs(mirrored - expected) < 1e-6


def test_errors():
    metric = mmkeras.metrics.VQAAccuracy()
    with pytest.raises(ValueError, match="both be strings"):
        metric.update_state([["a"] * 10], [1])
    with pytest.raises(ValueError, match=r"y_true \(10,\)"):
        metric.update_state(["a"] * 10, ["a"])
