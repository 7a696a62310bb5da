"""Golden outputs: fixed inputs and the outputs an entry gave when it was
made, in a bundled `golden.npz`, so a load can be checked exactly.

Arrays are named `input/<key>` and `output/<key>`; a single input `x`
is passed as the tensor itself, and a tensor output is stored as `y`.
"""

import numpy as np
from keras import ops


def _outputs(model, inputs):
    # A model may record less than its whole output (a language model:
    # the next token's logits, not every position's).
    call = getattr(model, "golden_outputs", model)
    outputs = call(inputs["x"] if set(inputs) == {"x"} else inputs)
    if not isinstance(outputs, dict):
        outputs = {"y": outputs}
    return {key: ops.convert_to_numpy(value) for key, value in outputs.items()}


def golden_arrays(model, inputs):
    """The `golden.npz` arrays of `model` on `inputs` (a dict)."""
    arrays = {f"input/{key}": np.asarray(v) for key, v in inputs.items()}
    for key, value in _outputs(model, inputs).items():
        arrays[f"output/{key}"] = value
    return arrays


def _read(path):
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def golden_tolerance(path, tolerance=1e-5):
    """The largest difference from the golden outputs in `path` that is
    still a match: `tolerance` times the largest recorded output (at
    least 1). Float32 round-off grows with the outputs' size and differs
    between CPUs (oneDNN picks kernels by instruction set): EfficientNet's
    ImageNet logits, up to ~20, moved 2.6e-5 between two machines."""
    outputs = [v for k, v in _read(path).items() if k.startswith("output/")]
    scale = max(float(np.max(np.abs(value))) for value in outputs)
    return tolerance * max(1.0, scale)


def golden_difference(model, path):
    """The largest absolute difference between `model`'s outputs on the
    golden inputs in `path` and the recorded ones."""
    data = _read(path)
    inputs = {
        key.split("/", 1)[1]: value
        for key, value in data.items()
        if key.startswith("input/")
    }
    expected = {
        key.split("/", 1)[1]: value
        for key, value in data.items()
        if key.startswith("output/")
    }
    actual = _outputs(model, inputs)
    return max(
        float(np.max(np.abs(actual[key] - value)))
        for key, value in expected.items()
    )
