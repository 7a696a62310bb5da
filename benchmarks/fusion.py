"""Fusion strategies compared on a task each modality alone cannot solve.

The task is colour match (`mmkeras.data.color_match`): a 32x32
image of one shape in colour `c_img`, a short text naming a colour `c_txt`,
label 1 if `c_img == c_txt`. Labels are balanced and each modality is
independent of the label, so the unimodal baselines (`image_only`,
`text_only`) are at 50% by construction and late fusion, which adds one
score per modality, cannot express a match either. Early (`concat`),
`gated`, `bilinear` (MFB) and `attention` fusion should all reach >= 95%.

Every fusion trains the same tiny encoders (`ConvImageEncoder` "tiny" with
layer norm, `TransformerTextEncoder` "tiny") from the same seed with
`model.fit` for `--epochs` epochs on `--num-train` examples (seed 0); the
table gives the accuracy on `--num-validation` new examples (seed 1) after
the last epoch, the best epoch's, the final training accuracy and the wall
time (tracing included).

Run from the repository root (about 15 minutes on 2 idle CPU cores):

    .venv/bin/python benchmarks/fusion.py
    .venv/bin/python benchmarks/fusion.py --epochs 5 --fusions concat,late
"""

import datetime
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
import keras  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402
from mmkeras.models.fusion import FUSIONS  # noqa: E402
from mmkeras.models.fusion.builders import color_match_fusion  # noqa: E402

TARGET = 0.95
# The fusions that can express an interaction of the modalities.
INTERACTING = ("concat", "gated", "bilinear", "attention")


def run_fusion(fusion, epochs, num_train, num_validation, batch_size, seed):
    """Trains one fusion; returns its history and wall seconds."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    train, validation = mmkeras.data.DATASETS.call(
        {"name": "color_match"},
        num_train=num_train,
        num_validation=num_validation,
        batch_size=batch_size,
        seed=seed,
    )
    start = time.perf_counter()
    model = color_match_fusion(fusion=fusion)
    history = model.fit(
        train, validation_data=validation, epochs=epochs, verbose=0
    )
    return history.history, time.perf_counter() - start


def make_table(title):
    table = rich.table.Table(title=title)
    table.add_column("fusion")
    table.add_column("val accuracy\nlast epoch", justify="right")
    table.add_column("val accuracy\nbest epoch", justify="right")
    table.add_column("train accuracy\nlast epoch", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("time", justify="right")
    return table


def add_row(table, fusion, history, seconds):
    last = history["val_accuracy"][-1]
    if fusion in INTERACTING:
        expected = f">= {TARGET:.0%}"
        verdict = " ok" if last >= TARGET else " MISSED"
    else:
        expected, verdict = "~50% (chance)", ""
    table.add_row(
        fusion,
        f"{last:.1%}{verdict}",
        f"{max(history['val_accuracy']):.1%}",
        f"{history['accuracy'][-1]:.1%}",
        expected,
        f"{seconds:.0f} s",
    )


def machine_facts():
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{len(os.sched_getaffinity(0))} usable CPUs, load avg {load}, "
        f"TF {tf.__version__}, Keras {keras.__version__}, "
        f"Python {platform.python_version()}, "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )


@click.command()
@click.option("--epochs", default=30, show_default=True)
@click.option("--num-train", default=4096, show_default=True)
@click.option("--num-validation", default=1024, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--fusions",
    default=",".join(FUSIONS),
    show_default=True,
    help="Comma-separated fusion names.",
)
def main(epochs, num_train, num_validation, batch_size, seed, fusions):
    console = rich.console.Console()
    command = " ".join(["python", *sys.argv])
    console.print(machine_facts())
    table = make_table(
        f"Colour match: {num_train} train / {num_validation} validation "
        f"examples, {epochs} epochs, batch {batch_size}, seed {seed}"
    )
    start = time.perf_counter()
    for fusion in fusions.split(","):
        history, seconds = run_fusion(
            fusion, epochs, num_train, num_validation, batch_size, seed
        )
        console.print(
            f"{fusion}: val accuracy per epoch "
            + " ".join(f"{a:.3f}" for a in history["val_accuracy"])
        )
        add_row(table, fusion, history, seconds)
    table.caption = (
        f"command: {command}\n"
        f"total wall time {time.perf_counter() - start:.0f} s"
    )
    console.print(table)


if __name__ == "__main__":
    main()
