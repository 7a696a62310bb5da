"""Shared by the file readers: the bad-input policy (`on_error`), the
`ReadReport` it fills, checked JSON fields and the `tf.data` pipeline.

A reader checks every record in Python before building the dataset: its
fields, that its image file exists and that the image decodes (each one
once, in parallel, with the decoder the pipeline uses). So a bad record
raises a `DataError` naming the file, the record and the fix, or is
skipped and counted; it never reaches training as a TensorFlow error.
"""

import collections
import dataclasses
import json
import logging
import os

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data import images

logger = logging.getLogger("mmkeras.data")

MISSING_IMAGE = "missing image"
CORRUPT_IMAGE = "corrupt image"
MALFORMED = "malformed record"
UNKNOWN_ANSWER = "unknown answer"
_FIXES = {
    MISSING_IMAGE: "Check images_dir and that the file was downloaded",
    CORRUPT_IMAGE: "Re-download or replace the file",
    MALFORMED: "Fix the record",
}
_SKIP = 'or pass on_error="skip" to skip and count such records.'
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list"}


class DataError(ValueError):
    """A dataset file or record that a reader cannot use. The message names
    the file, the record and how to fix it."""


class Problem(Exception):
    """Raised while checking one record; `Policy` turns it into a
    `DataError` or a counted skip."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class ReadReport:
    """What a reader kept and skipped; `str(report)` summarises it.

    Attributes:
        source: the file read.
        unit: what one record is, e.g. "captions".
        total: the number of records read.
        skipped: reason ("missing image", "corrupt image", "malformed
            record", "unknown answer") -> the number of records skipped.
        first: reason -> the first record skipped for it, and why.
    """

    source: str
    unit: str
    total: int = 0
    skipped: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    first: dict = dataclasses.field(default_factory=dict)

    @property
    def kept(self):
        return self.total - sum(self.skipped.values())

    def __str__(self):
        if not self.skipped:
            return f"{self.source}: kept all {self.total} {self.unit}."
        counts = ", ".join(f"{n} {r}" for r, n in self.skipped.items())
        firsts = "; ".join(f"first {r}: {m}" for r, m in self.first.items())
        return (
            f"{self.source}: skipped {self.total - self.kept} of "
            f"{self.total} {self.unit}: {counts} ({firsts})."
        )


Sample = collections.namedtuple("Sample", "where image fields")


class Policy:
    """Applies `on_error` ("raise" or "skip") to the records of `source`."""

    def __init__(self, source, unit, on_error):
        _checks.one_of("on_error", on_error, ("raise", "skip"))
        self.on_error = on_error
        self.report = ReadReport(os.fspath(source), unit)

    def reject(self, where, problem, action=None, fix=None):
        """Raises for, or counts, the record `where`."""
        if (action or self.on_error) == "raise":
            fix = fix or f"{_FIXES[problem.reason]}, {_SKIP}"
            raise DataError(
                f"{self.report.source}, {where}: {problem.message}. {fix}"
            )
        self.report.skipped[problem.reason] += 1
        self.report.first.setdefault(
            problem.reason, f"{where}: {problem.message}"
        )

    def parse(self, records, parse):
        """Returns `parse(where, record)` (a `Sample`) for each `(where,
        record)` pair, rejecting those where it raises a `Problem`."""
        samples = []
        for where, record in records:
            self.report.total += 1
            try:
                samples.append(parse(where, record))
            except Problem as problem:
                self.reject(where, problem)
        return samples

    def check_images(self, samples):
        """Returns the `Sample`s whose image exists and decodes."""
        present = []
        for sample in samples:
            if os.path.isfile(sample.image):
                present.append(sample)
            else:
                message = f"image file {sample.image} does not exist"
                self.reject(sample.where, Problem(MISSING_IMAGE, message))
        corrupt = _undecodable(sorted({s.image for s in present}))
        for sample in present:
            if sample.image in corrupt:
                message = f"image file {sample.image} does not decode"
                self.reject(sample.where, Problem(CORRUPT_IMAGE, message))
        return [s for s in present if s.image not in corrupt]

    def finish(self):
        """Logs a warning if records were skipped; returns the report."""
        if self.report.skipped:
            logger.warning("%s", self.report)
        return self.report


def load_json(path, key, kind):
    """Reads the JSON object in `path` and returns its list `key`; `kind`
    names the expected file in the error."""
    data = parse_json(read_text(path), f"{os.fspath(path)} is not valid")
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise DataError(
            f"{os.fspath(path)} has no top-level {key!r} list, so it is not "
            f"{kind}. Pass the right file."
        )
    return data


def read_text(path):
    if not os.path.isfile(path):
        raise DataError(f"{os.fspath(path)} does not exist. Check the path.")
    with open(path, encoding="utf-8") as file:
        return file.read()


def parse_json(text, prefix):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{prefix} JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}). Re-download the file or fix it there."
        ) from None


def field(record, name, kind=str):
    """Returns `record[name]`, raising a `Problem` unless it is a `kind`."""
    if not isinstance(record, dict):
        raise Problem(MALFORMED, f"the record is not a JSON object: {record}")
    if name not in record:
        raise Problem(MALFORMED, f"the record has no field {name!r}")
    value = record[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise Problem(
            MALFORMED,
            f"field {name!r} must be {_TYPE_NAMES[kind]}, got {value!r}",
        )
    return value


def where(name, index, record, key):
    """Names a record, e.g. "annotations[3] (id=12)"."""
    if isinstance(record, dict) and key in record:
        return f"{name}[{index}] ({key}={record[key]!r})"
    return f"{name}[{index}]"


def _undecodable(paths):
    """The subset of `paths` that `images.load_image` fails on."""
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
    ds = ds.enumerate().map(
        lambda i, path: (i, tf.shape(images.load_image(path))[0]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    )
    decoded = {int(i) for i, _ in ds.ignore_errors().as_numpy_iterator()}
    return {p for i, p in enumerate(paths) if i not in decoded}


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """The readers' `tf.data` options, checked before any file is read."""

    image_size: tuple
    normalize: str
    augment: object
    batch_size: int
    shuffle: bool
    seed: int

    def __post_init__(self):
        images.check_preprocessing(
            self.image_size, self.normalize, self.augment
        )
        _checks.optional_positive_int("batch_size", self.batch_size)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an int. Received: seed={self.seed}")

    def dataset(self, columns):
        """`columns`: name -> tensor, one row per sample; "image" holds
        paths, replaced by the preprocessed images."""
        ds = tf.data.Dataset.from_tensor_slices(columns)
        if self.shuffle:
            count = max(int(columns["image"].shape[0]), 1)
            ds = ds.shuffle(count, self.seed, reshuffle_each_iteration=True)
        # Per-element augmentation seeds, new each epoch, from `seed`.
        seeds = tf.data.Dataset.random(
            self.seed, rerandomize_each_iteration=True
        )
        ds = tf.data.Dataset.zip(ds, seeds.batch(2))
        ds = ds.map(
            self._load,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=self.seed is not None or not self.shuffle,
        )
        if self.batch_size:
            ragged = any(
                isinstance(c, tf.RaggedTensor) for c in columns.values()
            )
            batch = ds.ragged_batch if ragged else ds.batch
            ds = batch(self.batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)

    def _load(self, element, seed):
        image = images.load_image(element["image"])
        image = images.preprocess_image(
            image, self.image_size, self.normalize, self.augment, seed
        )
        return {
            **element,
            "image": tf.ensure_shape(image, (*self.image_size, 3)),
        }
