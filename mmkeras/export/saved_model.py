"""Writes a task model's serving functions as a SavedModel, with a
`README.md` saying how to load and call it."""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from mmkeras import _files
from mmkeras.export._progress import Progress


def write_saved_model(family, path, steps=None):
    """Saves `family.functions()` as the signatures of a SavedModel at
    `path`, `family.default_signature` also as `serving_default`."""
    steps = steps or Progress()
    functions = family.functions()
    module = tf.Module()
    # The functions capture these variables; tracking them saves them.
    module.model_variables = [v.value for v in family.model.variables]
    # And the tokenizer's lookup tables (a BPE tokenizer's merge ranks).
    if family.tokenizer is not None:
        module.tokenizer = family.tokenizer
    # Signatures only: the functions as attributes of `module` too (for
    # `loaded.<name>()` calls, which TF Serving and the consumers never
    # make) took 6.4 CPU-s to write the tiny vision-language model, 1.4
    # without.
    signatures = {}
    for name, function in functions.items():
        with steps.step(f"tracing signature {name!r}"):
            signatures[name] = function.get_concrete_function()
    default = family.default_signature
    signatures["serving_default"] = signatures.get(
        default, next(iter(signatures.values()))
    )
    with steps.step("writing the SavedModel"):
        tf.saved_model.save(module, path, signatures=signatures)
    text_ops = custom_ops(path)
    _files.write_text(
        os.path.join(path, "README.md"),
        readme(family, signatures, text_ops),
    )


def custom_ops(path):
    """The ops of the SavedModel at `path` that TensorFlow itself lacks:
    tensorflow-text's tokenizer and normalizer ops (not `tf.raw_ops`, nor
    the `Xla*` ops TensorFlow registers for XLA, which slice updates
    use)."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    ops = set()
    for graph in proto.meta_graphs:
        ops.update(node.op for node in graph.graph_def.node)
        for function in graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return sorted(
        op
        for op in ops
        if not hasattr(tf.raw_ops, op) and not op.startswith("Xla")
    )


def readme(family, signatures, text_ops):
    """The version folder's `README.md`: loading, the tf-text ops and
    every signature's inputs and outputs."""
    model = type(family.model).__name__
    lines = [
        f"# {model}: SavedModel written by mmkeras",
        "",
        f"Signatures (`serving_default` is `{family.default_signature}`):",
        "",
    ]
    for name, function in signatures.items():
        if name == "serving_default":
            continue
        args, kwargs = function.structured_input_signature
        inputs = _specs({spec.name: spec for spec in args} | kwargs)
        outputs = _specs(function.structured_outputs)
        lines.append(f"- `{name}({inputs})` -> `{outputs}`")
    lines += ["", "Load it in Python:", "", "```python"]
    if text_ops:
        lines.append("import tensorflow_text  # registers the ops below")
    lines += [
        "import tensorflow as tf",
        "",
        'model = tf.saved_model.load("<this folder>")',
        "```",
        "",
    ]
    if text_ops:
        lines += [
            "The text signatures tokenize in the graph with tensorflow-text "
            "ops (" + ", ".join(text_ops) + "): `import tensorflow_text` "
            "(the version matching your TensorFlow) before loading, or the "
            'load fails with "Op type not registered". TensorFlow '
            "Serving's model server links tensorflow-text's ops; use a "
            "release at least as new as the tensorflow-text that wrote "
            "this model.",
            "",
        ]
    lines.append(
        "Bad requests (an empty batch, a wrong shape, ids out of range, "
        "text that is not UTF-8, bytes that are not an image) are "
        "InvalidArgumentErrors naming the input: see export/README.md in "
        "the mmkeras repository."
    )
    return "\n".join(lines) + "\n"


def _specs(specs):
    return ", ".join(
        f"{name}: {spec.dtype.name}{_shape(spec.shape)}"
        for name, spec in specs.items()
    )


def _shape(shape):
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"
