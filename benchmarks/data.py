"""Input pipeline throughput: samples/s of each dataset on this machine.

Each row times a full pipeline as a model would consume it: decode (where
images are files), resize, normalise, tokenize with `WordPieceTokenizer`,
batch 64, prefetch; one pass after a warm-up batch. The first row times
generating 10,000 Sort-of-CLEVR scenes (numpy), which is the cost of
`mmkeras.data.sort_of_clevr` before any TensorFlow work.

Run: `.venv/bin/python benchmarks/data.py` (about a minute on 2 cores).
Fashion-MNIST needs the Debian package `dataset-fashion-mnist`; without it
its row says so.
"""

import datetime
import json
import os
import tempfile
import time

import numpy as np  # noqa: I001
import tensorflow as tf
from PIL import Image
from rich.console import Console
from rich.table import Table

import mmkeras  # noqa: F401 - selects the TensorFlow backend first
from mmkeras import data
from mmkeras import text

BATCH = 64


def _tokenizer(strings):
    vocabulary = text.build_vocabulary(
        strings, 400, learn_params={"lower_thresh": 1}
    )
    return text.WordPieceTokenizer(vocabulary, sequence_length=16)


def _throughput(dataset, max_batches=None):
    """Samples/s over one pass (first batch excluded: tracing)."""
    iterator = iter(dataset)
    next(iterator)
    count, start = 0, time.perf_counter()
    for index, batch in enumerate(iterator):
        count += int(tf.shape(tf.nest.flatten(batch)[0])[0])
        if max_batches and index + 1 >= max_batches:
            break
    return count, count / (time.perf_counter() - start)


def _tokenized(dataset, key, tokenizer):
    return (
        dataset.map(
            lambda x: {**x, key: tokenizer(x[key])},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )


def _coco_fixture(directory, count=512, size=320):
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for image_id in range(count):
        name = f"{image_id:012d}.jpg"
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(directory, name))
        images.append({"id": image_id, "file_name": name})
        annotations.append(
            {"id": image_id, "image_id": image_id, "caption": "a red cube"}
        )
    path = os.path.join(directory, "captions.json")
    with open(path, "w") as file:
        json.dump({"images": images, "annotations": annotations}, file)
    return path


def main():
    rows = []
    start = time.perf_counter()
    data.generate_scenes(10_000, seed=0)
    seconds = time.perf_counter() - start
    rows.append(("generate 10,000 shapes scenes", "10000", f"{seconds:.2f} s"))

    clevr = data.sort_of_clevr(500, seed=0)
    questions = [q.decode() for q in clevr.map(lambda x: x["question"])
                 .take(2000).as_numpy_iterator()]  # fmt: skip
    pipeline = _tokenized(clevr, "question", _tokenizer(questions))
    rows.append(("sort_of_clevr + tokenize", *_format(pipeline)))

    captions = data.shapes_captions(500, seed=0)
    strings = [c.decode() for c in captions.map(lambda x: x["caption"])
               .as_numpy_iterator()]  # fmt: skip
    pipeline = _tokenized(captions, "caption", _tokenizer(strings))
    rows.append(("shapes_captions + tokenize", *_format(pipeline)))

    easy = data.easy_vqa("train")
    strings = [q.decode() for q in easy.map(lambda x: x["question"])
               .take(3000).as_numpy_iterator()]  # fmt: skip
    pipeline = _tokenized(easy, "question", _tokenizer(strings))
    rows.append(("easy_vqa train + tokenize", *_format(pipeline)))

    try:
        fashion = data.fashion_mnist("train", image_size=(64, 64))
        pipeline = _tokenized(fashion, "caption", _tokenizer(
            ["a photo of a sneaker", "an image of a bag"]))  # fmt: skip
        rows.append(("fashion_mnist 64px + tokenize", *_format(pipeline)))
    except data.DatasetNotFoundError:
        rows.append(("fashion_mnist", "-", "not installed (apt-get)"))

    with tempfile.TemporaryDirectory() as directory:
        path = _coco_fixture(directory)
        coco, _ = data.coco_captions(path, directory, image_size=(224, 224))
        pipeline = _tokenized(coco, "caption", _tokenizer(["a red cube"]))
        rows.append(
            ("COCO-format files 320->224 + tokenize", *_format(pipeline))
        )

    table = Table(
        title="mmkeras input pipelines, batch 64",
        caption=f"{os.cpu_count()} CPUs, TF {tf.__version__}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
    )
    table.add_column("pipeline")
    table.add_column("samples", justify="right")
    table.add_column("samples/s (or time)", justify="right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _format(pipeline):
    count, rate = _throughput(pipeline)
    return str(count), f"{rate:,.0f}"


if __name__ == "__main__":
    main()
