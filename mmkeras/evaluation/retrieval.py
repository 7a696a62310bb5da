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


def concept_recall(images, image_concepts, texts, text_concepts, ks=(1, 5)):
    """Recall@K both ways when items are relevant by concept, as when
    several drawings share one caption (the emoji of every style of a
    concept) or one drawing stands for several concepts.

    - image to text: each image ranks the texts; a hit is a text of its
      concept among the top `k`;
    - text to image: each text ranks the images; a hit is an image of its
      concept among the top `k`.

    A query ranks below the candidates scoring strictly higher than its
    best relevant one (ties count in its favour, as in `RecallAtK`). A
    query with no relevant candidate is an error.

    Args:
        images: `(num_images, dim)` embeddings (scores are dot products).
        image_concepts: `(num_images,)` concept ids.
        texts: `(num_texts, dim)` embeddings.
        text_concepts: `(num_texts,)` concept ids.
        ks: the K of recall@K.

    Returns:
        `{"recall_at_{k}_image_to_text": ..., "recall_at_{k}_text_to_image":
        ...}`.
    """
    image_concepts = np.asarray(image_concepts)
    text_concepts = np.asarray(text_concepts)
    scores = np.asarray(images, "float64") @ np.asarray(texts, "float64").T
    if scores.shape != (len(image_concepts), len(text_concepts)):
        raise ValueError(
            "concept_recall needs one concept per embedding: "
            f"{scores.shape[0]} images and {scores.shape[1]} texts, "
            f"{len(image_concepts)} image concepts and {len(text_concepts)} "
            "text concepts."
        )
    relevant = image_concepts[:, None] == text_concepts[None, :]
    results = {}
    for direction, table, hits in (
        ("image_to_text", scores, relevant),
        ("text_to_image", scores.T, relevant.T),
    ):
        orphans = np.flatnonzero(~hits.any(axis=1))
        if len(orphans):
            raise ValueError(
                f"concept_recall ({direction}): {len(orphans)} queries have "
                "no candidate of their concept (the first is query "
                f"{orphans[0]}). Give every concept queried both an image "
                "and a text."
            )
        best = np.where(hits, table, -np.inf).max(axis=1)
        ranks = (table > best[:, None]).sum(axis=1)
        for k in ks:
            results[f"recall_at_{k}_{direction}"] = float(np.mean(ranks < k))
    return results


def _relevance(pairs):
    scenes, captions = [], []
    for batch in pairs.as_numpy_iterator():
        raw = batch[0] if isinstance(batch, tuple) else batch
        if "scene" not in raw or "caption" not in raw:
            return None
        scenes.extend(raw["scene"])
        captions.extend(raw["caption"])
    return caption_grammar.relevance(scenes, captions)
