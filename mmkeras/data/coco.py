"""COCO captions (`captions_train2017.json` and the like) as `tf.data`."""

import os

import tensorflow as tf

from mmkeras.data import _records


def coco_captions(
    annotations_file,
    images_dir,
    per_image=False,
    image_size=(224, 224),
    normalize="unit",
    augment=False,
    batch_size=None,
    shuffle=False,
    seed=None,
    on_error="raise",
):
    """Reads a COCO captions file and its image directory.

    Every record is checked before the dataset is built (see "Bad input"
    below), so iterating never fails on a bad file.

    Args:
        annotations_file: path of the official JSON, with "images" (each
            with "id" and "file_name") and "annotations" (each with
            "image_id" and "caption").
        images_dir: the directory holding the "file_name"s.
        per_image: False for one element per caption; True for one per
            image holding all its captions (a ragged "captions" once
            batched).
        image_size: `(height, width)` of the images.
        normalize: "unit", "imagenet" or None, as in
            `mmkeras.data.preprocess_image`.
        augment: False, True or augmentation names, as in
            `mmkeras.data.preprocess_image`.
        batch_size: None for single elements, or a positive integer.
        shuffle: shuffle the elements, anew each epoch.
        seed: makes shuffling and augmentation repeatable (and the
            parallel map deterministic); None does not.
        on_error: what a bad record does: "raise" a `DataError` naming the
            file, the record and the fix, or "skip" it and count it in the
            report. A file that is missing or not valid JSON always raises.

    Returns:
        `(dataset, report)`: a `tf.data.Dataset` of dicts with "image"
        (float32 `(*image_size, 3)`), "image_id" (int64) and "caption"
        (string) or "captions" (string `(None,)`), in file order unless
        shuffled; and a `ReadReport` counting the captions read and
        skipped (also logged as a warning when any were skipped).

    Bad input: a caption whose record lacks a field or has one of the wrong
    type, whose "image_id" has no entry in "images", or whose image file is
    missing or does not decode.

    Example:

    >>> ds, report = mmkeras.data.coco_captions(
    ...     "annotations/captions_val2017.json", "val2017", batch_size=32
    ... )
    >>> ds = ds.map(lambda x: {**x, "caption": tokenizer(x["caption"])})
    """
    pipeline = _records.Pipeline(
        image_size, normalize, augment, batch_size, shuffle, seed
    )
    policy = _records.Policy(annotations_file, "captions", on_error)
    data = _records.load_json(
        annotations_file, "annotations", "a COCO captions file"
    )
    files = _image_files(data, policy)

    def parse(where, record):
        image_id = _records.field(record, "image_id", int)
        caption = _records.field(record, "caption")
        if image_id not in files:
            raise _records.Problem(
                _records.MALFORMED,
                f"image_id {image_id} has no valid entry in 'images'",
            )
        path = os.path.join(images_dir, files[image_id])
        return _records.Sample(where, path, (image_id, caption))

    records = (
        (_records.where("annotations", i, record, "id"), record)
        for i, record in enumerate(data["annotations"])
    )
    samples = policy.check_images(policy.parse(records, parse))
    columns = (_per_image if per_image else _per_caption)(samples)
    return pipeline.dataset(columns), policy.finish()


def _image_files(data, policy):
    """image id -> file name, from the "images" list."""
    files = {}
    for index, record in enumerate(data.get("images", [])):
        where = _records.where("images", index, record, "id")
        try:
            files[_records.field(record, "id", int)] = _records.field(
                record, "file_name"
            )
        except _records.Problem as problem:
            # Not counted: its captions are, as lacking an image entry.
            if policy.on_error == "raise":
                policy.reject(where, problem)
    return files


def _per_caption(samples):
    return {
        "image": tf.constant([s.image for s in samples], tf.string),
        "image_id": tf.constant([s.fields[0] for s in samples], tf.int64),
        "caption": tf.constant([s.fields[1] for s in samples], tf.string),
    }


def _per_image(samples):
    captions = {}
    paths = {}
    for sample in samples:
        image_id, caption = sample.fields
        captions.setdefault(image_id, []).append(caption)
        paths[image_id] = sample.image
    return {
        "image": tf.constant(list(paths.values()), tf.string),
        "image_id": tf.constant(list(paths), tf.int64),
        "captions": tf.ragged.constant(
            list(captions.values()), tf.string, ragged_rank=1, inner_shape=()
        ),
    }
