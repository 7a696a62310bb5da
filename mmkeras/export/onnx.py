"""Converts a task model's tensor graphs to ONNX with tf2onnx."""

import json
import os

import numpy as np

from mmkeras.export.signatures import ExportError

# ONNX Runtime 1.2x runs opset 17 fully; tf2onnx 1.17 writes up to 18.
OPSET = 17


def write_onnx(family, directory, opset=OPSET):
    """One `<graph>.onnx` per `family.onnx_functions()` and the
    `onnx_config.json` that `run_onnx.py` reads.

    `family.model` must use the attention's plain path: tf2onnx cannot
    convert a call of an XLA-compiled function.
    """
    # Imported here: tf2onnx takes seconds to import and only ONNX needs it.
    import tf2onnx

    os.makedirs(directory, exist_ok=True)
    functions = family.onnx_functions()
    for name, function in functions.items():
        signature = function.input_signature
        try:
            tf2onnx.convert.from_function(
                function,
                input_signature=signature,
                opset=opset,
                custom_op_handlers={"Erfc": (_erfc, [])},
                output_path=os.path.join(directory, f"{name}.onnx"),
            )
        except Exception as error:  # tf2onnx raises bare Exceptions
            raise ExportError(
                f"tf2onnx could not convert the {name!r} graph of this "
                f"{type(family.model).__name__}: {error}"
            ) from error
    config = {"graphs": sorted(functions), "opset": opset}
    config.update(family.onnx_config())
    if config.get("vocabulary"):
        vocabulary = family.tokenizer.get_vocabulary()
        with open(os.path.join(directory, config["vocabulary"]), "w") as file:
            file.write("\n".join(vocabulary) + "\n")
    with open(os.path.join(directory, "onnx_config.json"), "w") as file:
        json.dump(config, file, indent=2)


def _erfc(ctx, node, name, args):
    # Exact GELU uses erfc, which ONNX lacks: erfc(x) = 1 - erf(x).
    from tf2onnx import utils

    node.type = "Erf"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype))
    ctx.insert_new_node_on_output(
        "Sub", node.output[0], inputs=[one.output[0], node.output[0]]
    )
