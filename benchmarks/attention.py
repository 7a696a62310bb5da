"""Training-step throughput of an attention-heavy model: XLA blocks vs plain.

The model is a stack of two `mmkeras.layers.TransformerEncoderBlock`s (width
256, 4 heads, MLP 1024) on float inputs `(batch, seq_len, 256)`, mean pooled
into `Dense(10)`, trained with plain `model.fit` (Adam, sparse categorical
cross-entropy) on one random batch repeated. Each sequence length gets three
rows:

- `XLA blocks`: `TransformerEncoderBlock(xla=True)`, each block
  (attention, MLP, norms) is one XLA computation, the rest of the step
  runs in the plain graph.
- `plain`: `xla=False`, the same math with no XLA anywhere.
- `whole-step XLA`: `xla=False` blocks and `model.compile(jit_compile=True)`,
  the whole train step is one XLA cluster (single device only; compiled
  blocks are what works under `tf.distribute.MirroredStrategy`).

Each model is traced (and compiled) by a warm-up `fit`; then the three
models take turns, two timed steps each, until each has run `--steps` steps,
so load from other processes falls on all of them alike. The table shows the
median step (± half the interquartile range) and the best step, which is
the least disturbed by other processes. `vs plain` is the speed-up over the
`plain` row of the same sequence length in the same run, from the medians
and from the best steps.

FLOPs are counted analytically. Per block forward, with batch B, length T,
width d and MLP width m (= 4d here):

    projections (q, k, v, out)   4 * 2*B*T*d*d
    scores q.k + weighted sum    2 * 2*B*T*T*d
    MLP (two matmuls)            2 * 2*B*T*d*m

and a training step counts as 3x the forward (the backward pass does two
matmuls per forward matmul). Layer norms, softmax, GELU, the pooled head and
the optimizer update are left out, so the achieved FLOP/s slightly
understates the work done.

The peak is this machine's float32 matmul rate: after a warm-up, one
`tf.matmul` of two n x n matrices (2*n^3 FLOPs) is timed at every turn,
between the model steps, so it meets the same load from other processes.
`% of peak` divides the median step's FLOP/s by the median matmul rate; the
caption also gives the best matmul rate.

Run from the repository root (about 2 minutes on 2 idle CPU cores):

    .venv/bin/python benchmarks/attention.py
    .venv/bin/python benchmarks/attention.py --steps 10 --seq-lens 128
"""

import datetime
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _timing  # noqa: E402
import click  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402

WIDTH = 256
NUM_HEADS = 4
INTERMEDIATE_DIM = 1024
NUM_BLOCKS = 2
NUM_CLASSES = 10
# name -> (TransformerEncoderBlock xla, model.compile jit_compile)
MODES = {
    "XLA blocks": (True, False),
    "plain": (False, False),
    "whole-step XLA": (False, True),
}
# Timed steps per turn: few, so that the modes interleave finely.
STEPS_PER_TURN = 2


def build_model(seq_len, xla, jit_compile):
    """The benchmarked classifier, compiled for training."""
    inputs = keras.Input((seq_len, WIDTH))
    x = inputs
    for _ in range(NUM_BLOCKS):
        x = mmkeras.layers.TransformerEncoderBlock(
            NUM_HEADS, INTERMEDIATE_DIM, xla=xla
        )(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def random_batches(batch_size, seq_len):
    """One random batch, repeated forever (no input pipeline cost)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, seq_len, WIDTH), dtype="float32")
    y = rng.integers(0, NUM_CLASSES, size=(batch_size,))
    return tf.data.Dataset.from_tensors((x, y)).repeat()


def time_modes(batch_size, seq_len, steps, warmup_steps, meter):
    """Per-step seconds of every mode (or the exception it raised).

    `meter` times one matmul per turn, alongside the model steps.
    """
    keras.backend.clear_session()
    # Seeded once: reseeding before each model made the next step of the
    # models already warmed up as slow as a retrace.
    keras.utils.set_random_seed(0)
    data = random_batches(batch_size, seq_len)
    models, results = {}, {}
    for mode, (xla, jit_compile) in MODES.items():
        try:
            models[mode] = build_model(seq_len, xla, jit_compile)
            _timing.fit_steps(models[mode], data, warmup_steps)
        except Exception as error:  # noqa: BLE001 - reported in the table
            models.pop(mode, None)
            results[mode] = error
    timers = {mode: _timing.StepTimer() for mode in models}
    for _ in range(-(-steps // STEPS_PER_TURN)):
        meter.sample()
        for mode, model in models.items():
            _timing.fit_steps(model, data, STEPS_PER_TURN, [timers[mode]])
    results.update({mode: timer.step_seconds for mode, timer in timers.items()})
    return {mode: results[mode] for mode in MODES}


def train_step_flops(batch_size, seq_len):
    """Analytic FLOPs of one training step (see the module docstring)."""
    b, t, d, m = batch_size, seq_len, WIDTH, INTERMEDIATE_DIM
    projections = 4 * 2 * b * t * d * d
    attention = 2 * 2 * b * t * t * d
    mlp = 2 * 2 * b * t * d * m
    return 3 * NUM_BLOCKS * (projections + attention + mlp)


class MatmulMeter:
    """Times a float32 `size` x `size` `tf.matmul`, one call per `sample`."""

    def __init__(self, size, warmup=3):
        self.flops = 2 * size**3
        a = tf.random.normal((size, size))
        b = tf.random.normal((size, size))
        self._matmul = tf.function(lambda: tf.matmul(a, b))
        for _ in range(warmup):
            self._matmul().numpy()
        self.seconds = []

    def sample(self):
        start = time.perf_counter()
        self._matmul().numpy()
        self.seconds.append(time.perf_counter() - start)


def machine_facts():
    """One line: CPUs, CPU model, load, library versions, date."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{len(os.sched_getaffinity(0))} usable CPUs "
        f"({os.cpu_count()} online), {_cpu_model()}, load avg {load}, "
        f"TF {tf.__version__}, Keras {keras.__version__}, "
        f"Python {platform.python_version()}, "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )


