"""Image captioning on shapes scenes: accuracy and decoding speed.

`accuracy` trains `mmkeras.models.ImageCaptioner` from the
config `mmkeras/configs/caption_shapes.py` with plain `model.fit`, and
every `--eval-every` steps captions the test scenes greedily and scores
them: BLEU-4 and CIDEr (`mmkeras.metrics`) against each scene's 5
reference captions, and truthfulness, the fraction of generated captions
that are well-formed captions of the generator's grammar and true of
their scene (`Caption.is_true` in `mmkeras/data/_captions.py`). Target:
truthfulness >= 95%.

`oracle` trains the same decoder on each scene's state description (six
exact object tokens: colour, shape, centre) instead of its pixels: the
truthfulness the decoder reaches with perfect perception, so the gap to
`accuracy` is the image encoder's.

`speed` times greedy decoding of `--max-length` (32) ids with the KV cache
(`build_cache` + `call_with_cache`, one `while_loop`) against re-running
the decoder over the whole padded sequence at every step (how the keras.io
captioning example decodes; the image is encoded once in both), and beam
search (4 beams) with the cache. No end token, so every run decodes all
positions; tokens/s counts the generated tokens of the batch (not beams).
Each mode is a `tf.function`, with and without `jit_compile`; the median
of `--repeats` runs after a warm-up. Target: cached >= 5x uncached.

    .venv/bin/python benchmarks/captioning.py accuracy
    .venv/bin/python benchmarks/captioning.py oracle
    .venv/bin/python benchmarks/captioning.py speed
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _options  # noqa: E402
import click  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

import mmkeras  # noqa: E402
from mmkeras.data import _scenes  # noqa: E402
from mmkeras.data import caption_grammar  # noqa: E402
from mmkeras.data import splits  # noqa: E402
from mmkeras.evaluation import captioning  # noqa: E402
from mmkeras.models.captioner import builders  # noqa: E402

console = rich.console.Console()
COMMAND = " ".join([".venv/bin/python", *sys.argv])


@click.group()
def main():
    """Captioning benchmarks (see the module docstring)."""


@main.command()
@click.option("--train-images", default=4000, show_default=True)
@click.option("--test-images", default=200, show_default=True)
@click.option(
    "--captions",
    default=5,
    show_default=True,
    help="True captions drawn per training image.",
)
@click.option("--hidden-dim", default=128, show_default=True)
@click.option("--num-layers", default=2, show_default=True)
@click.option("--num-heads", default=4, show_default=True)
@click.option("--learning-rate", default=1e-3, show_default=True)
@_options.conv_encoder("32,64,128,128", "group", "4 blocks, 5x5 image tokens")
@click.option(
    "--token-coordinates/--no-token-coordinates",
    default=False,
    help="Tag the image tokens with their grid coordinates.",
)
@click.option(
    "--context-layers",
    default=0,
    show_default=True,
    help="Dilated residual conv blocks after the encoder's stride-2 ones.",
)
@click.option("--steps", default=12000, show_default=True)
@click.option("--eval-every", default=300, show_default=True)
@click.option(
    "--cosine/--constant",
    default=False,
    help="Cosine-decay the learning rate to zero over --steps.",
)
@click.option("--minutes", default=60.0, show_default=True)
@_options.save
def accuracy(
    train_images,
    test_images,
    captions,
    hidden_dim,
    num_layers,
    num_heads,
    learning_rate,
    normalization,
    filters,
    coordinates,
    normalize_tokens,
    token_coordinates,
    context_layers,
    steps,
    eval_every,
    cosine,
    minutes,
    save,
):
    """BLEU-4, CIDEr and truthfulness of greedy captions."""
    keras.utils.set_random_seed(0)
    train, _ = splits.caption_splits(
        train_images, test_images, captions=captions
    )
    model = builders.shapes_captioner(
        hidden_dim,
        num_layers,
        learning_rate=learning_rate,
        normalization=normalization,
        filters=filters,
        decay_steps=steps if cosine else None,
        coordinates=coordinates,
        normalize_tokens=normalize_tokens,
        token_coordinates=token_coordinates,
        context_layers=context_layers,
        num_heads=num_heads,
    )
    _train_and_report(
        model,
        train,
        caption_grammar.evaluation_set(test_images),
        steps,
        eval_every,
        minutes,
        save,
    )


@main.command()
@click.option("--train-images", default=40000, show_default=True)
@click.option("--test-images", default=200, show_default=True)
@click.option("--captions", default=2, show_default=True)
@click.option("--hidden-dim", default=128, show_default=True)
@click.option("--num-layers", default=4, show_default=True)
@click.option("--num-heads", default=8, show_default=True)
@click.option("--learning-rate", default=1e-3, show_default=True)
@click.option("--steps", default=4000, show_default=True)
@click.option("--eval-every", default=500, show_default=True)
@click.option("--minutes", default=30.0, show_default=True)
@click.option(
    "--grid",
    default=0,
    show_default=True,
    help="0: six object tokens. N: an NxN grid of tokens, each with the "
    "colour and shape of the object under its centre and its coordinates.",
)
def oracle(
    train_images,
    test_images,
    captions,
    hidden_dim,
    num_layers,
    num_heads,
    learning_rate,
    steps,
    eval_every,
    minutes,
    grid,
):
    """The decoder alone: captions from the scene table, not the pixels.

    Each scene's state description (colour, shape and centre of its six
    objects, `mmkeras.data.shapes.scene_array`) becomes six exact object
    tokens in place of the image encoder's, with the same decoder,
    optimizer (cosine decay over --steps) and scoring. Its truthfulness
    is what the decoder can reach with perfect perception; the gap to
    `accuracy` is the image encoder's. `--grid N` spreads the same
    exact facts over an NxN grid of tokens, as an image encoder's are.
    """
    keras.utils.set_random_seed(0)
    model = builders.shapes_captioner(
        hidden_dim,
        num_layers,
        learning_rate=learning_rate,
        decay_steps=steps,
        num_heads=num_heads,
        image_encoder=SceneTokens(hidden_dim, grid),
    )
    # The tables pass as [0, 1] "images" of their own size; the converter
    # scales them back (SceneTokens rounds off the float error).
    model.preprocessor = mmkeras.models.CaptionerPreprocessor(
        mmkeras.layers.ImageConverter(scale=_TABLE_SCALE),
        builders.shapes_caption_tokenizer(),
        builders.SEQUENCE_LENGTH,
    )
    train, _ = splits.caption_splits(
        train_images,
        captions=captions,
        transform=lambda e: e | {"image": _scene_image(e["scene"])},
    )
    _, references, scenes = caption_grammar.evaluation_set(test_images)
    tables = np.stack([mmkeras.data.shapes.scene_array(s) for s in scenes])
    test_set = (_scene_image(tables).numpy(), references, scenes)
    _train_and_report(
        model, train, test_set, steps, eval_every, minutes, save=None
    )


# Every entry of a scene table (colour, shape, x, y, size) is below it.
_TABLE_SCALE = float(mmkeras.data.shapes.IMAGE_SIZE)


def _scene_image(scene):
    # The captioner takes rank-4 "images": the (6, 5) table, one channel,
    # divided into [0, 1] as raw float images are.
    return tf.cast(scene, "float32")[..., None] / _TABLE_SCALE


class SceneTokens(keras.layers.Layer):
    """Exact tokens from a scene table `(batch, 6, 5, 1)`: with `grid=0`
    one per object, its one-hot colour and shape and its centre in
    [-1, 1]; with `grid=N`, N*N tokens, each the one-hot colour and shape
    of the object under its centre (zeros on the page) and its own
    centre. Projected to `hidden_dim`."""

    def __init__(self, hidden_dim, grid=0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.grid = grid
        self.projection = keras.layers.Dense(hidden_dim)

    def call(self, tables):
        tables = ops.round(tables[..., 0])
        colour = ops.one_hot(ops.cast(tables[..., 0], "int32"), 6)
        shape = ops.one_hot(ops.cast(tables[..., 1], "int32"), 2)
        objects = ops.concatenate([colour, shape], -1)
        centres = tables[..., 2:4]
        if self.grid:
            objects, centres = self._on_grid(objects, centres, tables[..., 1])
        half = (mmkeras.data.shapes.IMAGE_SIZE - 1) / 2
        features = ops.concatenate([objects, centres / half - 1], -1)
        return {"tokens": self.projection(features)}

    def _on_grid(self, objects, centres, is_square):
        size = mmkeras.data.shapes.IMAGE_SIZE
        points = (ops.arange(self.grid, dtype="float32") + 0.5) * (
            size / self.grid
        )
        rows, columns = ops.meshgrid(points, points, indexing="ij")
        # (batch, object, row, column) offsets from each object's centre.
        dx = columns[None, None] - centres[..., 0][..., None, None]
        dy = rows[None, None] - centres[..., 1][..., None, None]
        radius = _scenes.OBJECT_SIZE / 2
        in_box = ops.logical_and(ops.abs(dx) <= radius, ops.abs(dy) <= radius)
        in_circle = dx * dx + dy * dy <= radius * radius
        square = is_square[..., None, None] > 0
        covered = ops.logical_and(in_box, ops.logical_or(square, in_circle))
        features = ops.einsum(
            "bokl,bof->bklf", ops.cast(covered, "float32"), objects
        )
        batch = ops.shape(features)[0]
        where = ops.stack([columns, rows], -1)[None]
        where = ops.broadcast_to(where, (batch, self.grid, self.grid, 2))
        tokens = self.grid * self.grid
        return (
            ops.reshape(features, (batch, tokens, objects.shape[-1])),
            ops.reshape(where, (batch, tokens, 2)),
        )

    def compute_output_spec(self, tables):
        tokens = self.grid * self.grid if self.grid else tables.shape[1]
        shape = (tables.shape[0], tokens, self.hidden_dim)
        return {"tokens": keras.KerasTensor(shape)}


def _train_and_report(model, train, test_set, steps, eval_every, minutes, save):
    """Fits `steps` steps, scoring `test_set` every `eval_every`; prints
    the curve and the final greedy and beam-4 scores."""
    curve = _Curve(test_set, eval_every, minutes)
    model.fit(
        train.repeat(),
        steps_per_epoch=eval_every,
        epochs=max(1, steps // eval_every),
        callbacks=[curve],
        verbose=0,
    )
    seconds = time.perf_counter() - curve.start
    if save:
        model.save(save)
    table = rich.table.Table(title="Captioning shapes scenes (greedy)")
    for column in ("step", "minutes", "train loss", *curve.names):
        table.add_column(column, justify="right")
    for row in curve.rows:
        table.add_row(*row)
    console.print(table)
    bounds = captioning.reference_losses()
    console.print(
        "reference losses: "
        + ", ".join(f"{name} {loss:.3f}" for name, loss in bounds.items())
    )
    final = {
        "greedy": curve.scores,
        "beam 4": captioning.score(
            model, curve.test_set, mmkeras.samplers.BeamSampler(4)
        ),
    }
    table = rich.table.Table(
        title=f"Captioning shapes scenes after {curve.rows[-1][0]} steps "
        f"({seconds:.0f} s)"
    )
    for column in ("metric", *final):
        table.add_column(column, justify="right")
    for name, key in zip(curve.names, curve.keys, strict=True):
        table.add_row(name, *(f"{s[key]:.4f}" for s in final.values()))
    for reason in curve.scores["falsehoods"]:
        table.add_row(
            f"false: {reason}",
            *(f"{s['falsehoods'][reason]:.4f}" for s in final.values()),
        )
    console.print(table)
    console.print(f"command: {COMMAND}")
    for text, truth in curve.scores["examples"]:
        console.print(f"  {'true ' if truth else 'FALSE'}  {text}")


class _Curve(keras.callbacks.Callback):
    """Scores every epoch (`eval_every` steps); stops past the budget."""

    names = ("BLEU-4", "CIDEr", "truthfulness")
    keys = ("bleu4", "cider", "truthfulness")

    def __init__(self, test_set, eval_every, minutes):
        super().__init__()
        self.test_set = test_set
        self.eval_every = eval_every
        self.minutes = minutes
        self.rows, self.scores = [], None
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.scores = captioning.score(self.model, self.test_set)
        elapsed = (time.perf_counter() - self.start) / 60
        row = [str((epoch + 1) * self.eval_every), f"{elapsed:.1f}"]
        values = [logs["loss"], *(self.scores[key] for key in self.keys)]
        row += [f"{value:.4f}" for value in values]
        self.rows.append(row)
        console.print(" | ".join(row))
        for text, truth in self.scores["examples"][:3]:
            console.print(f"    {'true ' if truth else 'FALSE'}  {text}")
        if elapsed > self.minutes:
            self.model.stop_training = True


@main.command()
@click.option("--batch-size", default=32, show_default=True)
@click.option("--max-length", default=32, show_default=True)
@click.option("--repeats", default=5, show_default=True)
def speed(batch_size, max_length, repeats):
    """Tokens/s of cached vs uncached greedy and cached beam decoding."""
    keras.utils.set_random_seed(0)
    model = builders.shapes_captioner(max_length=max_length)
    images = next(
        iter(
            splits.caption_test_split(batch_size, captions=1).batch(batch_size)
        )
    )["image"]
    # No preprocessor at this length: the model takes converted pixels.
    images = builders.shapes_caption_preprocessor().generate_preprocess(images)
    model.build({"image": images.shape})
    modes = {
        "greedy, cached": lambda x: _cached(model, x, "greedy", max_length),
        "greedy, uncached": lambda x: _uncached(model, x, max_length),
        "beam 4, cached": lambda x: _cached(
            model, x, mmkeras.samplers.BeamSampler(4), max_length
        ),
    }
    tokens = batch_size * (max_length - 1)
    rows, rates, outputs = [], {}, {}
    for jit in (False, True):
        for name, fn in modes.items():
            fn = tf.function(fn, jit_compile=jit)
            outputs[name, jit] = fn(images).numpy()  # warm-up: trace
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn(images).numpy()
                times.append(time.perf_counter() - start)
            rates[name, jit] = tokens / statistics.median(times)
            rows.append((name, jit, rates[name, jit], tokens / min(times)))
    same = all(
        np.array_equal(
            outputs["greedy, cached", j], outputs["greedy, uncached", j]
        )
        for j in (False, True)
    )
    table = rich.table.Table(
        title=f"Decoding {max_length} ids, batch {batch_size} "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    for column in (
        "mode",
        "jit_compile",
        "tokens/s",
        "best tokens/s",
        "vs uncached",
    ):
        table.add_column(column, justify="right")
    for name, jit, rate, best in rows:
        ratio = rate / rates["greedy, uncached", jit]
        table.add_row(
            name, str(jit), f"{rate:.0f}", f"{best:.0f}", f"{ratio:.1f}x"
        )
    console.print(table)
    console.print(f"cached greedy == uncached greedy, token for token: {same}")
    console.print(f"command: {COMMAND}")


def _start_ids(model, images, max_length):
    row = [model.start_token_id] + [model.pad_token_id] * (max_length - 1)
    row = ops.convert_to_tensor([row], "int32")
    return ops.tile(row, [ops.shape(images)[0], 1])


def _no_pad(model, logits):
    # As `generate` does: the full pass masks pads, so never emit one.
    pad = ops.arange(model.vocabulary_size) == model.pad_token_id
    return ops.where(pad, -1e9, logits)


def _cached(model, images, sampler, max_length):
    cache = model.build_cache(images, max_length)

    def next_fn(token_ids, cache, index):
        previous = ops.take(token_ids, index - 1, axis=1)[:, None]
        logits, cache = model.call_with_cache(previous, cache, index - 1)
        return _no_pad(model, logits[:, 0]), cache

    sampler = mmkeras.samplers.get(sampler)
    return sampler(next_fn, _start_ids(model, images, max_length), cache, 1)


def _uncached(model, images, max_length):
    image_tokens = model.encode_images(images, training=False)

    def next_fn(token_ids, cache, index):
        x = model.token_embedding(token_ids)
        padding = ops.not_equal(token_ids, model.pad_token_id)
        for block in model.decoder_blocks:
            x = block(x, image_tokens, decoder_padding_mask=padding)
        logits = model.logits_dense(model.output_norm(x))
        return _no_pad(model, ops.take(logits, index - 1, axis=1)), cache

    sampler = mmkeras.samplers.GreedySampler()
    return sampler(next_fn, _start_ids(model, images, max_length), (), 1)


if __name__ == "__main__":
    main()
