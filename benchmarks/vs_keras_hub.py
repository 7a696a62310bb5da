"""mmkeras against KerasHub 0.32 at equal sizes: a training sweep, and
decoding speed.

Training: `mmkeras.models.DualEncoder` of `mmkeras.encoders.ViTImageEncoder`
and `mmkeras.encoders.TransformerTextEncoder` against
`keras_hub.models.CLIPBackbone` of `keras_hub.models.CLIPVisionEncoder` and
`keras_hub.models.CLIPTextEncoder`, with the same image and patch size,
width, depth, heads, MLP width, sequence length, vocabulary and projection
size. Both train with `model.fit` (Adam 1e-3, `jit_compile=False`) on one
random batch repeated: mmkeras with its default `mmkeras.losses.InfoNCE`,
KerasHub with the same symmetric InfoNCE, written here, on its
`vision_logits`. The sweep runs every (width, depth, batch) row of the
grid: `--grid latin` (the default) is a 3x3 Latin square, each width meets
each depth once and each batch once per width and per depth (9 rows);
`--grid full` is every combination (27 rows). Heads are width / 64 and the
MLP is 4x the width. Each row builds both models, warms them up, then
they take turns of two steps, so load from other processes falls on both
alike; ms/step is the median step.

`--precision float32` or `mixed_bfloat16` sets the Keras global dtype
policy before both models are built (`both` runs the sweep twice). The
ceiling of a row is this machine's rate for one 2048x2048 `tf.matmul` in
the row's compute dtype, timed at every turn between the model steps (the
median of each turn's fastest of 3 calls), so it meets the same load.
GFLOP/s are analytic: per encoder block and token,
`2 * (4 d^2 + 2 d m) + 4 T d` forward (the four attention projections,
the two MLP matmuls, scores and weighted sum over T tokens),
the patch embedding, times 3 for a training step (the backward pass does
two matmuls per forward matmul), for 65 image tokens (64 patches and a
class token) and the text tokens; norms, softmax, GELU and the optimizer
are left out. Both libraries are counted with the same FLOPs, so the
`% of ceiling` columns compare like with like.

What differs by design, at the same sizes:

- XLA: mmkeras's blocks follow their `xla` option (`--xla`, default
  `auto`: the library's default, plain on CPUs, compiled on a GPU or TPU);
  KerasHub runs its blocks in the plain graph.
- CLIP's vision tower adds a LayerNorm before the blocks and has no patch
  bias; its text tower is causal and pools the token with the highest id
  (CLIP's end token); mmkeras's text tower is bidirectional with a padding
  mask and mean-pools. Both use exact GELU (not CLIP's quick GELU) and no
  dropout.

Decoding (`--decoding`, at the first width and depth of the sweep and its
first batch): `mmkeras.models.ImageCaptioner` (the same ViT as image
encoder, then `TransformerDecoderBlock`s cross-attending to its tokens, a
LayerNorm and a Dense to logits) against the same stack from KerasHub
parts (`_peers.HubCaptioner`), each driven by its library's greedy and
4-beam samplers with a KV cache, as `tf.function`s without and with
`jit_compile`; tokens/s of the median of `--repeats` runs.

Weights are random (no presets are downloaded). Target: mmkeras >= 1.2x
KerasHub on every training row, in both precisions.

    .venv/bin/python benchmarks/vs_keras_hub.py --precision float32
    .venv/bin/python benchmarks/vs_keras_hub.py --precision mixed_bfloat16
    .venv/bin/python benchmarks/vs_keras_hub.py --widths 128 --depths 2 \\
        --batches 32 --decoding
"""

import contextlib
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _peers  # noqa: E402
import _timing  # noqa: E402
import click  # noqa: E402
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402

# The decoding modes are tf.functions of one lambda, whose first traces TF
# would report as retracing.
tf.get_logger().setLevel("ERROR")
COMMAND = " ".join([".venv/bin/python", *sys.argv])
# Timed training steps per turn: few, so that the two models interleave.
STEPS_PER_TURN = 2
LIBRARIES = ("mmkeras", "KerasHub")
IMAGE_SIZE, PATCH_SIZE = 64, 8
SEQUENCE_LENGTH, VOCABULARY_SIZE, PROJECTION_DIM = 16, 1000, 128
MATMUL_SIZE = 2048
XLA_CHOICES = {"auto": "auto", "true": True, "false": False}


