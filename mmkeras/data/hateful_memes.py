"""Hateful Memes (Kiela et al. 2020) `.jsonl` files as `tf.data`."""

import json
import os

import tensorflow as tf

from mmkeras.data import _records


def hateful_memes(
    jsonl_file,
    images_dir=None,
    image_size=(224, 224),
    normalize="unit",
    augment=False,
    batch_size=None,
    shuffle=False,
    seed=None,
    on_error="raise",
):
    """Reads a Hateful Memes split (`train.jsonl`, `dev_seen.jsonl`, ...).

    Args:
        jsonl_file: one JSON object a line, with "id", "img" (e.g.
            "img/42953.png"), "text" and "label" (0 or 1). Test files have
            no "label": if no line has one, elements have none either.
        images_dir: the directory "img" paths are relative to; None is the
            directory of `jsonl_file`, as the dataset is shipped.
        image_size, normalize, augment, batch_size, shuffle, seed,
            on_error: as in `mmkeras.data.coco_captions`.

    Returns:
        `(dataset, report)`: a `tf.data.Dataset` of dicts with "image"
        (float32 `(*image_size, 3)`), "id" (int64), "text" (string, the
        text printed on the meme) and "label" (int32, 1 hateful); and a
        `ReadReport` on the lines.

    Bad input: a line that is not UTF-8, not a JSON object, lacks a field,
    has one of the wrong type or a label other than 0 or 1 (or none when
    other lines have one); a missing or undecodable image; an "id" on two
    lines: both are bad, since which one is right is unknown. Blank lines
    are ignored. No line left to read always raises.

    Example:

    >>> ds, report = mmkeras.data.hateful_memes(
    ...     "hateful_memes/train.jsonl", shuffle=True, seed=0, batch_size=32
    ... )
    """
    pipeline = _records.Pipeline(
        image_size, normalize, augment, batch_size, shuffle, seed
    )
    policy = _records.Policy(jsonl_file, "lines", on_error)
    if images_dir is None:
        images_dir = os.path.dirname(os.fspath(jsonl_file)) or os.curdir
    records = [
        (_where(number, record), record)
        for number, record in _parse_lines(_records.read_bytes(jsonl_file))
    ]
    labelled = any(
        isinstance(record, dict) and "label" in record for _, record in records
    )
    meme_ids = policy.index(_records.ids(records, "id"), "id")

    def parse(where, record):
        if isinstance(record, _records.Problem):
            raise record
        meme_id = _records.field(record, "id", int)
        _records.look_up(meme_ids, meme_id)
        fields = [meme_id, _records.field(record, "text")]
        if labelled:
            fields.append(_label(record))
        path = os.path.join(images_dir, _records.field(record, "img"))
        return _records.Sample(where, path, fields)

    samples = policy.check_images(policy.parse(records, parse), images_dir)
    report = policy.finish()
    tensors = {
        "image": tf.constant([s.image for s in samples], tf.string),
        "id": tf.constant([s.fields[0] for s in samples], tf.int64),
        "text": tf.constant([s.fields[1] for s in samples], tf.string),
    }
    if labelled:
        labels = [s.fields[2] for s in samples]
        tensors["label"] = tf.constant(labels, tf.int32)
    return pipeline.dataset(tensors), report


def _parse_lines(data):
    """(line number, object) per non-blank line; a `Problem` as the object
    of a line that is not UTF-8 or not valid JSON."""
    # Split the bytes on "\n" only: str.splitlines also splits inside a
    # text holding U+2028 or U+0085, which JSON strings may contain.
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(_records.decode(line))
        except UnicodeDecodeError as error:
            message = (
                f"not UTF-8 text (the byte {line[error.start : error.end]!r}"
                f" at byte {error.start + 1} of the line)"
            )
            yield number, _records.Problem(_records.MALFORMED, message)
        except json.JSONDecodeError as error:
            message = f"not valid JSON (column {error.colno}: {error.msg})"
            yield number, _records.Problem(_records.MALFORMED, message)


def _where(number, record):
    if isinstance(record, dict) and "id" in record:
        return f"line {number} (id={record['id']!r})"
    return f"line {number}"


def _label(record):
    label = _records.field(record, "label", int)
    if label not in (0, 1):
        raise _records.Problem(
            _records.MALFORMED, f"label must be 0 or 1, got {label}"
        )
    return label
