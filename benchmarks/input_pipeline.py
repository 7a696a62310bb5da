"""Is the input pipeline fast enough to feed the model? Per config, in one run.

For each of four training configs in `mmkeras/configs` (captioner:
`caption_shapes`, vqa: `vqa_easy_vqa`, fusion: `fusion_color_match`,
dual_encoder: `dual_encoder_shapes`), at batch 64 (the configs' default):

- pipeline samples/s: one epoch of the train split of the config's
  `datasets()`, iterated without the model as `model.fit` consumes it (no
  extra prefetch or parallelism). Each pass makes a fresh iterator, which
  refills the shuffle buffers as every epoch of training does. The configs
  that take a size are built with an epoch of `--batches` batches (and a
  tiny validation split); easy-VQA's `datasets()` takes no size, so its
  pass is its whole epoch of 603 batches: a part of it would still pay the
  shuffle of all 38,575 questions (about 150 ms on 2 busy cores) that
  training spreads over the epoch. One untimed pass comes first: it starts
  the thread pools and fills the dual encoder's `cache()`, so its passes
  read the cache, as its epochs after the first.
- model samples/s: `model.fit` training steps of the config's `model()` on
  one batch of that pipeline, repeated with
  `tf.data.Dataset.from_tensors(batch).repeat()`, so no input cost is
  included; the median step, timed by `_timing.StepTimer`, after two
  untimed steps (tracing).

Pipeline passes and model steps take turns (three turns of one pass and a
third of `--steps` steps), so load from other processes falls on both
alike. The pipeline rate comes from the median pass.

Reading the table: `pipeline / model` is the ratio of the two rates; above
1x the pipeline makes batches faster than the model trains on them. The
last column is its inverse, the time the pipeline needs for one batch as
a share of a training step. On a CPU-only machine the pipeline and the
step share the cores: a pipeline without a final `prefetch` (or with no
spare core) runs in series with the step, so a step with its input takes
about (1 + share) of the step alone; only with `prefetch` and a spare
core can a ratio above 1x hide the input entirely.

Run from the repository root (a few minutes on 2 CPU cores):

    .venv/bin/python benchmarks/input_pipeline.py
    .venv/bin/python benchmarks/input_pipeline.py --batches 5 --steps 3 \\
        --families fusion,dual_encoder
"""

import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _timing  # noqa: E402
import click  # noqa: E402
import keras  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmkeras import training  # noqa: E402
from mmkeras.data import build_splits  # noqa: E402
from mmkeras.models.builders import MODEL_BUILDERS  # noqa: E402

COMMAND = " ".join([".venv/bin/python", *sys.argv])
CONFIGS = {
    "captioner": "caption_shapes",
    "vqa": "vqa_easy_vqa",
    "fusion": "fusion_color_match",
    "dual_encoder": "dual_encoder_shapes",
}
BATCH_SIZE = 64
# The caption data's default: captions per training scene.
CAPTIONS = 5
# Validation examples: built by datasets() but never iterated here.
VALIDATION = 64
TURNS = 3
WARMUP_STEPS = 2


def train_pipeline(family, batches):
    """The config's training pipeline, `batches` batches long if sized."""
    samples = batches * BATCH_SIZE
    kwargs = {
        # Ceiling: up to 4 extra captions, in a last partial batch.
        "captioner": {
            "train_images": -(-samples // CAPTIONS),
            "test_images": VALIDATION,
            "captions": CAPTIONS,
        },
        "vqa": {},
        "fusion": {"num_train": samples, "num_validation": VALIDATION},
        "dual_encoder": {"num_train": samples, "num_validation": VALIDATION},
    }[family]
    spec = training.load_config(CONFIGS[family])["data"]
    spec = {**spec, "kwargs": {**spec.get("kwargs", {}), **kwargs}}
    return build_splits(
        {**spec, "kwargs": {**spec["kwargs"], "batch_size": BATCH_SIZE}},
        "train",
    )


def pipeline_pass(dataset):
    """(samples, seconds) of one pass with a fresh iterator."""
    samples, start = 0, time.perf_counter()
    for batch in dataset:
        samples += int(tf.nest.flatten(batch)[0].shape[0])
    return samples, time.perf_counter() - start


def measure(family, batches, steps):
    """(pipeline samples/s, model samples/s) of one config, in turns."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    train = train_pipeline(family, batches)
    pipeline_pass(train)  # warm-up: thread pools, the dual encoder's cache
    batch = next(iter(train))
    data = tf.data.Dataset.from_tensors(batch).repeat()
    # The builder's defaults, not the recipe's hyper-parameters.
    builder = training.load_config(CONFIGS[family])["model"]["name"]
    model = MODEL_BUILDERS.get(builder)()
    _timing.fit_steps(model, data, WARMUP_STEPS)  # builds, traces
    timer = _timing.StepTimer()
    passes = []
    for _ in range(TURNS):
        passes.append(pipeline_pass(train))
        _timing.fit_steps(model, data, -(-steps // TURNS), [timer])
    samples = passes[0][0]
    pipeline = samples / statistics.median([s for _, s in passes])
    batch_size = int(tf.nest.flatten(batch)[0].shape[0])
    return pipeline, batch_size / statistics.median(timer.step_seconds)


def _parse_families(ctx, param, value):
    families = value.split(",")
    unknown = [family for family in families if family not in CONFIGS]
    if unknown:
        raise click.BadParameter(
            f"unknown families {unknown}; expected a comma-separated subset "
            f"of {','.join(CONFIGS)}. Received: {value!r}"
        )
    return families


@click.command()
@click.option(
    "--batches",
    default=20,
    show_default=True,
    type=click.IntRange(1),
    help="Batches of 64 per epoch of the sized configs (not easy-VQA).",
)
@click.option(
    "--steps",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help=f"Timed training steps per config, in {TURNS} turns.",
)
@click.option(
    "--families",
    default=",".join(CONFIGS),
    show_default=True,
    callback=_parse_families,
    help="Comma-separated families.",
)
def main(batches, steps, families):
    """Pipeline samples/s against training samples/s; prints one table."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.perf_counter()
    table = rich.table.Table(
        title=f"Input pipeline vs model.fit, batch {BATCH_SIZE}: {TURNS} "
        f"epochs of {batches} batches (vqa: all), "
        f"{-(-steps // TURNS) * TURNS} steps "
        f"(load average {load})"
    )
    table.add_column("family")
    table.add_column("pipeline\nsamples/s", justify="right")
    table.add_column("model\nsamples/s", justify="right")
    table.add_column("pipeline /\nmodel", justify="right")
    table.add_column("pipeline share\nof a step", justify="right")
    for family in families:
        pipeline, model = measure(family, batches, steps)
        table.add_row(
            family,
            f"{pipeline:,.0f}",
            f"{model:,.0f}",
            f"{pipeline / model:.1f}x",
            f"{100 * model / pipeline:.0f}%",
        )
    console = _timing.print_table(table, started)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
