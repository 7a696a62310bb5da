"""The evaluator registry and `evaluate(model, config)`."""

import math

from mmkeras._registry import Registry

EVALUATORS = Registry("evaluator")
register_evaluator = EVALUATORS.register


def evaluate(model, config):
    """Runs the evaluator `config["evaluator"]` names on `model`.

    Args:
        model: the trained model.
        config: a training config (`mmkeras.training.load_config`) with
            an `"evaluator"`; its `"data"` names the validation examples.

    Returns:
        `{metric: number}`, as the evaluator measured it.
    """
    if "evaluator" not in config:
        raise ValueError(
            "The config names no evaluator; add "
            '"evaluator": {"name": ..., "kwargs": {...}} with one of '
            f"{', '.join(EVALUATORS.names())}. Received: config keys "
            f"{sorted(config)}"
        )
    metrics = EVALUATORS.call(config["evaluator"], model, config)
    return {key: _plain(value) for key, value in metrics.items()}


def _plain(value):
    """A JSON number (or list of them) from numpy or tensor scalars."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int)):
        return value
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"An evaluator gave a non-finite metric: {value!r}")
    return number
