"""Serving latency of exported models: Keras vs SavedModel vs ONNX Runtime.

For each family (the configs' models in `mmkeras/configs`, untrained:
latency does not depend on the weights) it exports SavedModel (plain and
XLA variants) and ONNX with `mmkeras.export.export`, then times one
request at batch 1 and 32 through the Keras model, each SavedModel's
tensor signature and ONNX Runtime. The runtimes take turns request by
request, so a busy machine slows them alike. Captioners decode greedily
the whole length (the Keras `generate`, the SavedModel `generate`, the
ONNX encoder + decoder-step loop of `run_onnx.py`); the end-to-end rows
time the string signature `caption(image_bytes)` on PNG files.

    .venv/bin/python benchmarks/export.py
    .venv/bin/python benchmarks/export.py --families vqa --repeats 50
"""

import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
import numpy as np  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402
from mmkeras.data.color_match import IMAGE_SIZE  # noqa: E402
from mmkeras.export import signatures  # noqa: E402
from mmkeras.export.consumers.run_onnx import Graphs  # noqa: E402
from mmkeras.models.builders import MODEL_BUILDERS  # noqa: E402

console = rich.console.Console()
COMMAND = " ".join([".venv/bin/python", *sys.argv])
# The builders of the configs' models (called with their defaults).
MODELS = {
    "captioner": MODEL_BUILDERS.get("shapes_captioner"),
    "vqa": MODEL_BUILDERS.get("easy_vqa_coattention"),
    "fusion": MODEL_BUILDERS.get("color_match_fusion"),
    "dual_encoder": MODEL_BUILDERS.get("shapes_dual_encoder"),
}
# The tensor signature (and ONNX graph) each family is timed on.
TENSOR_SIGNATURE = {
    "captioner": "generate",
    "vqa": "logits",
    "fusion": "logits",
    "dual_encoder": "image_embeddings",
}


IMAGE_SIZES = {
    "captioner": 75,
    "vqa": 64,
    "fusion": IMAGE_SIZE,
    "dual_encoder": 75,
}


def _built(family):
    """The config's model, built on one example of its data's shapes."""
    model = MODELS[family]()
    size = IMAGE_SIZES[family]
    if family == "captioner":
        text_key, length = "token_ids", model.sequence_length
    else:
        text_key = "question_ids" if family == "vqa" else "token_ids"
        length = model.tokenizer.sequence_length
    model(
        {
            "image": np.zeros((1, size, size, 3), "float32"),
            text_key: np.ones((1, length), "int32"),
        }
    )
    return model


def _runners(family, model, written, batch_size):
    """{runtime: zero-argument request} for one family and batch size."""
    spec = signatures.for_model(model)
    name = TENSOR_SIGNATURE[family]
    inputs = spec.examples(batch_size, seed=0)
    tensor_inputs = inputs[name]
    runners = {}
    if family == "captioner":
        runners["keras"] = lambda: model.generate(
            tensor_inputs["image"], return_strings=False
        )
    else:
        # The tf.function that the SavedModel signature saves, in process.
        keras_fn = spec.functions()[name]
        runners["keras"] = lambda: keras_fn(*tensor_inputs.values())
    for kind in ("saved_model", "saved_model_xla"):
        loaded = tf.saved_model.load(written[kind])
        function = loaded.signatures[name]
        tensors = {k: tf.constant(v) for k, v in tensor_inputs.items()}
        runners[kind] = lambda f=function, t=tensors: f(**t)
        if family == "captioner":
            caption = loaded.signatures["caption"]
            encoded = tf.constant(list(inputs["caption"]["image_bytes"]))
            runners[f"{kind} caption(bytes)"] = lambda f=caption, b=encoded: f(
                image_bytes=b
            )
    graphs = Graphs(written["onnx"])
    onnx_name = "generate" if family == "captioner" else name
    runners["onnx"] = lambda: graphs.run(onnx_name, tensor_inputs)
    return runners


def _time(runners, repeats):
    for run in runners.values():
        run()  # warm-up: tracing, XLA compilation, session set-up
    seconds = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return {
        name: (
            1000 * statistics.median(values),
            1000 * float(np.percentile(values, 95)),
        )
        for name, values in seconds.items()
    }


@click.command()
@click.option(
    "--families",
    default=",".join(MODELS),
    show_default=True,
    help="Comma-separated families.",
)
@click.option("--batch-sizes", default="1,32", show_default=True)
@click.option("--repeats", default=20, show_default=True)
def main(families, batch_sizes, repeats):
    """Latency of Keras, SavedModel (plain, XLA) and ONNX Runtime."""
    load = os.getloadavg()[0]
    table = rich.table.Table(
        title=f"Serving latency, ms ({repeats} requests each, load {load:.1f})"
    )
    for column in ("family", "batch", "runtime", "p50", "p95", "keras/this"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as scratch:
        for family in families.split(","):
            model = _built(family)
            written = mmkeras.export.export(
                model,
                os.path.join(scratch, family),
                format="all",
                verify=False,
                xla=True,
            )
            for batch_size in map(int, batch_sizes.split(",")):
                runners = _runners(family, model, written, batch_size)
                results = _time(runners, repeats)
                keras_p50 = results["keras"][0]
                for name, (p50, p95) in results.items():
                    table.add_row(
                        family,
                        str(batch_size),
                        name,
                        f"{p50:.1f}",
                        f"{p95:.1f}",
                        f"{keras_p50 / p50:.2f}x",
                    )
    console.print(table)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
