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

# What each area must not import (the areas above it), as dotted names
# under `mmkeras`: "zoo.loaders" forbids that module, "zoo" the package.
_ABOVE_MODELS = ["zoo", "export", "cli", "training", "evaluation", "configs"]
# Encoders and tasks load their weights in `from_preset` through the zoo's
# core (catalogue, manifest, cache, `mmkeras.zoo.loading`), which imports
# no encoder or model: `mmkeras.zoo.load` and `from_preset` share one code
# path. The loaders, which build encoders and models, and `zoo.make`,
# which writes entries from training runs, stay above them.
_ZOO_ABOVE_MODELS = ["zoo.loaders", "zoo.make"]
_ABOVE_ENCODERS = [a for a in _ABOVE_MODELS if a != "zoo"] + _ZOO_ABOVE_MODELS
FORBIDDEN = {
    "layers": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "encoders": ["models", "samplers", *_ABOVE_ENCODERS],
    "models": [*_ABOVE_ENCODERS],
    "samplers": ["encoders", "models", *_ABOVE_MODELS],
    "text": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "data": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "metrics": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "losses": ["encoders", "models", "samplers", *_ABOVE_MODELS],
    "training": ["zoo", "export", "cli", "configs"],
    "evaluation": ["zoo", "export", "cli", "training", "configs"],
    # The zoo never imports a config (a recipe is not needed to load).
    "zoo": ["configs", "cli"],
    "zoo core": [
        "layers",
        "encoders",
        "models",
        "samplers",
        "text",
        "training",
        "evaluation",
        "export",
        "cli",
        "configs",
    ],
}
# Areas that are a part of a package: the zoo's core is the zoo without
# the modules that import models.
PARTS = {"zoo core": ("zoo", ["loaders.py", "make.py"])}

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
    if area in PARTS:
        package, excluded = PARTS[area]
        return [p for p in _sources(package) if p.name not in excluded]
    path = PACKAGE / area
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [path.with_suffix(".py")]


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_areas_import_only_downwards(area):
    offenders = []
    for path in _sources(area):
        for name in _imports(path):
            if _forbidden(name, FORBIDDEN[area]):
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert not offenders, "imports against the layering:\n" + "\n".join(
        offenders
    )


def _forbidden(name, areas):
    parts = name.split(".")
    if parts[0] != "mmkeras" or len(parts) < 2:
        return False
    inner = ".".join(parts[1:])
    return any(inner == a or inner.startswith(f"{a}.") for a in areas)


def test_the_zoo_core_excludes_only_the_model_imports():
    names = {p.name for p in _sources("zoo core")}
    assert {"loading.py", "registry.py", "cache.py"} <= names
    assert not names & {"loaders.py", "make.py"}


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
