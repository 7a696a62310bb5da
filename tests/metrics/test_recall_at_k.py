import numpy as np
import pytest

import mmkeras.metrics
from tests.metrics import _harness


def _pairs(num_images=16, captions_per_image=3, dim=8, seed=0):
    """Pairs `(ids, (pairs, 2, dim))`, captions noisy copies of the image."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((num_images, dim))
    ids = np.repeat(np.arange(num_images), captions_per_image)
    texts = images[ids] + 2.5 * rng.standard_normal((len(ids), dim))
    return ids, np.stack([images[ids], texts], axis=1).astype("float32")


def _brute_force(ids, embeddings, k, direction):
    """Rank every query by sorting, one query at a time."""
    unit = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    image_ids = sorted(set(ids.tolist()))
    images = {i: unit[list(ids).index(i), 0] for i in image_ids}
    hits = []
    if direction == "text_to_image":
        for text, true_id in zip(unit[:, 1], ids, strict=True):
            scores = {i: float(images[i] @ text) for i in image_ids}
            top = sorted(scores, key=scores.get, reverse=True)[:k]
            hits.append(true_id in top)
    else:
        for i in image_ids:
            scores = unit[:, 1] @ images[i]
            top = np.argsort(-scores)[:k]
            hits.append(i in ids[top])
    return float(np.mean(hits))


def test_basics():
    _harness.assert_config_round_trip(
        mmkeras.metrics.RecallAtK(k=5, direction="text_to_image")
    )
    assert mmkeras.metrics.RecallAtK(k=5).name == "recall_at_5_image_to_text"


@pytest.mark.parametrize("direction", ["image_to_text", "text_to_image"])
@pytest.mark.parametrize("k", [1, 5])
def test_matches_brute_force_over_the_whole_set(direction, k):
    ids, embeddings = _pairs()
    expected = _brute_force(ids, embeddings, k, direction)
    assert 0.0 < expected < 1.0
    recall = mmkeras.metrics.RecallAtK(k=k, direction=direction)
    # Shuffled batches: retrieval spans batches and ignores the order.
    order = np.random.default_rng(1).permutation(len(ids))
    for batch in np.array_split(order, 5):
        recall.update_state(ids[batch], embeddings[batch])
    assert abs(float(recall.result()) - expected) < 1e-6


def test_reset_state():
    ids, embeddings = _pairs()
    recall = mmkeras.metrics.RecallAtK(k=1)
    recall.update_state(ids, embeddings)
    recall.reset_state()
    recall.update_state(np.arange(2), np.stack([np.eye(2)] * 2, axis=1))
    assert float(recall.result()) == 1.0


@pytest.mark.parametrize("direction", ["image_to_text", "text_to_image"])
def test_evaluate_single_device_and_mirrored(direction):
    ids, embeddings = _pairs()
    expected = _brute_force(ids, embeddings, 5, direction)

    def make_metric():
        return mmkeras.metrics.RecallAtK(k=5, direction=direction)

    single = _harness.evaluate(make_metric, ids, embeddings)
    mirrored = _harness.evaluate(
        make_metric, ids, embeddings, strategy=_harness.mirrored_strategy()
    )
    assert abs(single - expected) < 1e-6
    assert abs(mirrored - expected) < 1e-6


def test_errors():
    with pytest.raises(ValueError, match="k=0"):
        mmkeras.metrics.RecallAtK(k=0)
    with pytest.raises(ValueError, match="direction='both'"):
        mmkeras.metrics.RecallAtK(direction="both")
    recall = mmkeras.metrics.RecallAtK()
    with pytest.raises(ValueError, match=r"shape \(4, 8\)"):
        recall.update_state(np.arange(4), np.zeros((4, 8)))
