"""easy-VQA (Zhou 2020): questions about one coloured shape per image.

The data ships inside the PyPI package `easy-vqa` (pin: `easy-vqa==1.0`):
5,000 RGB 64x64 PNG images (4,000 train, 1,000 test), 38,575 train and
9,673 test questions, 13 answers. It is read from the package's install
location, in the package's layout:

    answers.txt                  one answer per line
    {split}/questions.json       [[question, answer, image_id], ...]
    {split}/images/{image_id}.png
"""

import importlib.resources
import json
import pathlib

import numpy as np
import tensorflow as tf
from PIL import Image

from mmkeras import _checks
from mmkeras.data import _records
from mmkeras.data import fashion_mnist

IMAGE_SHAPE = (64, 64, 3)
INSTALL_HINT = "pip install easy-vqa==1.0 (or pip install mmkeras[easy-vqa])"


def easy_vqa(
    split="train",
    data_dir=None,
    image_size=None,
    batch_size=None,
    shuffle=False,
    seed=None,
):
    """easy-VQA questions, one element per question, in file order.

    Every image is decoded once, when the dataset is made (about a second
    for the 4,000 train images); elements then share them.

    Args:
        split: "train" (38,575 questions) or "test" (9,673).
        data_dir: None for the installed `easy_vqa` package's data, or a
            directory in the same layout (see the module docstring).
        image_size: None keeps 64x64; an int `n` resizes (bilinear) to
            `n` x `n`, a pair to `(height, width)`.
        batch_size: None for single elements, or a positive integer (the
            last batch may be smaller).
        shuffle: whether to shuffle the whole split, anew each epoch.
        seed: a non-negative integer for the shuffle order; None means 0.

    Returns:
        A `tf.data.Dataset` of dicts: "image" (float32 (H, W, 3) in
        [0, 1]), "question" (string), "answer" (string) and "answer_id"
        (int32, its index in `easy_vqa_answers()`).

    Raises:
        ImportError: if `data_dir` is None and `easy_vqa` is not installed.
        FileNotFoundError: naming a missing questions or image file.
        ValueError: naming a file that is malformed, or a question whose
            answer is not in the vocabulary.

    Example:
    >>> ds = mmkeras.data.easy_vqa("test", batch_size=32)
    >>> ds.element_spec["image"].shape
    TensorShape([None, 64, 64, 3])
    """
    _checks.one_of("split", split, ("train", "test"))
    image_size = _checks.optional_image_size("image_size", image_size)
    _checks.optional_positive_int("batch_size", batch_size)
    seed = fashion_mnist._seed(seed)
    root = _root(data_dir)
    answers = easy_vqa_answers(data_dir)
    questions, answer_texts, image_ids = _read_questions(
        root / split / "questions.json", answers
    )
    unique_ids, image_index = np.unique(image_ids, return_inverse=True)
    images = tf.constant(_read_images(root / split / "images", unique_ids))
    # "image" holds the row of `images` until `add_image` gathers it.
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            "image": image_index.astype(np.int32),
            "question": questions,
            "answer": answer_texts,
            "answer_id": np.array(
                [answers.index(a) for a in answer_texts], np.int32
            ),
        }
    )
    if shuffle:
        dataset = dataset.shuffle(len(questions), seed=seed)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)

    def add_image(element):
        image = tf.image.convert_image_dtype(
            tf.gather(images, element["image"]), tf.float32
        )
        if image_size is not None:
            image = tf.image.resize(image, image_size)
        return {**element, "image": image}

    # After batching, so whole batches gather and convert at once.
    dataset = dataset.map(add_image, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def easy_vqa_answers(data_dir=None):
    """easy-VQA's 13 answers, in the order of the package's `answers.txt`.

    Args:
        data_dir: None for the installed `easy_vqa` package's data, or a
            directory in the same layout.

    Returns:
        A tuple of strings; `easy_vqa`'s "answer_id" indexes it.

    Example:
    >>> mmkeras.data.easy_vqa_answers()[:4]
    ('circle', 'green', 'red', 'gray')
    """
    path = _root(data_dir) / "answers.txt"
    lines = _read_text(path).splitlines()
    answers = tuple(line.strip() for line in lines if line.strip())
    if not answers or len(set(answers)) != len(answers):
        raise ValueError(
            f"{path} must list distinct answers, one per line. Received: "
            f"{answers}"
        )
    return answers


def _root(data_dir):
    if data_dir is not None:
        return pathlib.Path(data_dir)
    try:
        return importlib.resources.files("easy_vqa") / "data"
    except ImportError as error:
        raise ImportError(
            "mmkeras.data.easy_vqa reads its data from the easy-vqa "
            "package, which is not installed. Install it with "
            f"`{INSTALL_HINT}`, or pass data_dir to a directory in its "
            "layout."
        ) from error


def _read_text(path):
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing. Reinstall easy-vqa with `{INSTALL_HINT}`, "
            "or check data_dir."
        )
    return _records.text(path, path.read_bytes())


def _read_questions(path, answers):
    """Returns the questions, answers and image ids of `questions.json`."""
    try:
        entries = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} must hold a non-empty list of questions.")
    for i, entry in enumerate(entries):
        valid = (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and entry[1] in answers
            and isinstance(entry[2], int)
            and not isinstance(entry[2], bool)
            and entry[2] >= 0
        )
        if not valid:
            raise ValueError(
                f"{path}: entry {i} must be [question, answer, image_id] "
                f"with an answer in {list(answers)} and an image id >= 0. "
                f"Received: {entry!r}"
            )
    return tuple(np.array(column) for column in zip(*entries, strict=True))


def _read_images(directory, image_ids):
    """uint8 (len(image_ids), 64, 64, 3): `{id}.png` for each id."""
    images = np.empty((len(image_ids), *IMAGE_SHAPE), np.uint8)
    for i, image_id in enumerate(image_ids):
        path = directory / f"{image_id}.png"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing, but its questions refer to image "
                f"{image_id}."
            )
        try:
            with path.open("rb") as file, Image.open(file) as image:
                pixels = np.asarray(image.convert("RGB"))
        except OSError as error:
            message = f"{path} is not a readable image: {error}"
            raise ValueError(message) from error
        if pixels.shape != IMAGE_SHAPE:
            raise ValueError(
                f"{path} must be a {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} image, "
                f"but is {pixels.shape[1]}x{pixels.shape[0]}."
            )
        images[i] = pixels
    return images
