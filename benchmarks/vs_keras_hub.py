"""mmkeras against KerasHub 0.32 at equal sizes: training and decoding speed.

Training: `mmkeras.models.DualEncoder` of `mmkeras.encoders.ViTImageEncoder`
and `mmkeras.encoders.TransformerTextEncoder` against
`keras_hub.models.CLIPBackbone` of `keras_hub.models.CLIPVisionEncoder` and
`keras_hub.models.CLIPTextEncoder`, with the same image and patch size,
width, depth, heads, MLP width, sequence length, vocabulary and projection
size (the table gives both parameter counts). Both train with `model.fit`
(Adam 1e-3, `jit_compile=False`) on one random batch repeated: mmkeras with
its default `mmkeras.losses.InfoNCE`, KerasHub with the same symmetric
InfoNCE, written here, on its `vision_logits`. After a warm-up the two take
turns of two steps, so load from other processes falls on both alike;
samples/s comes from the median step (and from the best step). The tower
rows time one forward and backward pass of each tower alone (a
tf.function, `--steps` turns, the median), which is where a training
step's time goes.

What differs by design, at the same sizes:

- XLA: mmkeras compiles each transformer block with XLA (its default;
  `--no-xla` turns it off); KerasHub runs its blocks in the plain graph.
- CLIP's vision tower adds a LayerNorm before the blocks and has no patch
  bias; its text tower is causal and pools the token with the highest id
  (CLIP's end token); mmkeras's text tower is bidirectional with a padding
  mask and mean-pools. Both use exact GELU (not CLIP's quick GELU) and no
  dropout.

Decoding: `mmkeras.models.ImageCaptioner` (the same ViT as image encoder,
then `TransformerDecoderBlock`s cross-attending to its tokens, a LayerNorm
and a Dense to logits) against the same stack from KerasHub parts:
`CLIPVisionEncoder`, `keras_hub.layers.TokenAndPositionEmbedding`, pre-LN
`keras_hub.layers.TransformerDecoder` blocks called with `encoder_sequence`
(cross-attention), a LayerNorm and a Dense. Each side encodes the images
once and projects every block's cross-attention keys and values once, then
its own sampler (`mmkeras.samplers` or `keras_hub.samplers`; greedy and
beam 4) runs one `while_loop` of one-token steps with the self-attention
KV cache: `--max-length - 1` steps from the start token, no end token, so
both generate the same number of tokens. KerasHub's samplers take a softmax
over the vocabulary at every step, mmkeras's greedy takes the argmax of the
logits. Every mode is a `tf.function`, without and with `jit_compile`;
after a warm-up the modes take turns, `--repeats` runs each, and tokens/s
comes from the median run (tokens of the batch, not of the beams).

The ratio column is mmkeras / KerasHub of the throughput, and of the
parameter counts. Target: mmkeras >= 1.0x on training and on decoding.
Weights are random (no presets are downloaded).

    .venv/bin/python benchmarks/vs_keras_hub.py
    .venv/bin/python benchmarks/vs_keras_hub.py --steps 4 --repeats 2
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
import rich.console  # noqa: E402
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


def time_training(sizes, batch_size, steps, warmup_steps, xla):
    """Per-step seconds and trainable parameters of each library's model."""
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
        for library, (model, data) in runs.items():
            _timing.fit_steps(model, data, STEPS_PER_TURN, [timers[library]])
    return {
        library: (timers[library].step_seconds, count_parameters(model))
        for library, (model, _) in runs.items()
    }


def time_towers(sizes, batch_size, repeats, xla):
    """Median seconds of one forward and backward pass of each tower
    alone, `{(tower, library): seconds}`: where a training step's time
    goes, without the optimizer and the loss."""
    keras.utils.set_random_seed(0)
    images, token_ids = random_pairs(sizes, batch_size)
    mm = _peers.mmkeras_dual_encoder(sizes, xla)
    hub = _peers.hub_clip(sizes)
    towers = {
        ("image", "mmkeras"): (mm.image_encoder, images),
        ("image", "KerasHub"): (hub.vision_encoder, {"images": images}),
        ("text", "mmkeras"): (mm.text_encoder, token_ids),
        ("text", "KerasHub"): (hub.text_encoder, {"token_ids": token_ids}),
    }
    passes = {key: _gradient_pass(*tower) for key, tower in towers.items()}
    for run in passes.values():
        run()  # builds and traces
    seconds = {key: [] for key in passes}
    for _ in range(repeats):
        for key, run in passes.items():
            start = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - start)
    return {key: statistics.median(value) for key, value in seconds.items()}


def _gradient_pass(layer, inputs):
    """A tf.function of one forward and backward pass of `layer`, with a
    sum of squares of its token outputs as the loss."""

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            outputs = layer(inputs)
            if isinstance(outputs, dict):  # mmkeras's encoders
                outputs = outputs["tokens"]
            loss = tf.reduce_sum(tf.square(outputs))
        return tape.gradient(loss, layer.trainable_variables)

    return lambda: [tf.convert_to_tensor(g).numpy() for g in run()]


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