def make_table(title):
    table = rich.table.Table(title=title)
    table.add_column("seq len", justify="right")
    table.add_column("mode")
    table.add_column("ms/step\nmedian ± IQR/2", justify="right")
    table.add_column("ms/step\nbest", justify="right")
    table.add_column("samples/s\nmedian", justify="right")
    table.add_column("GFLOP/s\nmedian", justify="right")
    table.add_column("% of peak\nmedian", justify="right")
    table.add_column("vs plain\nmedian, best", justify="right")
    return table


def add_rows(table, results, batch_size, seq_len, peak):
    """Adds one sequence length's rows; speed-ups are against `plain`."""
    plain = results["plain"]
    for mode, seconds in results.items():
        if isinstance(seconds, Exception):
            failed = f"failed: {type(seconds).__name__}"
            table.add_row(str(seq_len), mode, failed)
            continue
        median = statistics.median(seconds)
        low, _, high = statistics.quantiles(seconds, n=4)
        flops = train_step_flops(batch_size, seq_len) / median
        speedup = "-"
        if not isinstance(plain, Exception):
            speedup = (
                f"{statistics.median(plain) / median:.2f}x, "
                f"{min(plain) / min(seconds):.2f}x"
            )
        table.add_row(
            str(seq_len),
            mode,
            f"{1e3 * median:.1f} ± {1e3 * (high - low) / 2:.1f}",
            f"{1e3 * min(seconds):.1f}",
            f"{batch_size / median:.1f}",
            f"{flops / 1e9:.1f}",
            f"{100 * flops / peak:.0f}%",
            speedup,
        )
    table.add_section()


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _parse_seq_lens(ctx, param, value):
    try:
        seq_lens = [int(part) for part in value.split(",")]
    except ValueError:
        seq_lens = []
    if not seq_lens or min(seq_lens) < 1:
        raise click.BadParameter(
            "expected comma-separated positive integers such as '64,256'. "
            f"Received: {value!r}"
        )
    return seq_lens


@click.command()
@click.option(
    "--steps",
    default=30,
    show_default=True,
    type=click.IntRange(STEPS_PER_TURN),
    help=f"Timed steps per row, in turns of {STEPS_PER_TURN}.",
)
@click.option(
    "--warmup-steps",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Untimed steps per row (tracing and XLA compilation).",
)
@click.option(
    "--batch-size", default=8, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--seq-lens",
    default="64,256",
    show_default=True,
    callback=_parse_seq_lens,
    help="Comma-separated sequence lengths.",
)
@click.option(
    "--matmul-size",
    default=2048,
    show_default=True,
    type=click.IntRange(1),
    help="n of the n x n float32 matmul that measures the peak.",
)
def main(steps, warmup_steps, batch_size, seq_lens, matmul_size):
    """Times training steps with and without XLA; prints one table."""
    started = time.perf_counter()
    facts = machine_facts()
    meter = MatmulMeter(matmul_size)
    results = {}
    for seq_len in seq_lens:
        results[seq_len] = time_modes(
            batch_size, seq_len, steps, warmup_steps, meter
        )
    peak = meter.flops / statistics.median(meter.seconds)
    table = make_table(
        f"Train step of {NUM_BLOCKS} x TransformerEncoderBlock(width {WIDTH},"
        f" {NUM_HEADS} heads, MLP {INTERMEDIATE_DIM}), batch {batch_size}, "
        f"{-(-steps // STEPS_PER_TURN) * STEPS_PER_TURN} steps\n{facts}"
    )
    table.caption = (
        f"peak = {matmul_size}x{matmul_size} float32 tf.matmul, median "
        f"{peak / 1e9:.1f} GFLOP/s, best "
        f"{meter.flops / min(meter.seconds) / 1e9:.1f} GFLOP/s; wall time "
        f"{time.perf_counter() - started:.0f} s"
    )
    for seq_len, modes in results.items():
        add_rows(table, modes, batch_size, seq_len, peak)
        for mode, error in modes.items():
            if isinstance(error, Exception):
                print(f"{mode} (seq {seq_len}): {error!r}", file=sys.stderr)
    console = rich.console.Console()
    if not console.is_terminal:
        console = rich.console.Console(width=120)
    console.print(table)


if __name__ == "__main__":
    main()
