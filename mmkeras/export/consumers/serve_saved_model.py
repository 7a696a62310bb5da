"""Runs an exported mmkeras SavedModel with plain TensorFlow and
tensorflow-text. It imports no mmkeras: hand it, with the SavedModel, to
a team that serves models.

    # list the signatures with their inputs and outputs
    python serve_saved_model.py MODEL/saved_model/1 --list
    # run one; "@path" reads a file's bytes, a repeated name makes a batch
    python serve_saved_model.py MODEL/saved_model/1 --signature caption \\
        --input image_bytes=@cat.jpg --input image_bytes=@dog.png
    python serve_saved_model.py MODEL/saved_model/1 --signature answer \\
        --input image_bytes=@scene.png --input question="what shape is it?"
    python serve_saved_model.py LM/saved_model/1 \\
        --input prompts="The capital of France is" --input prompts=""
    # a batch from .npz inputs named "signature/input", to .npz outputs
    # (several SavedModels: one outputs file each, and one inputs file
    # for all or one each)
    python serve_saved_model.py MODEL/saved_model/1 --inputs in.npz \\
        --outputs out.npz

Outputs print as JSON (strings decoded as UTF-8). Bad inputs (an empty
batch, a wrong shape, ids out of range, text that is not UTF-8, bytes
that are not an image) fail with an InvalidArgumentError naming them.
"""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

# Registers the tokenizer ops of the text signatures: without it loading
# fails with "Op type not registered 'NormalizeUTF8'".
import tensorflow_text  # noqa: F401


def run(loaded, signature, inputs):
    """Calls `signature` of a loaded SavedModel on numpy inputs."""
    function = loaded.signatures[signature]
    tensors = {
        name: tf.constant(list(value) if value.dtype == object else value)
        for name, value in inputs.items()
    }
    return {name: value.numpy() for name, value in function(**tensors).items()}


def _parse_inputs(pairs):
    inputs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"--input takes NAME=VALUE or NAME=@FILE; got {pair!r}")
        if value.startswith("@"):
            with open(value[1:], "rb") as file:
                value = file.read()
        else:
            value = value.encode()
        inputs.setdefault(name, []).append(value)
    return {name: np.array(values, object) for name, values in inputs.items()}


def _json_ready(value):
    if value.dtype == object:
        # Nested as the output is: retrieve's keys are (queries, k).
        decode = np.vectorize(
            lambda b: b.decode("utf-8", "replace"), otypes=[object]
        )
        return decode(value).tolist()
    return value.tolist()


def _describe(loaded):
    def specs(tensors):
        return {k: f"{v.dtype.name}{v.shape}" for k, v in tensors.items()}

    return {
        name: {
            "inputs": specs(function.structured_input_signature[1]),
            "outputs": specs(function.structured_outputs),
        }
        for name, function in loaded.signatures.items()
    }


def _run_npz(loaded, inputs_path, outputs_path):
    # Keys are "signature/input" or "signature/input/call": one call per
    # signature and call name, outputs keyed alike.
    grouped = {}
    with np.load(inputs_path, allow_pickle=True) as data:
        for key in data.files:
            signature, name, *call = key.split("/")
            group = grouped.setdefault((signature, *call), {})
            group[name] = data[key]
    outputs = {}
    for (signature, *call), inputs in grouped.items():
        for name, value in run(loaded, signature, inputs).items():
            outputs["/".join([signature, name, *call])] = value
    np.savez(outputs_path, **outputs)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "model_dirs",
        nargs="+",
        metavar="model_dir",
        help="a SavedModel version directory (several with --inputs)",
    )
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument(
        "--inputs",
        nargs="+",
        help=".npz of 'signature/input' arrays, one for all models or one a "
        "model",
    )
    parser.add_argument(
        "--outputs", nargs="+", help=".npz to write outputs to, one a model"
    )
    args = parser.parse_args(argv)
    if bool(args.inputs) != bool(args.outputs):
        parser.error("--inputs and --outputs go together")
    if len(args.model_dirs) != len(args.outputs or [None]):
        parser.error("give one --outputs file per model_dir")
    if args.inputs:
        if len(args.inputs) not in (1, len(args.model_dirs)):
            parser.error("give one --inputs file, or one per model_dir")
        inputs = args.inputs
        if len(inputs) == 1:
            inputs = inputs * len(args.model_dirs)
        for model_dir, inputs_path, outputs in zip(
            args.model_dirs, inputs, args.outputs, strict=True
        ):
            _run_npz(tf.saved_model.load(model_dir), inputs_path, outputs)
        return
    loaded = tf.saved_model.load(args.model_dirs[0])
    if args.list:
        print(json.dumps(_describe(loaded), indent=2))
    else:
        if args.signature not in loaded.signatures:
            names = ", ".join(sorted(loaded.signatures))
            sys.exit(f"no signature {args.signature!r}; the model has {names}")
        outputs = run(loaded, args.signature, _parse_inputs(args.input))
        print(json.dumps({k: _json_ready(v) for k, v in outputs.items()}))


if __name__ == "__main__":
    main()