def add_row(table, name, values, cells=None):
    """`values` of both libraries (shown as `cells` if given) and their
    ratio, or the failure of either."""
    failed = [v for v in values if isinstance(v, Exception)]
    if failed:
        cells = [
            f"failed: {type(v).__name__}" if v in failed else f"{v:,.0f}"
            for v in values
        ]
        table.add_row(name, *cells, "-")
        return
    cells = cells or [f"{v:,.0f}" for v in values]
    table.add_row(name, *cells, f"{values[0] / values[1]:.2f}x")


def training_rows(table, results, batch_size):
    seconds = [results[library][0] for library in LIBRARIES]
    add_row(
        table,
        "DualEncoder / CLIPBackbone parameters",
        [results[library][1] for library in LIBRARIES],
    )
    for name, pick in (("median", statistics.median), ("best", min)):
        step = [pick(s) for s in seconds]
        add_row(
            table,
            f"train samples/s (ms/step), {name} step",
            [batch_size / s for s in step],
            [f"{batch_size / s:,.1f} ({1e3 * s:.1f} ms)" for s in step],
        )
    table.add_section()


def tower_rows(table, seconds):
    for tower in ("image", "text"):
        values = [1.0 / seconds[tower, library] for library in LIBRARIES]
        add_row(
            table,
            f"{tower} tower forward + backward, passes/s (ms)",
            values,
            [f"{v:,.1f} ({1e3 / v:.1f} ms)" for v in values],
        )
    table.add_section()


def decoding_rows(table, rates, counts):
    add_row(
        table,
        "ImageCaptioner / KerasHub captioner parameters",
        [counts[library] for library in LIBRARIES],
    )
    for name, jit in dict.fromkeys(key[:2] for key in rates):
        label = f"{name} tokens/s, " + ("jit_compile" if jit else "tf.function")
        add_row(table, label, [rates[name, jit, lib] for lib in LIBRARIES])


@click.command()
@click.option("--image-size", default=64, show_default=True)
@click.option("--patch-size", default=8, show_default=True)
@click.option("--width", default=128, show_default=True)
@click.option("--num-layers", default=2, show_default=True)
@click.option("--num-heads", default=4, show_default=True)
@click.option("--intermediate-dim", default=512, show_default=True)
@click.option("--sequence-length", default=16, show_default=True)
@click.option("--vocabulary-size", default=1000, show_default=True)
@click.option("--projection-dim", default=128, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option(
    "--steps",
    default=20,
    show_default=True,
    type=click.IntRange(STEPS_PER_TURN),
    help=f"Timed training steps per model, in turns of {STEPS_PER_TURN}.",
)
@click.option("--warmup-steps", default=2, show_default=True)
@click.option(
    "--max-length",
    default=32,
    show_default=True,
    type=click.IntRange(2),
    help="Decoded ids per caption, start token included.",
)
@click.option("--repeats", default=5, show_default=True)
@click.option(
    "--xla/--no-xla",
    default=True,
    show_default=True,
    help="mmkeras transformer blocks under XLA (its default).",
)
def main(
    image_size,
    patch_size,
    width,
    num_layers,
    num_heads,
    intermediate_dim,
    sequence_length,
    vocabulary_size,
    projection_dim,
    batch_size,
    steps,
    warmup_steps,
    max_length,
    repeats,
    xla,
):
    """Times mmkeras and KerasHub side by side; prints one table."""
    sizes = dict(
        image_size=image_size,
        patch_size=patch_size,
        width=width,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        sequence_length=sequence_length,
        vocabulary_size=vocabulary_size,
        projection_dim=projection_dim,
    )
    load = os.getloadavg()[0]
    started = time.perf_counter()
    training = time_training(sizes, batch_size, steps, warmup_steps, xla)
    towers = time_towers(sizes, batch_size, steps, xla)
    rates, counts = time_decoding(sizes, batch_size, max_length, repeats, xla)
    table = rich.table.Table(
        title=f"mmkeras {mmkeras.__version__} vs KerasHub "
        f"{keras_hub.__version__}: image {image_size}, patch {patch_size}, "
        f"width {width}, {num_layers} layers, {num_heads} heads, MLP "
        f"{intermediate_dim}, text {sequence_length} ids, vocabulary "
        f"{vocabulary_size}, projection {projection_dim}, batch "
        f"{batch_size}; {steps} train steps, {max_length} decoded ids x "
        f"{repeats}; mmkeras xla={xla} (load average {load:.1f})",
    )
    for column, justify in (
        ("", "left"),
        ("mmkeras", "right"),
        ("KerasHub", "right"),
        ("mmkeras / KerasHub", "right"),
    ):
        table.add_column(column, justify=justify)
    training_rows(table, training, batch_size)
    tower_rows(table, towers)
    decoding_rows(table, rates, counts)
    console = _timing.print_table(table, started)
    for key, rate in rates.items():
        if isinstance(rate, Exception):
            print(f"{' '.join(map(str, key))}: {rate!r}", file=sys.stderr)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
