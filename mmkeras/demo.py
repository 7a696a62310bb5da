"""The end-to-end job behind `make demo`, grown with each capability.

Today: build a small image + question model from `mmkeras.layers`, train it
with `model.fit` on generated scenes, then check that the XLA and plain
attention paths agree and that a `.keras` round trip is exact.

The task: a 32x32 scene holds two squares of different colours; the question
"is <colour> left" asks whether the square of that colour is the left one.
Answering needs the question to attend to the right image region, which is
what co-attention is for; chance is 50%.
"""

import os
import tempfile
import time

import keras
import numpy as np
from rich.console import Console
from rich.table import Table

import mmkeras

COLOURS = {
    "red": (1.0, 0.1, 0.1),
    "green": (0.1, 0.9, 0.1),
    "blue": (0.1, 0.2, 1.0),
    "yellow": (1.0, 0.9, 0.1),
}
# Token ids: 0 pads, then the words the questions use.
VOCABULARY = ["<pad>", "is", "left", *COLOURS]
IMAGE_SIZE = 32
SQUARE = 6


def make_scenes(count, seed):
    """Seeded scenes, questions and yes/no answers (1 = yes)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE, 3), "float32")
    questions = np.zeros((count, 3), "int32")
    answers = np.zeros((count,), "int32")
    colour_names = list(COLOURS)
    for i in range(count):
        pair = rng.choice(len(colour_names), size=2, replace=False)
        left_x = rng.integers(0, IMAGE_SIZE // 2 - SQUARE)
        right_x = rng.integers(IMAGE_SIZE // 2, IMAGE_SIZE - SQUARE)
        for colour, x in zip(pair, (left_x, right_x), strict=True):
            y = rng.integers(0, IMAGE_SIZE - SQUARE)
            rgb = COLOURS[colour_names[colour]]
            images[i, y : y + SQUARE, x : x + SQUARE] = rgb
        asked = pair[rng.integers(0, 2)]
        questions[i] = [1, 3 + asked, 2]
        answers[i] = int(asked == pair[0])
    return {"image": images, "question": questions}, answers


def build_model(xla=True):
    """ConvStem image tokens + question tokens -> co-attention -> yes/no."""
    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    question = keras.Input((3,), dtype="int32", name="question")
    image_tokens = mmkeras.layers.ConvStem(
        filters=(16, 32), hidden_dim=32, normalization="layer"
    )(image)
    words = mmkeras.layers.TokenAndPositionEmbedding(
        vocabulary_size=len(VOCABULARY), sequence_length=3, embedding_dim=32
    )(question)
    image_tokens, words = mmkeras.layers.CoAttention(
        num_heads=4, intermediate_dim=64, self_attention=True, xla=xla
    )(image_tokens, words)
    pooled = [
        keras.layers.GlobalAveragePooling1D()(image_tokens),
        keras.layers.GlobalAveragePooling1D()(words),
    ]
    fused = mmkeras.layers.ConcatFusion()(pooled)
    logits = keras.layers.Dense(2, name="answer")(fused)
    return keras.Model({"image": image, "question": question}, logits)


def run(epochs=10, train_size=4000, seed=0, console=None):
    """Trains and checks the demo model; returns the summary rows."""
    console = console or Console()
    keras.utils.set_random_seed(seed)
    rows = []

    console.rule("[bold]1. Data: generated two-square scenes")
    train_x, train_y = make_scenes(train_size, seed=seed)
    val_x, val_y = make_scenes(1000, seed=seed + 1)
    console.print(
        f"{train_size} training / 1000 validation scenes, "
        f"questions like 'is red left'; yes-rate {val_y.mean():.2f}"
    )

    console.rule("[bold]2. Model from mmkeras.layers, trained with fit")
    model = build_model(xla=True)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    console.print(f"{model.count_params():,} parameters; XLA attention core")
    start = time.perf_counter()
    model.fit(
        train_x,
        train_y,
        validation_data=(val_x, val_y),
        epochs=epochs,
        batch_size=64,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(val_x, val_y, verbose=0)
    rows.append(("validation accuracy (chance 0.50)", f"{accuracy:.3f}"))
    rows.append(("training time", f"{seconds:.0f} s"))

    console.rule("[bold]3. XLA and plain attention agree")
    plain = build_model(xla=False)
    plain.set_weights(model.get_weights())
    xla_logits = model.predict(val_x, verbose=0)
    plain_logits = plain.predict(val_x, verbose=0)
    difference = float(np.max(np.abs(xla_logits - plain_logits)))
    rows.append(("max |XLA - plain| logits", f"{difference:.2e}"))

    console.rule("[bold]4. .keras save and reload")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "demo.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
        size = os.path.getsize(path)
    reloaded_logits = reloaded.predict(val_x, verbose=0)
    reload_difference = float(np.max(np.abs(reloaded_logits - xla_logits)))
    rows.append(("max |reloaded - original| logits", f"{reload_difference}"))
    rows.append((".keras file size", f"{size / 1e3:.0f} kB"))

    table = Table(title="mmkeras demo summary")
    table.add_column("check")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return dict(
        accuracy=accuracy,
        xla_plain_difference=difference,
        reload_difference=reload_difference,
    )
