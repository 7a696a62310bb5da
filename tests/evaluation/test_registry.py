"""`mmkeras.evaluation.evaluate` and the registries a config names."""

import numpy as np
import pytest

from mmkeras import _registry
from mmkeras import evaluation


def test_every_evaluator_is_registered():
    assert {"accuracy", "caption_truthfulness", "retrieval"} <= set(
        evaluation.EVALUATORS.names()
    )


def test_evaluate_runs_the_named_evaluator_with_its_kwargs(monkeypatch):
    calls = []

    def constant(model, config, scale=1.0):
        calls.append((model, config["data"], scale))
        return {"score": np.float32(0.5) * scale, "count": 3, "pair": (1, 2)}

    monkeypatch.setitem(evaluation.EVALUATORS._functions, "constant", constant)
    config = {
        "data": {"name": "color_match"},
        "evaluator": {"name": "constant", "kwargs": {"scale": 2.0}},
    }
    metrics = evaluation.evaluate("model", config)
    assert metrics == {"score": 1.0, "count": 3, "pair": [1, 2]}
    assert type(metrics["score"]) is float
    assert calls == [("model", {"name": "color_match"}, 2.0)]


def test_a_config_without_evaluator_is_named():
    with pytest.raises(ValueError, match=r"names no evaluator.*accuracy"):
        evaluation.evaluate(None, {"model": {}, "data": {}})


def test_unknown_evaluators_list_the_closest():
    with pytest.raises(ValueError, match="Did you mean accuracy"):
        evaluation.evaluate(None, {"evaluator": {"name": "acuracy"}})


def test_non_finite_metrics_are_refused(monkeypatch):
    monkeypatch.setitem(
        evaluation.EVALUATORS._functions,
        "broken",
        lambda model, config: {"loss": float("nan")},
    )
    with pytest.raises(ValueError, match="non-finite metric"):
        evaluation.evaluate(None, {"evaluator": {"name": "broken"}})


def test_registries_refuse_two_functions_of_one_name():
    registry = _registry.Registry("thing")

    @registry.register("a")
    def first():
        return 1

    registry.register("a")(first)  # the same function again is fine
    with pytest.raises(ValueError, match="Two things are named 'a'"):
        registry.register("a")(lambda: 2)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kwargs": {}}, "registered"),
        ({"name": "a", "fn": "b.c"}, "registered"),
        ({"fn": "no_such_module.f"}, "Cannot import 'no_such_module.f'"),
        ("a", "registered"),
    ],
)
def test_bad_specs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        _registry.Registry("thing").resolve(spec)


def test_a_dotted_function_resolves_outside_the_registry():
    function = _registry.Registry("thing").resolve({"fn": "os.path.join"})
    assert function("a", "b") == "a/b"
