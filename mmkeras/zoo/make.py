"""`mmkeras zoo make RUN_DIR`: a zoo entry from a finished training run.

The run (`mmkeras train CONFIG --out RUN_DIR`) holds `model.keras`,
`run.json` (the config and the command) and `metrics.json` (the
config's evaluator on the final model). The entry gets the model's files
(`model.keras`, or what the config's `zoo.loader` reads), `golden.npz`
(the outputs on the first validation examples), and a manifest and model
card written from those metrics, with the command that reproduces it:
`mmkeras train ... && mmkeras zoo make ...`.

The config's `"zoo"` section names the entry and describes it; its text
fields are formatted with the config (`"fusion_{model[kwargs][fusion]}
.color_match"`) and the notes also with the metrics and the `name`.
"""

import importlib
import json
import os
import shlex
import tempfile

import keras
import numpy as np

from mmkeras import _files
from mmkeras import evaluation
from mmkeras.data.registry import build_splits
from mmkeras.models import RetrievalIndex
from mmkeras.models.dual_encoder import retrieval_index
from mmkeras.training.config import build_model
from mmkeras.zoo.entries import model_cards_page
from mmkeras.zoo.entries import write_entry
from mmkeras.zoo.golden import golden_arrays
from mmkeras.zoo.loading import load
from mmkeras.zoo.registry import info

# Read by `mmkeras train`'s outputs (`mmkeras.training.run`).
RUN_FILE, METRICS_FILE, MODEL_FILE = "run.json", "metrics.json", "model.keras"
GOLDEN_EXAMPLES = 4
DEFAULTS = {
    "version": "1",
    "license": "Apache-2.0",
    "source": "trained by mmkeras",
    "notes": "",
}


