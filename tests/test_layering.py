"""Dependencies point one way: layers -> encoders -> models -> the rest.

Samplers, text, data, losses and metrics are generic (a sampler takes a
`next_fn`, not a model), so models may use them and they use no model.

Checked on the source with `ast`, so a forbidden import fails here even if
no test happens to execute it.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "mmkeras"

# What each area must not import (the areas above it).
_ABOVE_MODELS = ["zoo", "export", "cli", "training"]
FORBIDDEN = {
    "layers": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "encoders": ["models", "samplers", *_ABOVE_MODELS],
    "models": ["zoo", "export", "cli"],
    "samplers": ["encoders", "models", *_ABOVE_MODELS],
    "text": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "data": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "metrics": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "losses": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "training": ["zoo", "export", "cli"],
}

# Keras layers stay backend-neutral; the exceptions are the compiled
# attention core (Keras has no public API to XLA-compile a sub-function)
# and HubEncoder, whose TF Hub modules are TensorFlow SavedModels.
TENSORFLOW_ALLOWED_IN_LAYERS = {"layers/attention/_core.py", "layers/hub.py"}


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def _sources(area):
    path = PACKAGE / area
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [path.with_suffix(".py")]


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_areas_import_only_downwards(area):
    offenders = []
    for path in _sources(area):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "mmkeras" and len(parts) > 1:
                if parts[1] in FORBIDDEN[area]:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert not offenders, "imports against the layering:\n" + "\n".join(
        offenders
    )


def test_layers_do_not_import_tensorflow():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _sources("layers")
        if str(path.relative_to(PACKAGE)) not in TENSORFLOW_ALLOWED_IN_LAYERS
        and any(name.split(".")[0] == "tensorflow" for name in _imports(path))
    ]
    assert not offenders, f"use keras.ops instead of tensorflow in {offenders}"


def test_the_check_sees_layer_sources():
    assert len(_sources("layers")) >= 10
