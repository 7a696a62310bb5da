"""Verification of exported artifacts against the Keras model.

The artifacts run in a fresh Python process through the consumer scripts
in `mmkeras/export/consumers/` (where `import mmkeras` fails), on the same
example inputs as the Keras model, at the batch sizes `batch_sizes` gives
each kind: one process for every SavedModel of an export, one for its
ONNX graphs. Floats must agree to `TOLERANCE`; strings and token ids must
be identical.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

from mmkeras.export.signatures import ExportError

TOLERANCE = 1e-4
BATCH_SIZES = (1, 3)
CONSUMERS = os.path.join(os.path.dirname(__file__), "consumers")
RUNNERS = {
    "saved_model": "serve_saved_model.py",
    "saved_model_xla": "serve_saved_model.py",
    "onnx": "run_onnx.py",
}


def batch_sizes(kind):
    """The batch sizes an artifact of `kind` is verified at: every one of
    `BATCH_SIZES` (which checks batch polymorphism), but only the first
    for `saved_model_xla`, whose signatures are the plain SavedModel's
    and which XLA compiles again for each new batch size."""
    return BATCH_SIZES[:1] if kind == "saved_model_xla" else BATCH_SIZES


class Expected:
    """The example inputs at each of `BATCH_SIZES` and the Keras model's
    outputs for them, computed once for all the artifacts of an export."""

    def __init__(self, family):
        self.family = family
        self.examples = {
            size: family.examples(size, seed=size) for size in BATCH_SIZES
        }
        self._outputs = {}

    def inputs(self, names, sizes):
        """`{"name/input/size": array}` for the graphs `names` at the
        batch sizes `sizes`."""
        return {
            f"{name}/{arg}/{size}": value
            for size in sizes
            for name in names
            for arg, value in self.examples[size][name].items()
        }

    def outputs(self, name, size):
        key = (name, size)
        if key not in self._outputs:
            inputs = self.examples[size][name]
            self._outputs[key] = self.family.reference(name, inputs)
        return self._outputs[key]


def run_consumer(kind, paths, inputs):
    """Runs the artifacts at `paths` (all of `kind`'s consumer) on `inputs`
    ({"name/input": array}, or a list of them, one per path) in one new
    process; returns their outputs ({"name/output": array}), one dict per
    path."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else paths
    inputs = [inputs] if isinstance(inputs, dict) else inputs
    with tempfile.TemporaryDirectory() as scratch:
        inputs_paths = [
            os.path.join(scratch, f"inputs{i}.npz") for i in range(len(inputs))
        ]
        outputs = [
            os.path.join(scratch, f"outputs{i}.npz") for i in range(len(paths))
        ]
        for path, arrays in zip(inputs_paths, inputs, strict=True):
            np.savez(path, **arrays)
        script = os.path.join(CONSUMERS, RUNNERS[kind])
        command = [
            sys.executable,
            script,
            *map(os.fspath, paths),
            "--inputs",
            *inputs_paths,
            "--outputs",
            *outputs,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, env=_consumer_env(scratch)
        )
        if result.returncode:
            raise ExportError(
                f"the exported {kind} at {', '.join(map(str, paths))} failed "
                f"to run in a fresh process ({' '.join(command)}):\n"
                f"{result.stderr[-3000:]}"
            )
        loaded = []
        for path in outputs:
            with np.load(path, allow_pickle=True) as data:
                loaded.append({key: data[key] for key in data.files})
        return loaded


def _consumer_env(scratch):
    """The environment of a consumer: TensorFlow's logs quiet, and
    `import mmkeras` failing, as where the artifacts are served."""
    shadow = os.path.join(scratch, "shadow", "mmkeras")
    os.makedirs(shadow)
    with open(os.path.join(shadow, "__init__.py"), "w") as file:
        file.write("raise ImportError('consumers must not need mmkeras')\n")
    path = os.pathsep.join(
        filter(None, [os.path.dirname(shadow), os.environ.get("PYTHONPATH")])
    )
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": path}


def compare(expected, actual):
    """Max absolute difference of floats, or the number of differing
    entries of strings and integers."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        raise ExportError(
            f"output shape {actual.shape} differs from the Keras model's "
            f"{expected.shape}"
        )
    if expected.dtype.kind == "f":
        diff = np.abs(expected.astype("float64") - actual)
        return {"max_abs_diff": float(diff.max(initial=0.0))}
    return {"mismatches": int(np.sum(expected != actual))}


def verify(family, kind, path, names):
    """Checks the artifact's signatures (or graphs) `names` against the
    Keras model at `batch_sizes(kind)`, in one fresh process; returns the
    report by `"name/output"`, raising `ExportError` when any is off."""
    return verify_all(Expected(family), {path: (kind, names)})[path]


def verify_all(expected, artifacts):
    """`verify` for several artifacts of one consumer (`{path: (kind,
    names)}`) in one fresh process, against `expected` (an `Expected`);
    returns the reports by path."""
    paths = list(artifacts)
    inputs = [
        expected.inputs(names, batch_sizes(kind))
        for kind, names in artifacts.values()
    ]
    results = run_consumer(artifacts[paths[0]][0], paths, inputs)
    return {
        path: _report(expected, *artifacts[path], outputs)
        for path, outputs in zip(paths, results, strict=True)
    }


def _report(expected, kind, names, outputs):
    report = {}
    for size in batch_sizes(kind):
        for name in names:
            for output, value in expected.outputs(name, size).items():
                result = compare(value, outputs[f"{name}/{output}/{size}"])
                entry = report.setdefault(f"{name}/{output}", {})
                for key, number in result.items():
                    entry[key] = max(entry.get(key, number), number)
    failures = {
        key: entry
        for key, entry in report.items()
        if entry.get("max_abs_diff", 0.0) > TOLERANCE
        or entry.get("mismatches", 0)
    }
    if failures:
        raise ExportError(
            f"the exported {kind} differs from the Keras model beyond "
            f"{TOLERANCE:g} (floats) or in strings/ids: {failures}"
        )
    return report
