"""Retrieval by a dual encoder on image-caption pairs: recall@K both
ways, and how often the top hit is a true caption (or a true scene)."""

import numpy as np

from mmkeras.data import caption_grammar
from mmkeras.data.registry import build_splits
from mmkeras.evaluation.registry import register_evaluator

_DIRECTIONS = ("image_to_text", "text_to_image")


@register_evaluator("retrieval")
def retrieval(model, config, ks=(1, 5), prefix="held_out", relevance=True):
    """Recall@K of `model.evaluate_retrieval` on the config's validation
    pairs (caption j belongs to image j).

    Args:
        model: a dual encoder (`evaluate_retrieval`).
        config: the training config; its `"data"` gives the pairs.
        ks: the K of recall@K.
        prefix: the metrics' prefix.
        relevance: also measure `true_at_1_*` when the pairs carry their
            `"scene"` and captions of the shapes grammar: the share of
            queries whose top hit is true of them (recall against the one
            paired item is capped far below 1 when captions fit many
            scenes, and this is not).

    Returns:
        `{"{prefix}_recall_at_{k}_{direction}": ..., ...}`.
    """
    pairs = build_splits(config["data"], "validation")
    relevant = _relevance(pairs) if relevance else None
    metrics = model.evaluate_retrieval(pairs, tuple(ks), relevant=relevant)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def oracle_recall(truth, ks=(1, 5, 10)):
    """Expected recall@K of a model that knows which captions are true
    (`truth[i, j]`: caption j is true of image i), ranking the true ones
    first in random order: the bound ambiguous captions put on recall."""
    matches = {
        "image_to_text": truth.sum(axis=1),
        "text_to_image": truth.sum(axis=0),
    }
    return {
        f"recall_at_{k}_{d}": float(np.mean(np.minimum(1.0, k / matches[d])))
        for d in _DIRECTIONS
        for k in ks
    } | {f"true_at_1_{d}": 1.0 for d in _DIRECTIONS}


def _relevance(pairs):
    scenes, captions = [], []
    for batch in pairs.as_numpy_iterator():
        raw = batch[0] if isinstance(batch, tuple) else batch
        if "scene" not in raw or "caption" not in raw:
            return None
        scenes.extend(raw["scene"])
        captions.extend(raw["caption"])
    return caption_grammar.relevance(scenes, captions)
