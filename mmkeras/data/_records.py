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
DUPLICATE_ID = "duplicate id"
UNKNOWN_ANSWER = "unknown answer"
_FIXES = {
    MISSING_IMAGE: "Check images_dir and that the file was downloaded",
    CORRUPT_IMAGE: "Re-download or replace the file",
    MALFORMED: "Fix the record",
    DUPLICATE_ID: "Keep one record per id",
}
_SKIP = 'or pass on_error="skip" to skip and count such records.'
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list"}
# The readers' integer fields become int64 tensors.
_INT64 = range(-(2**63), 2**63)


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
            record", "duplicate id", "unknown answer") -> the number of
            records skipped.
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
        self.images_dir = None

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

    def index(self, entries, name):
        """`{id: value}` from `(where, id, value)` entries, where an id
        must occur once.

        An id given twice raises a `DataError` naming both records and
        values, or (`on_error="skip"`) maps to the `Problem` that every
        record using the id is then rejected with: the reader cannot tell
        which one is right, so it keeps none, and counts them.
        """
        table, first = {}, {}
        for where, key, value in entries:
            if key not in first:
                first[key] = (where, value)
                table[key] = value
                continue
            if isinstance(table[key], Problem):
                continue
            where_first, value_first = first[key]
            second = "the same" if value == value_first else _short(value)
            problem = Problem(
                DUPLICATE_ID,
                f"{name} {key!r} is given twice: {where_first} has "
                f"{_short(value_first)} and {where} has {second}",
            )
            if self.on_error == "raise":
                self.reject(where, problem)
            table[key] = problem
        return table

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

    def check_images(self, samples, images_dir):
        """Returns the `Sample`s whose image exists and decodes; a wrong
        `images_dir` raises whatever `on_error` is."""
        self.images_dir = os.fspath(images_dir)
        if not os.path.isdir(images_dir):
            exists = os.path.exists(images_dir)
            state = "is a file" if exists else "does not exist"
            raise DataError(
                f"images_dir {self.images_dir!r} {state}, so no image of "
                f"{self.report.source} can be read. Pass the directory "
                "holding its image files."
            )
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
        """Logs a warning if records were skipped; returns the report.

        Raises a `DataError` if no record is left: an empty dataset is
        never what the caller wanted.
        """
        report = self.report
        if not report.total:
            raise DataError(
                f"{report.source} has no {report.unit}. Pass a file that "
                "has some."
            )
        if not report.kept:
            raise DataError(
                f"{report} Every record was skipped, so the dataset would "
                f"be empty. {self._fix_all_skipped()}"
            )
        if report.skipped:
            logger.warning("%s", report)
        return report

    def _fix_all_skipped(self):
        reason = self.report.skipped.most_common(1)[0][0]
        if reason == MISSING_IMAGE:
            return (
                f"Check images_dir: {self.images_dir!r} holds none of the "
                "image files the records name."
            )
        if reason == UNKNOWN_ANSWER:
            return "Pass an answer_vocabulary that has these answers."
        return f"{_FIXES[reason]}."


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


def read_bytes(path):
    if not os.path.isfile(path):
        raise DataError(f"{os.fspath(path)} does not exist. Check the path.")
    with open(path, "rb") as file:
        return file.read()


def read_text(path):
    return text(path, read_bytes(path))


def text(path, data):
    """`data`, the bytes of `path`, as UTF-8 text (a leading byte order
    mark is dropped); a byte that is not UTF-8 raises a `DataError` naming
    the file and where the byte is."""
    try:
        return decode(data)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        offset = error.start - data.rfind(b"\n", 0, error.start)
        raise DataError(
            f"{os.fspath(path)} is not UTF-8 text: line {line} has the byte "
            f"{data[error.start : error.end]!r} at byte {offset} of the "
            f"line ({error.reason}). Convert the file to UTF-8, e.g. with "
            "`iconv -f <its encoding> -t utf-8`."
        ) from None


def decode(data):
    return data.decode("utf-8-sig")


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
    if kind is int and value not in _INT64:
        raise Problem(
            MALFORMED, f"field {name!r} is out of the int64 range: {value}"
        )
    if kind is str and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            # JSON's "\ud800" escapes decode to a lone surrogate, which
            # no tensor can hold.
            raise Problem(
                MALFORMED,
                f"field {name!r} is not valid Unicode ({error.reason} "
                f"at character {error.start}): {value!r}",
            ) from None
    return value


def look_up(table, key, missing=None):
    """`table[key]` of a `Policy.index` table; raises the `Problem` of a
    duplicated id, or if the id is absent, a malformed-record one saying
    `missing`."""
    value = table.get(key)
    if isinstance(value, Problem):
        raise value
    if value is None and missing:
        raise Problem(MALFORMED, missing)
    return value


def ids(records, key):
    """`(where, record[key], record)` for the records whose `key` is an
    integer (others fail `field` later), for `Policy.index`."""
    for where, record in records:
        if isinstance(record, dict):
            value = record.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                yield where, value, record


def where(name, index, record, key):
    """Names a record, e.g. "annotations[3] (id=12)"."""
    if isinstance(record, dict) and key in record:
        return f"{name}[{index}] ({key}={record[key]!r})"
    return f"{name}[{index}]"


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
