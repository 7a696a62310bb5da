"""Karpathy split reader, on a tiny `dataset_coco.json`."""

import json

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data._records import DataError
from mmkeras.data.karpathy import karpathy_captions
from tests.data import _fixtures

SIZE = _fixtures.SIZE


def test_basics(tmp_path):
    path, images_dir = _fixtures.karpathy(tmp_path)
    ds, report = karpathy_captions(path, images_dir, "test", image_size=SIZE)
    _fixtures.assert_specs(
        ds,
        {
            "image": ((*SIZE, 3), tf.float32),
            "image_id": ((), tf.int64),
            "caption": ((), tf.string),
        },
    )
    elements = list(ds.as_numpy_iterator())
    # "raw" is kept as published, trailing space included.
    assert [e["caption"] for e in elements] == [
        b"A red thing.",
        b"Red, all red. ",
    ]
    assert [e["image_id"] for e in elements] == [1, 1]
    np.testing.assert_allclose(elements[0]["image"][..., 0], 1.0, atol=0.01)
    assert (report.total, report.kept) == (1, 1)


@pytest.mark.parametrize(
    "split, restval_in_train, image_ids",
    [
        ("train", True, [2, 3]),
        ("train", False, [2]),
        ("restval", True, [3]),
        ("val", True, [4]),
    ],
)
def test_splits(tmp_path, split, restval_in_train, image_ids):
    path, images_dir = _fixtures.karpathy(tmp_path)
    ds, _ = karpathy_captions(
        path,
        images_dir,
        split,
        restval_in_train=restval_in_train,
        image_size=SIZE,
    )
    assert [e["image_id"] for e in ds.as_numpy_iterator()] == image_ids


def test_per_image(tmp_path):
    path, images_dir = _fixtures.karpathy(tmp_path)
    ds, _ = karpathy_captions(
        path, images_dir, "test", per_image=True, image_size=SIZE, batch_size=4
    )
    (batch,) = ds.as_numpy_iterator()
    assert batch["captions"].tolist() == [[b"A red thing.", b"Red, all red. "]]


def test_skip_counts(tmp_path):
    path, images_dir = _fixtures.karpathy(tmp_path, _fixtures.ALL_BAD)
    ds, report = karpathy_captions(
        path, images_dir, "test", image_size=SIZE, on_error="skip"
    )
    assert len(list(ds)) == 2
    assert (report.total, report.kept) == (4, 1)
    assert report.skipped == {
        "missing image": 1,
        "corrupt image": 1,
        "malformed record": 1,
    }


@pytest.mark.parametrize(
    "bad, match",
    [
        ("missing", r"images\[4\] \(filename='COCO_val2014_000000000005.jpg'"),
        ("corrupt", r"images\[4\].*000000000006.jpg does not decode"),
        ("malformed", r"images\[4\].*'sentences' must be a list, got 'x'"),
    ],
)
def test_raise_names_file_and_record(tmp_path, bad, match):
    path, images_dir = _fixtures.karpathy(tmp_path, (bad,))
    with pytest.raises(DataError, match="dataset_coco.json, " + match):
        karpathy_captions(path, images_dir, "test")
    # Bad records of other splits are not read.
    karpathy_captions(path, images_dir, "val", image_size=SIZE)


def test_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        karpathy_captions(tmp_path / "x.json", tmp_path, "dev")


def test_image_id_given_twice(tmp_path):
    path, images_dir = _fixtures.karpathy(tmp_path)
    data = json.loads(path.read_text())
    # Test image 1 also in train: a leak, and which file is image 1?
    data["images"][1]["cocoid"] = 1
    path.write_text(json.dumps(data))
    match = (
        r"dataset_coco.json, images\[1\] \(filename='COCO_val2014_"
        r"000000000002.jpg'\): image id 1 is given twice: images\[0\] "
        r"\(filename='COCO_val2014_000000000001.jpg'\) has \{'filepath'"
    )
    with pytest.raises(DataError, match=match):
        karpathy_captions(path, images_dir, "test")
    ds, report = karpathy_captions(
        path, images_dir, "train", image_size=SIZE, on_error="skip"
    )
    assert [e["image_id"] for e in ds.as_numpy_iterator()] == [3]
    assert report.skipped == {"duplicate id": 1}
    with pytest.raises(DataError, match="skipped 1 of 1 images: 1 dup"):
        karpathy_captions(path, images_dir, "test", on_error="skip")


def test_split_without_images(tmp_path):
    path, images_dir = _fixtures.karpathy(tmp_path)
    data = json.loads(path.read_text())
    del data["images"][3]
    path.write_text(json.dumps(data))
    match = (
        r"dataset_coco.json has no images of split 'val'; its splits are "
        r"\['restval', 'test', 'train'\]. Pass one of those."
    )
    with pytest.raises(DataError, match=match):
        karpathy_captions(path, images_dir, "val")
