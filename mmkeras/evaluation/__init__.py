"""Evaluators: what a training config names to measure its model.

An evaluator is a function `evaluator(model, config, **kwargs) -> dict`
of metric names to numbers, registered by name in `EVALUATORS`; a config
names one as `"evaluator": {"name": "accuracy", "kwargs": {...}}`.
`mmkeras train` writes its result to the run's `metrics.json`,
`mmkeras evaluate` re-measures, and `mmkeras zoo make` copies it into the
entry's manifest and model card.

Example:

>>> metrics = mmkeras.evaluation.evaluate(model, config)
>>> metrics["validation_accuracy"]
"""

from mmkeras.evaluation import accuracy
from mmkeras.evaluation import captioning
from mmkeras.evaluation import language
from mmkeras.evaluation import matching
from mmkeras.evaluation import references
from mmkeras.evaluation import retrieval
from mmkeras.evaluation import vision_language
from mmkeras.evaluation.registry import EVALUATORS
from mmkeras.evaluation.registry import evaluate
from mmkeras.evaluation.registry import register_evaluator

__all__ = [
    "EVALUATORS",
    "accuracy",
    "captioning",
    "evaluate",
    "language",
    "matching",
    "references",
    "register_evaluator",
    "retrieval",
    "vision_language",
]
