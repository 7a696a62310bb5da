"""Verification of exported artifacts against the Keras model.

Each artifact runs in a fresh Python process through the consumer scripts
in `mmkeras/export/consumers/` (which import no mmkeras), on the same
example inputs as the Keras model, at two batch sizes. Floats must agree
to `TOLERANCE`; strings and token ids must be identical.
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


def run_consumer(kind, path, inputs):
    """Runs the artifact at `path` on `inputs` ({"name/input": array}) in a
    new process; returns its outputs ({"name/output": array})."""
    with tempfile.TemporaryDirectory() as scratch:
        inputs_path = os.path.join(scratch, "inputs.npz")
        outputs_path = os.path.join(scratch, "outputs.npz")
        np.savez(inputs_path, **inputs)
        script = os.path.join(CONSUMERS, RUNNERS[kind])
        command = [
            sys.executable,
            script,
            path,
            "--inputs",
            inputs_path,
            "--outputs",
            outputs_path,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, env=_quiet_env()
        )
        if result.returncode:
            raise ExportError(
                f"the exported {kind} at {path} failed to run in a fresh "
                f"process ({' '.join(command)}):\n{result.stderr[-3000:]}"
            )
        with np.load(outputs_path, allow_pickle=True) as data:
            return {key: data[key] for key in data.files}


def _quiet_env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


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
    Keras model at each of `BATCH_SIZES`, in one fresh process; returns
    the report by `"name/output"`, raising `ExportError` when any is off.
    """
    examples = {size: family.examples(size, seed=size) for size in BATCH_SIZES}
    outputs = run_consumer(
        kind,
        path,
        {
            f"{name}/{arg}/{size}": value
            for size in BATCH_SIZES
            for name in names
            for arg, value in examples[size][name].items()
        },
    )
    report = {}
    for size in BATCH_SIZES:
        for name in names:
            expected = family.reference(name, examples[size][name])
            for output, value in expected.items():
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
