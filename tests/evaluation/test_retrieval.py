"""The `retrieval` evaluator and the oracle bound of ambiguous captions."""

import numpy as np
import pytest

from mmkeras import evaluation
from mmkeras.data import caption_grammar
from mmkeras.data import splits
from mmkeras.evaluation.retrieval import oracle_recall
from mmkeras.models.builders import MODEL_BUILDERS

CONFIG = {
    "model": {"name": "shapes_dual_encoder", "kwargs": {"projection_dim": 8}},
    "data": {
        "name": "shapes_caption_pairs",
        "kwargs": {"num_train": 16, "num_validation": 24, "batch_size": 8},
    },
    "evaluator": {
        "name": "retrieval",
        "kwargs": {"ks": [1, 5], "prefix": "held_out"},
    },
}


def test_oracle_recall_of_a_known_truth_matrix():
    truth = np.array(
        [
            [True, True, False, False],
            [False, True, False, False],
            [False, False, True, True],
            [False, False, False, True],
        ]
    )
    # Images see 2, 1, 2, 1 true captions; captions 1, 2, 1, 2 images.
    bounds = oracle_recall(truth, ks=(1, 2))
    assert bounds["recall_at_1_image_to_text"] == pytest.approx(0.75)
    assert bounds["recall_at_1_text_to_image"] == pytest.approx(0.75)
    assert bounds["recall_at_2_image_to_text"] == 1.0
    assert bounds["true_at_1_image_to_text"] == 1.0


def test_retrieval_measures_the_held_out_pairs_with_their_truth():
    model = MODEL_BUILDERS.call(CONFIG["model"])
    metrics = evaluation.evaluate(model, CONFIG)
    pairs = splits.caption_pairs(24, seed=1, batch_size=8)
    truth = caption_grammar.caption_truth(24, seed=1)
    expected = model.evaluate_retrieval(pairs, (1, 5), relevant=truth)
    assert metrics == {f"held_out_{k}": v for k, v in expected.items()}
    assert {
        "held_out_recall_at_5_text_to_image",
        "held_out_true_at_1_image_to_text",
    } <= set(metrics)
