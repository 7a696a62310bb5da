"""Classification accuracy on a config's validation examples: fusion
classifiers, VQA models (overall and by question type)."""

from mmkeras.data.registry import build_splits
from mmkeras.evaluation.registry import register_evaluator


@register_evaluator("accuracy")
def accuracy(model, config, prefix="validation", splits=None):
    """`model.evaluate`'s accuracy on the config's validation split.

    Args:
        model: a task compiled with an `"accuracy"` metric (the default
            `compile()` of the classifiers).
        config: the training config; its `"data"` gives the examples.
        prefix: the metrics' prefix, e.g. `"test"` when the validation
            split is a dataset's test split.
        splits: optional `{name: data kwargs}`: each adds
            `{prefix}_{name}_accuracy` on the validation split built with
            those kwargs changed (e.g. `{"question_type": "closest"}`).

    Returns:
        `{"{prefix}_accuracy": ..., "{prefix}_{name}_accuracy": ...}`.
    """
    metrics = {f"{prefix}_accuracy": _accuracy(model, config["data"])}
    for name, changes in (splits or {}).items():
        spec = dict(config["data"])
        spec["kwargs"] = {**spec.get("kwargs", {}), **changes}
        metrics[f"{prefix}_{name}_accuracy"] = _accuracy(model, spec)
    return metrics


def _accuracy(model, spec):
    validation = build_splits(spec, "validation")
    result = model.evaluate(validation, verbose=0, return_dict=True)
    if "accuracy" not in result:
        raise ValueError(
            "The accuracy evaluator needs a model compiled with an "
            f"'accuracy' metric. Received: metrics {sorted(result)}"
        )
    return float(result["accuracy"])