def sizes_of(width, depth):
    """The `_peers` size dict of one sweep row."""
    return dict(
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        width=width,
        num_layers=depth,
        num_heads=max(1, width // 64),
        intermediate_dim=4 * width,
        sequence_length=SEQUENCE_LENGTH,
        vocabulary_size=VOCABULARY_SIZE,
        projection_dim=PROJECTION_DIM,
    )


def grid_rows(widths, depths, batches, grid):
    """The (width, depth, batch) rows: every combination, or a Latin
    square over the first three of each list."""
    if grid == "full":
        return [(w, d, b) for w in widths for d in depths for b in batches]
    if not len(widths) == len(depths) == len(batches):
        raise click.BadParameter(
            "--grid latin needs as many widths, depths and batches. "
            f"Received: {widths}, {depths}, {batches}; use --grid full."
        )
    n = len(widths)
    return [
        (widths[i], depths[j], batches[(i + j) % n])
        for i in range(n)
        for j in range(n)
    ]


def train_step_flops(sizes, batch_size):
    """Analytic FLOPs of one training step (see the module docstring)."""
    d, m = sizes["width"], sizes["intermediate_dim"]
    image_tokens = (IMAGE_SIZE // PATCH_SIZE) ** 2 + 1
    flops = 2 * (image_tokens - 1) * PATCH_SIZE**2 * 3 * d
    for tokens in (image_tokens, SEQUENCE_LENGTH):
        per_token = 2 * (4 * d * d + 2 * d * m) + 4 * tokens * d
        flops += sizes["num_layers"] * tokens * per_token
    return 3 * batch_size * flops


class MatmulMeter:
    """Times a `MATMUL_SIZE`^2 `tf.matmul` in `dtype`, once per `sample`."""

    def __init__(self, dtype, warmup=3):
        self.flops = 2 * MATMUL_SIZE**3
        a, b = (
            tf.cast(tf.random.normal((MATMUL_SIZE, MATMUL_SIZE)), dtype)
            for _ in range(2)
        )
        self._matmul = tf.function(lambda: tf.matmul(a, b))
        for _ in range(warmup):
            self._matmul().numpy()
        self.seconds = []

    def sample(self, tries=3):
        """Records the fastest of `tries` calls: one call of a busy
        machine's turn is often cut by another process."""
        seconds = []
        for _ in range(tries):
            start = time.perf_counter()
            self._matmul().numpy()
            seconds.append(time.perf_counter() - start)
        self.seconds.append(min(seconds))

    def rate(self):
        return self.flops / statistics.median(self.seconds)


def random_pairs(sizes, batch_size):
    """One random batch: images `(batch, size, size, 3)` and token ids."""
    rng = np.random.default_rng(0)
    size = sizes["image_size"]
    images = rng.random((batch_size, size, size, 3), "float32")
    token_ids = rng.integers(
        1,
        sizes["vocabulary_size"],
        (batch_size, sizes["sequence_length"]),
        dtype="int32",
    )
    return images, token_ids


def pair_batches(sizes, batch_size, image_key):
    """One random batch of image-text pairs, repeated forever."""
    images, token_ids = random_pairs(sizes, batch_size)
    inputs = {image_key: images, "token_ids": token_ids}
    labels = {"vision_logits": np.zeros(batch_size, "float32")}
    # DualEncoder's InfoNCE takes inputs alone; CLIPBackbone needs labels.
    data = inputs if image_key == "image" else (inputs, labels)
    return tf.data.Dataset.from_tensors(data).repeat()


def time_row(sizes, batch_size, steps, warmup_steps, xla, meter):
    """Per-step seconds and trainable parameters of each library's model
    at one size, and a matmul sample per turn."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    runs = {
        "mmkeras": (
            _peers.mmkeras_dual_encoder(sizes, xla),
            pair_batches(sizes, batch_size, "image"),
        ),
        "KerasHub": (
            _peers.hub_clip(sizes),
            pair_batches(sizes, batch_size, "images"),
        ),
    }
    for model, data in runs.values():
        _timing.fit_steps(model, data, warmup_steps)  # builds, traces
    timers = {library: _timing.StepTimer() for library in runs}
    for _ in range(-(-steps // STEPS_PER_TURN)):
        meter.sample()
        for library, (model, data) in runs.items():
            _timing.fit_steps(model, data, STEPS_PER_TURN, [timers[library]])
    return {
        library: (timers[library].step_seconds, count_parameters(model))
        for library, (model, _) in runs.items()
    }


def sweep(rows, precision, steps, warmup_steps, xla):
    """`[(row, results, flops)]` and the matmul ceiling of `precision`."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        compute = keras.mixed_precision.dtype_policy().compute_dtype
        meter = MatmulMeter(compute)
        measured = []
        for width, depth, batch_size in rows:
            sizes = sizes_of(width, depth)
            results = time_row(
                sizes, batch_size, steps, warmup_steps, xla, meter
            )
            flops = train_step_flops(sizes, batch_size)
            measured.append(((width, depth, batch_size), results, flops))
            print(
                _progress(precision, width, depth, batch_size, results),
                flush=True,
            )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return measured, meter


def _progress(precision, width, depth, batch_size, results):
    steps = {lib: statistics.median(results[lib][0]) for lib in LIBRARIES}
    return (
        f"{precision} width {width} depth {depth} batch {batch_size}: "
        + ", ".join(f"{lib} {1e3 * s:.0f} ms" for lib, s in steps.items())
        + f", {steps['KerasHub'] / steps['mmkeras']:.2f}x"
    )


def sweep_table(precision, measured, meter, xla, steps, load):
    ceiling = meter.rate()
    table = rich.table.Table(
        title=f"Training, mmkeras {mmkeras.__version__} (xla={xla!r}) vs "
        f"KerasHub {keras_hub.__version__}, {precision}: DualEncoder / "
        f"CLIPBackbone, image {IMAGE_SIZE}, patch {PATCH_SIZE}, text "
        f"{SEQUENCE_LENGTH} ids, heads width/64, MLP 4x width, "
        f"{steps} steps each (load average {load:.1f} at the start)",
    )
    for column in (
        "width",
        "depth",
        "batch",
        "parameters\nmmkeras / KerasHub",
        "ms/step\nmmkeras",
        "ms/step\nKerasHub",
        "speed-up\nmmkeras",
        "GFLOP/s (% of ceiling)\nmmkeras",
        "GFLOP/s (% of ceiling)\nKerasHub",
    ):
        table.add_column(column, justify="right")
    ratios = []
    for (width, depth, batch_size), results, flops in measured:
        seconds = {lib: statistics.median(results[lib][0]) for lib in results}
        rates = {lib: flops / s for lib, s in seconds.items()}
        ratio = seconds["KerasHub"] / seconds["mmkeras"]
        ratios.append(ratio)
        table.add_row(
            str(width),
            str(depth),
            str(batch_size),
            f"{results['mmkeras'][1]:,} / {results['KerasHub'][1]:,}",
            f"{1e3 * seconds['mmkeras']:,.0f}",
            f"{1e3 * seconds['KerasHub']:,.0f}",
            f"{ratio:.2f}x",
            *(
                f"{rates[lib] / 1e9:.0f} ({100 * rates[lib] / ceiling:.0f}%)"
                for lib in LIBRARIES
            ),
        )
    table.caption = (
        f"lowest speed-up {min(ratios):.2f}x; ceiling: {MATMUL_SIZE}x"
        f"{MATMUL_SIZE} {meter_dtype(precision)} "
        f"tf.matmul, median {ceiling / 1e9:.0f} GFLOP/s (best "
        f"{meter.flops / min(meter.seconds) / 1e9:.0f}) over "
        f"{len(meter.seconds)} samples taken between the steps"
    )
    return table


def meter_dtype(precision):
    return keras.DTypePolicy(precision).compute_dtype


def decoding_modes(sizes, max_length, xla):
    """`{(sampler, jit_compile, library): tf.function}` and the parameter
    counts of the two captioners."""
    models = _peers.captioners(sizes, max_length, xla)
    samplers = {
        "greedy": {
            "mmkeras": mmkeras.samplers.GreedySampler(),
            "KerasHub": keras_hub.samplers.GreedySampler(),
        },
        "beam 4": {
            "mmkeras": mmkeras.samplers.BeamSampler(4),
            "KerasHub": keras_hub.samplers.BeamSampler(4),
        },
    }
    modes = {}
    for name, by_library in samplers.items():
        for jit in (False, True):
            for library, (model, generate) in models.items():
                modes[name, jit, library] = tf.function(
                    _bind(
                        generate, model, by_library[library], max_length, jit
                    ),
                    jit_compile=jit,
                )
    counts = {lib: count_parameters(m) for lib, (m, _) in models.items()}
    return modes, counts


def _bind(generate, model, sampler, max_length, jit):
    def run(images):
        # As ImageCaptioner.generate(jit_compile=True) does: no nested XLA
        # core inside the compiled loop (KerasHub has none to skip).
        context = mmkeras.layers.inside_jit_compile()
        with context if jit else contextlib.nullcontext():
            return generate(model, images, sampler, max_length)

    return run


def time_decoding(sizes, batch_size, max_length, repeats, xla):
    """Median tokens/s of every mode (or the exception it raised)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    modes, counts = decoding_modes(sizes, max_length, xla)
    size = sizes["image_size"]
    images = tf.random.uniform((batch_size, size, size, 3))
    results, ready = {}, {}
    for key, fn in modes.items():
        try:
            fn(images).numpy()  # warm-up: trace (and compile)
            ready[key], results[key] = fn, []
        except Exception as error:  # noqa: BLE001 - reported in the table
            results[key] = error
    for _ in range(repeats):
        for key, fn in ready.items():
            start = time.perf_counter()
            fn(images).numpy()
            results[key].append(time.perf_counter() - start)
    tokens = batch_size * (max_length - 1)
    rates = {
        key: value if key not in ready else tokens / statistics.median(value)
        for key, value in results.items()
    }
    return rates, counts


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def decoding_table(rates, counts, sizes, batch_size, max_length, repeats):
    table = rich.table.Table(
        title=f"Decoding: ImageCaptioner vs KerasHub TransformerDecoder "
        f"blocks, width {sizes['width']}, {sizes['num_layers']} layers, "
        f"batch {batch_size}, {max_length} ids x {repeats} runs",
    )
    for column, justify in (
        ("", "left"),
        ("mmkeras", "right"),
        ("KerasHub", "right"),
        ("mmkeras / KerasHub", "right"),
    ):
        table.add_column(column, justify=justify)
    _add_row(table, "parameters", [counts[library] for library in LIBRARIES])
    for name, jit in dict.fromkeys(key[:2] for key in rates):
        label = f"{name} tokens/s, " + ("jit_compile" if jit else "tf.function")
        _add_row(table, label, [rates[name, jit, lib] for lib in LIBRARIES])
    return table


def _add_row(table, name, values):
    """`values` of both libraries and their ratio, or the failure."""
    if any(isinstance(v, Exception) for v in values):
        cells = [
            f"failed: {type(v).__name__}"
            if isinstance(v, Exception)
            else f"{v:,.0f}"
            for v in values
        ]
        table.add_row(name, *cells, "-")
        return
    cells = [f"{v:,.0f}" for v in values]
    table.add_row(name, *cells, f"{values[0] / values[1]:.2f}x")


def _int_list(ctx, param, value):
    try:
        values = [int(part) for part in value.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise click.BadParameter(
            "expected comma-separated positive integers such as 128,256. "
            f"Received: {value!r}"
        )
    return values


@click.command()
@click.option("--widths", default="128,256,512", callback=_int_list)
@click.option("--depths", default="2,4,6", callback=_int_list)
@click.option("--batches", default="32,64,128", callback=_int_list)
@click.option(
    "--grid",
    type=click.Choice(["latin", "full"]),
    default="latin",
    show_default=True,
    help="A Latin square over widths x depths (batches rotate), or all.",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "mixed_bfloat16", "both"]),
    default="both",
    show_default=True,
)
@click.option(
    "--steps",
    default=4,
    show_default=True,
    type=click.IntRange(STEPS_PER_TURN),
    help=f"Timed training steps per model and row, in turns of "
    f"{STEPS_PER_TURN}.",
)
@click.option("--warmup-steps", default=1, show_default=True)
@click.option(
    "--xla",
    type=click.Choice(list(XLA_CHOICES)),
    default="auto",
    show_default=True,
    help="mmkeras's blocks' xla option (auto: the library's default).",
)
@click.option(
    "--decoding/--no-decoding",
    default=False,
    help="Also time cached decoding at the first row's width and depth.",
)
@click.option(
    "--max-length",
    default=32,
    show_default=True,
    type=click.IntRange(2),
    help="Decoded ids per caption, start token included.",
)
@click.option("--repeats", default=5, show_default=True)
def main(
    widths,
    depths,
    batches,
    grid,
    precision,
    steps,
    warmup_steps,
    xla,
    decoding,
    max_length,
    repeats,
):
    """Times mmkeras and KerasHub side by side; prints the tables."""
    xla = XLA_CHOICES[xla]
    rows = grid_rows(widths, depths, batches, grid)
    precisions = (
        ["float32", "mixed_bfloat16"] if precision == "both" else [precision]
    )
    started = time.perf_counter()
    tables = []
    for policy in precisions:
        load = os.getloadavg()[0]
        measured, meter = sweep(rows, policy, steps, warmup_steps, xla)
        tables.append(sweep_table(policy, measured, meter, xla, steps, load))
    if decoding:
        sizes = sizes_of(widths[0], depths[0])
        rates, counts = time_decoding(
            sizes, batches[0], max_length, repeats, xla
        )
        tables.append(
            decoding_table(
                rates, counts, sizes, batches[0], max_length, repeats
            )
        )
    console = None
    for table in tables:
        console = _timing.print_table(table, started, table.caption)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
