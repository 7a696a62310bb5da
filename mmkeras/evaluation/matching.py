"""Image-text matching by a ViLT-style pretrainer on held-out pairs: ITM
accuracy and AUC, recall@K of its contrastive (ITC) embeddings, and the
MLM loss."""

import numpy as np
from keras import ops

from mmkeras.data.registry import build_splits
from mmkeras.evaluation.registry import register_evaluator
from mmkeras.evaluation.retrieval import concept_recall
from mmkeras.models.vilt.vilt_preprocessor import IGNORED

# What the evaluator calls on the model.
_NEEDED = ("encode_image", "encode_text", "match_scores", "mlm_logits")


@register_evaluator("matching")
def matching(
    model, config, ks=(1, 5, 10), prefix="held_out", max_pairs=None, seed=0
):
    """ITM, ITC and MLM of `model` on the config's validation pairs.

    Each image is scored with its own caption and with one mismatched
    caption (a caption that differs from its own), chosen two ways, each
    deterministic:

    - `itm_*`: a random other caption of the pairs (seeded by `seed`);
    - `itm_*_hard`: the other caption most similar to the image by ITC,
      the kind of negative the model trains on.

    Accuracy counts a pair right when its match probability is above 0.5
    for its own caption and not above for the mismatched one; AUC is the
    probability that a matching pair scores above a mismatched one (ties
    count half). Chance is 0.5 for both.

    Recall@K ranks the distinct captions of the pairs for each image by
    ITC cosine (image to text) and the images for each caption (text to
    image); every image whose caption it is is relevant.
    `mlm_loss` is the mean cross-entropy of the masked tokens, masked as
    in training.

    Args:
        model: a `ViLTPretrainer` with its preprocessor.
        config: the training config; its `"data"` gives the pairs
            (`{"image", "caption"}`).
        ks: the K of recall@K.
        prefix: the metrics' prefix.
        max_pairs: the first pairs of the validation split to use (None:
            all).
        seed: the draw of the random mismatched captions.

    Returns:
        `{"{prefix}_itm_accuracy", "{prefix}_itm_auc",
        "{prefix}_itm_accuracy_hard", "{prefix}_itm_auc_hard",
        "{prefix}_recall_at_{k}_image_to_text", ..._text_to_image",
        "{prefix}_mlm_loss", "{prefix}_pairs"}`.
    """
    missing = [name for name in _NEEDED if not hasattr(model, name)]
    if missing:
        raise TypeError(
            "The matching evaluator scores image-text pairs with a "
            "ViLTPretrainer (ITM, ITC and MLM). Received: "
            f"{type(model).__name__}, which has no {', '.join(missing)}"
        )
    if getattr(model, "preprocessor", None) is None:
        raise ValueError(
            "The matching evaluator needs a ViLT pretrainer with its "
            f"preprocessor. Received: {type(model).__name__} without one"
        )
    if max_pairs is not None and (
        isinstance(max_pairs, bool)
        or not isinstance(max_pairs, int)
        or max_pairs < 2
    ):
        raise ValueError(
            "max_pairs must be None (all) or an integer of at least 2. "
            f"Received: max_pairs={max_pairs!r}"
        )
    validation = build_splits(config["data"], "validation")
    pairs = _held_out(model, validation, max_pairs)
    if not pairs:
        raise ValueError(
            "The matching evaluator found no validation pairs in the "
            f"config's data ({config['data']}); give it a validation split"
        )
    captions = pairs["caption"]
    unique, concepts = np.unique(captions, return_inverse=True)
    if len(unique) < 2:
        raise ValueError(
            "The matching evaluator needs pairs of two different captions "
            f"or more, to mismatch them. Received: {len(captions)} pairs "
            f"of {len(unique)} caption(s)"
        )
    images = _batched(model.encode_image, pairs["image"])
    texts = _batched(model.encode_text, pairs["token_ids"])
    other = concepts[:, None] != concepts[None, :]
    similarity = images @ texts.T
    draws = np.random.default_rng(seed).random(similarity.shape)
    negatives = {
        "": np.where(other, draws, -1.0).argmax(axis=1),
        "_hard": np.where(other, similarity, -np.inf).argmax(axis=1),
    }
    ids, pixels = pairs["token_ids"], pairs["image"]
    positive = _scores(model, pixels, ids)
    metrics = {}
    for suffix, chosen in negatives.items():
        negative = _scores(model, pixels, ids[chosen])
        metrics[f"itm_accuracy{suffix}"] = float(
            np.mean(np.concatenate([positive > 0.5, negative <= 0.5]))
        )
        metrics[f"itm_auc{suffix}"] = auc(positive, negative)
    # One row per distinct caption: a caption of several images is one
    # candidate with all of them relevant.
    first = np.unique(concepts, return_index=True)[1]
    metrics.update(
        concept_recall(
            images, concepts, texts[first], concepts[first], tuple(ks)
        )
    )
    metrics["mlm_loss"] = _mlm_loss(model, pairs)
    metrics["pairs"] = len(captions)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def auc(positive, negative):
    """The probability that a score of `positive` is above one of
    `negative` (ties count half): the area under the ROC curve."""
    positive = np.asarray(positive, "float64")[:, None]
    negative = np.asarray(negative, "float64")[None, :]
    wins = (positive > negative).mean() + 0.5 * (positive == negative).mean()
    return float(wins)


def _held_out(model, dataset, limit):
    """The first `limit` (None: all) preprocessed validation pairs,
    concatenated: `image`, `token_ids`, `masked_ids`, the `mlm` labels
    and the `caption`s."""
    parts, count = {}, 0
    for raw in dataset.as_numpy_iterator():
        if limit is not None and count >= limit:
            break
        count += len(raw[model.preprocessor.text_key])
        inputs, labels = model.preprocessor(raw)
        batch = {
            **inputs,
            "mlm": labels["mlm"],
            "caption": raw[model.preprocessor.text_key],
        }
        for key, value in batch.items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {
        key: np.concatenate(value)[:limit] for key, value in parts.items()
    }


def _batched(function, inputs, *more, batch_size=256):
    outputs = [
        ops.convert_to_numpy(
            function(
                inputs[i : i + batch_size],
                *(x[i : i + batch_size] for x in more),
            )
        )
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(outputs).astype("float64")


def _scores(model, images, token_ids):
    return _batched(model.match_scores, images, token_ids)


def _mlm_loss(model, pairs, batch_size=256):
    """The mean cross-entropy of the masked tokens (batch by batch: the
    word logits of all pairs would take gigabytes)."""
    total, count = 0.0, 0
    for i in range(0, len(pairs["image"]), batch_size):
        logits = model.mlm_logits(
            pairs["image"][i : i + batch_size],
            pairs["masked_ids"][i : i + batch_size],
        )
        labels = pairs["mlm"][i : i + batch_size]
        chosen = labels != IGNORED
        losses = ops.sparse_categorical_crossentropy(
            np.where(chosen, labels, 0), logits, from_logits=True
        )
        total += float(np.sum(ops.convert_to_numpy(losses)[chosen]))
        count += int(chosen.sum())
    return total / count
