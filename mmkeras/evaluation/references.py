"""Checks of converted encoders on fixed reference inputs (`mmkeras.data.
references`): the ImageNet classes of sample photos, and a sentence
embedding against the reference implementation's."""

import numpy as np
from keras import ops

from mmkeras.data.registry import build_splits
from mmkeras.evaluation.registry import register_evaluator


@register_evaluator("imagenet_top1")
def imagenet_top1(model, config, names=("chelsea", "coffee")):
    """The top-1 ImageNet class and its probability for each photo of the
    config's data (named by `names`, in order)."""
    images = _reference_inputs(config)
    logits = model(images)["logits"]
    probabilities = ops.convert_to_numpy(ops.softmax(logits))
    metrics = {}
    for name, row in zip(names, probabilities, strict=True):
        metrics[f"golden_top1_{name}"] = int(row.argmax())
    for name, row in zip(names, probabilities, strict=True):
        metrics[f"golden_probability_{name}"] = float(row.max())
    return metrics


@register_evaluator("sentence_embedding")
def sentence_embedding(model, config, reference):
    """The first values of the L2-normalised `"pooled"` embedding of the
    config's first text, and their largest difference from `reference`
    (the same values from the reference implementation)."""
    ids = _reference_inputs(config)
    pooled = ops.convert_to_numpy(model(ids)["pooled"])[0]
    head = pooled[: len(reference)] / np.linalg.norm(pooled)
    return {
        "golden_embedding_head": [float(v) for v in head],
        "max_abs_diff_vs_sentence_transformers_head": float(
            np.max(np.abs(head - np.asarray(reference)))
        ),
    }


def _reference_inputs(config):
    batch = next(iter(build_splits(config["data"], "validation")))
    return batch["x"]
