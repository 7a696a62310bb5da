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
    missing or does not decode; an id given twice (an image "id" in
    "images" or a caption "id"): the records using it are all bad, since
    which one is right is unknown. A missing `images_dir`, or no caption
    left to read, always raises.

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
    files = _image_files(annotations_file, data, policy)
    records = [
        (_records.where("annotations", i, record, "id"), record)
        for i, record in enumerate(data["annotations"])
    ]
    caption_ids = policy.index(_records.ids(records, "id"), "caption id")

    def parse(where, record):
        image_id = _records.field(record, "image_id", int)
        caption = _records.field(record, "caption")
        if "id" in record:
            caption_id = _records.field(record, "id", int)
            _records.look_up(caption_ids, caption_id)
        missing = f"image_id {image_id} has no valid entry in 'images'"
        file_name = _records.look_up(files, image_id, missing)
        path = os.path.join(images_dir, file_name)
        return _records.Sample(where, path, (image_id, caption))

    samples = policy.check_images(policy.parse(records, parse), images_dir)
    report = policy.finish()
    columns = (_per_image if per_image else _per_caption)(samples)
    return pipeline.dataset(columns), report


def _image_files(path, data, policy):
    """image id -> file name (or the `Problem` of an id given twice), from
    the "images" list."""
    if not isinstance(data.get("images"), list):
        raise _records.DataError(
            f"{os.fspath(path)} has no top-level 'images' list, so it is "
            "not a COCO captions file. Pass the right file."
        )
    entries = []
    for index, record in enumerate(data["images"]):
        where = _records.where("images", index, record, "id")
        try:
            image_id = _records.field(record, "id", int)
            file_name = _records.field(record, "file_name")
            entries.append((where, image_id, file_name))
        except _records.Problem as problem:
            # Not counted: its captions are, as lacking an image entry.
            if policy.on_error == "raise":
                policy.reject(where, problem)
    return policy.index(entries, "image id")


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
