"""Karpathy's caption splits (`dataset_coco.json`, also Flickr8k/30k) as
`tf.data`."""

import os

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data import _records

SPLITS = ("train", "val", "test", "restval")


def karpathy_captions(
    dataset_file,
    images_dir,
    split,
    restval_in_train=True,
    per_image=False,
    image_size=(224, 224),
    normalize="unit",
    augment=False,
    batch_size=None,
    shuffle=False,
    seed=None,
    on_error="raise",
):
    """Reads one split of a Karpathy captions file.

    Args:
        dataset_file: `dataset_coco.json` (or `dataset_flickr30k.json`):
            "images", each with "filename", "split", "sentences" (each
            with a "raw" caption), "cocoid" or "imgid", and for COCO a
            "filepath" ("train2014" / "val2014").
        images_dir: the directory holding "filepath"/"filename".
        split: "train", "val", "test" or "restval".
        restval_in_train: `split="train"` also takes "restval" (the usual
            113k-image training set of COCO).
        per_image: False for one element per caption; True for one per
            image holding all its captions.
        image_size, normalize, augment, batch_size, shuffle, seed,
            on_error: as in `mmkeras.data.coco_captions`.

    Returns:
        `(dataset, report)`: a `tf.data.Dataset` of dicts with "image"
        (float32 `(*image_size, 3)`), "image_id" (int64: "cocoid", else
        "imgid") and "caption" (string, the "raw" sentence) or "captions"
        (string `(None,)`); and a `ReadReport` on the images of the split.

    Bad input: an image record lacking a field or with one of the wrong
    type, or whose image file is missing or does not decode; a record of
    another split is not read, so it is never reported. An image id
    ("cocoid", else "imgid") given twice in the file, in any splits: the
    records using it are all bad, since which one is right is unknown (and
    an image in two splits leaks between them). A missing `images_dir`, a
    split without images, or no image left to read, always raises.

    Example:

    >>> ds, report = mmkeras.data.karpathy_captions(
    ...     "dataset_coco.json", "coco", split="test", per_image=True
    ... )
    """
    _checks.one_of("split", split, SPLITS)
    pipeline = _records.Pipeline(
        image_size, normalize, augment, batch_size, shuffle, seed
    )
    policy = _records.Policy(dataset_file, "images", on_error)
    data = _records.load_json(dataset_file, "images", "a Karpathy split file")
    splits = {split}
    if split == "train" and restval_in_train:
        splits.add("restval")
    everywhere = [
        (_records.where("images", i, record, "filename"), record)
        for i, record in enumerate(data["images"])
    ]
    # Over every split: an image in two splits is a leak.
    image_ids = policy.index(_image_ids(everywhere), "image id")

    def parse(where, record):
        _records.field(record, "split")
        path = [_records.field(record, "filename")]
        if "filepath" in record:
            path.insert(0, _records.field(record, "filepath"))
        image_id = _records.field(record, _id_key(record), int)
        _records.look_up(image_ids, image_id)
        captions = [
            _records.field(sentence, "raw")
            for sentence in _records.field(record, "sentences", list)
        ]
        if not captions:
            raise _records.Problem(_records.MALFORMED, "it has no sentences")
        return _records.Sample(
            where, os.path.join(images_dir, *path), (image_id, captions)
        )

    records = (
        (where, record)
        for where, record in everywhere
        # A record without a valid "split" is read, to be reported.
        if not isinstance(record, dict)
        or not isinstance(record.get("split"), str)
        or record["split"] in splits
    )
    parsed = policy.parse(records, parse)
    if not policy.report.total:
        found = {r.get("split") for _, r in everywhere if isinstance(r, dict)}
        raise _records.DataError(
            f"{os.fspath(dataset_file)} has no images of split {split!r}; "
            f"its splits are {sorted(s for s in found if isinstance(s, str))}"
            ". Pass one of those."
        )
    samples = policy.check_images(parsed, images_dir)
    report = policy.finish()
    if per_image:
        pairs = [(s, s.fields[1]) for s in samples]
    else:
        pairs = [(s, caption) for s in samples for caption in s.fields[1]]
    tensors = {
        "image": tf.constant([s.image for s, _ in pairs], tf.string),
        "image_id": tf.constant([s.fields[0] for s, _ in pairs], tf.int64),
    }
    captions = [caption for _, caption in pairs]
    if per_image:
        tensors["captions"] = tf.ragged.constant(
            captions, tf.string, ragged_rank=1, inner_shape=()
        )
    else:
        tensors["caption"] = tf.constant(captions, tf.string)
    return pipeline.dataset(tensors), report


def _id_key(record):
    return "cocoid" if "cocoid" in record else "imgid"


def _image_ids(records):
    """`Policy.index` entries of the records with an integer id."""
    for where, record in records:
        if isinstance(record, dict):
            key = _id_key(record)
            yield from _records.ids([(where, record)], key)
