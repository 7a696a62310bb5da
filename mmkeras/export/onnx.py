"""Converts a task model's tensor graphs to ONNX with tf2onnx."""

import os

import numpy as np

from mmkeras import _files
from mmkeras.export._progress import Progress
from mmkeras.export.signatures import ExportError

# ONNX Runtime 1.2x runs opset 17 fully; tf2onnx 1.17 writes up to 18.
OPSET = 17
# Copied beside the graphs: what runs them without mmkeras.
CONSUMERS = os.path.join(os.path.dirname(__file__), "consumers")
# The consumer and the module it imports, copied beside the graphs.
CONSUMER_FILES = ("run_onnx.py", "onnx_tokenizers.py")

_README = """# {model}: ONNX graphs written by mmkeras

Graphs: {graphs} (one `.onnx` file each, opset {opset}).
`onnx_config.json` says how to use them: how to convert images, the
tokenizer (`vocabulary.txt` and its settings){labels}.

`run_onnx.py`, copied here with `onnx_tokenizers.py`, runs them with
onnxruntime, numpy and Pillow alone, tokenizing text and naming classes
as the SavedModel does:

    python run_onnx.py . {request}

Bad inputs fail in onnxruntime: a wrong shape names the input; an empty
batch, or ids outside their range, fail in a Gather node named after the
check (`<input>_is_an_empty_batch`, `<input>_outside_0_<n>`).
"""


def write_onnx(family, directory, steps=None):
    """One `<graph>.onnx` per `family.onnx_functions()`, the files the
    consumer reads (`family.onnx_files()`: vocabulary, class names), the
    `onnx_config.json` that `run_onnx.py` reads, the consumer `run_onnx.py`
    itself and a `README.md`.

    `family.model` must use the attention's plain path: tf2onnx cannot
    convert a call of an XLA-compiled function.
    """
    # Imported here: tf2onnx takes seconds to import and only ONNX needs it.
    import tf2onnx

    steps = steps or Progress()
    os.makedirs(directory, exist_ok=True)
    functions = family.onnx_functions()
    for name, function in functions.items():
        signature = function.input_signature
        path = os.path.join(directory, f"{name}.onnx")
        try:
            with steps.step(f"converting graph {name!r}"):
                tf2onnx.convert.from_function(
                    function,
                    input_signature=signature,
                    opset=OPSET,
                    custom_op_handlers={"Erfc": (_erfc, [])},
                    output_path=path,
                )
        except Exception as error:  # tf2onnx raises bare Exceptions
            raise ExportError(
                f"tf2onnx could not convert the {name!r} graph of this "
                f"{type(family.model).__name__}: {error}"
            ) from error
    config = {"graphs": sorted(functions), "opset": OPSET}
    config.update(family.onnx_config())
    for file_name, lines in family.onnx_files().items():
        text = "".join(f"{line}\n" for line in lines)
        _files.write_text(os.path.join(directory, file_name), text)
    _files.write_json(os.path.join(directory, "onnx_config.json"), config)
    for consumer in CONSUMER_FILES:
        with open(os.path.join(CONSUMERS, consumer), "rb") as file:
            _files.write_bytes(os.path.join(directory, consumer), file.read())
    _files.write_text(os.path.join(directory, "README.md"), _readme(config))


def _readme(config):
    request = config.get("request", {})
    flags = {
        "classify": f" --{request.get('text_flag', 'text')} '...'",
        "score": " --text 'a red circle' --text 'a blue square'",
    }
    # A language model takes prompts, the others images.
    if request.get("task") == "generate":
        command = "--prompt 'The capital of France is'"
    else:
        command = "--image scene.png" + flags.get(request.get("task"), "")
    labels = config.get("labels")
    return _README.format(
        model=config.get("model", "model"),
        graphs=", ".join(f"`{g}`" for g in config["graphs"]),
        opset=config["opset"],
        labels=f", the class names (`{labels}`)" if labels else "",
        request=command,
    )


def _erfc(ctx, node, name, args):
    # Exact GELU uses erfc, which ONNX lacks: erfc(x) = 1 - erf(x).
    from tf2onnx import utils

    node.type = "Erf"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype))
    ctx.insert_new_node_on_output(
        "Sub", node.output[0], inputs=[one.output[0], node.output[0]]
    )