def make_entry(run_dir, name=None, catalogue="zoo", cards=None, command=None):
    """Writes the zoo entry of the training run `run_dir`.

    Args:
        run_dir: a finished `mmkeras train` output directory.
        name: the entry's name; default the config's `zoo.name`.
        catalogue: the catalogue folder (the repository's `zoo/`).
        cards: a Markdown file to rewrite with every card of the
            catalogue (the docs' `model-cards.md`), or None.
        command: how this call is written on the command line, for the
            manifest's `command` (default `mmkeras zoo make RUN_DIR ...`).

    Returns:
        The manifest written.
    """
    run = read_run(run_dir)
    config = run["config"]
    if not run.get("command"):
        raise ValueError(
            f"{run_dir} records no training command, so its entry could "
            "not be reproduced; train it with `mmkeras train CONFIG --out "
            f"{run_dir}`."
        )
    section = {**DEFAULTS, **config.get("zoo", {})}
    configured = _format(section.get("name"), config)
    name = name or configured
    if not name:
        raise ValueError(
            f"The config of {run_dir} has no zoo.name; pass --name "
            "<arch>.<tag>."
        )
    model = _run_model(run_dir, config)
    metrics = run["metrics"]
    command = command or _make_command(
        run_dir, None if name == configured else name, catalogue
    )
    manifest = {
        "name": name,
        "version": str(section["version"]),
        "family": type(model).__name__,
        "description": _format(
            section.get("description")
            or f"{type(model).__name__} trained by `{run['command']}`.",
            config,
        ),
        "metrics": metrics,
        "license": section["license"],
        "source": _format(section["source"], config),
        "command": f"{run['command']} && {command}",
    }
    if "evaluator" in config:
        # What `mmkeras evaluate NAME` re-measures with.
        manifest["evaluation"] = {
            "evaluator": config["evaluator"],
            "data": config["data"],
        }
    notes = _format(section["notes"], {**config, **metrics, "name": name})
    os.makedirs(catalogue, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        files, extra = _model_files(model, section, scratch)
        files.append(_golden(model, config, section, scratch, files))
        manifest = write_entry(catalogue, {**manifest, **extra}, files, notes)
    if cards is not None:
        write_cards(catalogue, cards)
    return manifest


def read_run(run_dir):
    """`{"config", "command", "metrics"}` of a training run directory."""
    path = os.path.join(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            f"{run_dir} is not a training run: it has no {RUN_FILE} "
            "(`mmkeras train CONFIG --out DIR` writes one)."
        )
    with open(path, encoding="utf-8") as file:
        run = json.load(file)
    metrics_path = os.path.join(run_dir, METRICS_FILE)
    run["metrics"] = {}
    if os.path.isfile(metrics_path):
        with open(metrics_path, encoding="utf-8") as file:
            run["metrics"] = json.load(file)
    elif "evaluator" in run["config"]:
        raise ValueError(
            f"{run_dir} has no {METRICS_FILE}: the run has not finished. "
            "Run its training command again to finish it."
        )
    return run


def reevaluate(name_or_path):
    """Measures a model again with the evaluator it was measured with.

    Args:
        name_or_path: a zoo entry (its manifest's `evaluation`), a
            training run directory or a `.keras` file in one (its
            `run.json` config).

    Returns:
        `(metrics, recorded)`: the new metrics and those recorded (the
        manifest's, or the run's `metrics.json`).
    """
    path = os.fspath(name_or_path)
    if os.path.isdir(path) or path.endswith(".keras"):
        run_dir = path if os.path.isdir(path) else os.path.dirname(path)
        run = read_run(run_dir or ".")
        model_path = path if path.endswith(".keras") else None
        model = keras.saving.load_model(
            model_path or os.path.join(run_dir, MODEL_FILE)
        )
        return evaluation.evaluate(model, run["config"]), run["metrics"]
    manifest = info(path)
    if "evaluation" not in manifest:
        raise ValueError(
            f"The zoo entry {path!r} records no evaluation (its manifest "
            "has no `evaluation`: it was not made from a training run by "
            "`mmkeras zoo make`), so there is nothing to re-measure with."
        )
    metrics = evaluation.evaluate(load(path), manifest["evaluation"])
    return metrics, manifest["metrics"]


def write_cards(catalogue, path):
    """Rewrites `path` with every card of `catalogue`, as one page."""
    _files.write_text(path, model_cards_page(catalogue))


def golden_inputs(model, config, count=GOLDEN_EXAMPLES):
    """The model inputs of the first `count` validation examples of the
    config's data (through the model's preprocessor, if it has one)."""
    batch = next(iter(build_splits(config["data"], "validation")))
    inputs = keras.utils.unpack_x_y_sample_weight(batch)[0]
    if getattr(model, "preprocessor", None) is not None:
        inputs = keras.utils.unpack_x_y_sample_weight(
            model.preprocessor(inputs)
        )[0]
    return {key: np.asarray(value)[:count] for key, value in inputs.items()}


def random_inputs(model, count=2, seed=0):
    """Seeded model inputs of the shapes the model was built for: images
    (rank 4) uniform in [0, 1), every other input (token ids) ones."""
    rng = np.random.default_rng(seed)
    return {
        key: rng.random((count, *shape[1:]), "float32")
        if len(shape) == 4
        else np.ones((count, *shape[1:]), "int32")
        for key, shape in model.input_shapes().items()
    }


def _golden(model, config, section, scratch, files):
    """`golden.npz` on the first validation examples, or on seeded random
    inputs with `zoo.golden: "random"` (an untrained test model); with
    the hits of those inputs over the retrieval index the entry ships."""
    if section.get("golden") == "random":
        inputs = random_inputs(model)
    else:
        inputs = golden_inputs(model, config)
    arrays = golden_arrays(model, inputs)
    for file in files:
        if file["name"] == retrieval_index.PRESET_FILE:
            index = RetrievalIndex.load(file["path"], model)
            arrays |= retrieval_index.golden_arrays(index, inputs)
    path = os.path.join(scratch, "golden.npz")
    np.savez(path, **arrays)
    return {"name": "golden.npz", "path": path}


def _run_model(run_dir, config):
    """The run's `model.keras`, or, for a run of 0 epochs whose model is
    no Keras model (an encoder), the model its config builds (seeded)."""
    path = os.path.join(run_dir, MODEL_FILE)
    if os.path.isfile(path):
        return keras.saving.load_model(path)
    if config.get("epochs") != 0:
        raise ValueError(
            f"{run_dir} has no {MODEL_FILE}: its training has not finished "
            "an epoch. Run its training command again to finish it."
        )
    keras.utils.set_random_seed(config.get("seed", 0))
    return build_model(config)


def _model_files(model, section, scratch):
    """The entry's files of the model and the manifest fields their
    loader needs: one `.keras` file, or a loader's own files."""
    loader = section.get("loader")
    if loader is None:
        path = os.path.join(scratch, MODEL_FILE)
        model.save(path)
        return [{"name": MODEL_FILE, "path": path}], {}
    module, _, function = loader.rpartition(".")
    writer = getattr(importlib.import_module(module), f"write_{function}")
    files, extra = writer(model, scratch)
    extra = {"loader": loader, **extra}
    if section.get("requires"):
        extra["requires"] = list(section["requires"])
    return files, extra


def _make_command(run_dir, name, catalogue):
    words = ["mmkeras", "zoo", "make", run_dir]
    if name is not None:
        words += ["--name", name]
    if os.path.normpath(catalogue) != "zoo":
        words += ["--catalogue", catalogue]
    return shlex.join(words)


def _format(text, context):
    if not text:
        return text
    try:
        return text.format(**context)
    except (KeyError, IndexError, AttributeError, ValueError):
        raise ValueError(
            f"The config's zoo text {text!r} names a field that the "
            f"config and the metrics lack; they have {sorted(context)}."
        ) from None
