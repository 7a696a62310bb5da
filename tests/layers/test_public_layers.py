"""Every public layer in `mmkeras.layers` is registered and serializable."""

import importlib
import inspect
import pkgutil

import keras
import pytest

import mmkeras.layers
from mmkeras.testing import run_serialization_test
from tests.layers.cases import CASES


def _public_layer_classes():
    classes = {}
    modules = pkgutil.walk_packages(
        mmkeras.layers.__path__, prefix="mmkeras.layers."
    )
    for info in modules:
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, keras.layers.Layer)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                classes[name] = obj
    return classes


PUBLIC_LAYERS = _public_layer_classes()


def test_walk_finds_the_exported_layers():
    exported = {
        name
        for name in mmkeras.layers.__all__
        if inspect.isclass(getattr(mmkeras.layers, name))
    }
    assert exported == set(PUBLIC_LAYERS)


@pytest.mark.parametrize("name", sorted(PUBLIC_LAYERS))
def test_layer_is_registered(name):
    cls = PUBLIC_LAYERS[name]
    assert keras.saving.get_registered_name(cls) == f"mmkeras>{name}"


@pytest.mark.parametrize("name", sorted(PUBLIC_LAYERS))
def test_layer_round_trips(name):
    assert name in CASES, f"add an example for {name} to tests/layers/cases.py"
    case = CASES[name]
    case.get("setup", lambda: None)()  # files a case needs, e.g. a module
    layer = PUBLIC_LAYERS[name](**case["init_kwargs"])
    run_serialization_test(layer, case["args"], case.get("kwargs"))
