"""COCO captions reader, on tiny files in the published schema."""

import json
import logging

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data._records import DataError
from mmkeras.data.coco import coco_captions
from tests.data import _fixtures

SIZE = _fixtures.SIZE


def test_basics(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)
    ds, report = coco_captions(path, images_dir, image_size=SIZE)
    _fixtures.assert_specs(
        ds,
        {
            "image": ((*SIZE, 3), tf.float32),
            "image_id": ((), tf.int64),
            "caption": ((), tf.string),
        },
    )
    elements = list(ds.as_numpy_iterator())
    assert [e["caption"].decode() for e in elements] == [
        "A red square.",
        "Blue all over.",
        "Nothing but red.",
    ]
    assert [e["image_id"] for e in elements] == [1, 2, 1]
    colors = [_fixtures.RED, _fixtures.BLUE, _fixtures.RED]
    for element, color in zip(elements, colors, strict=True):
        expected = np.broadcast_to(np.divide(color, 255), (*SIZE, 3))
        np.testing.assert_allclose(element["image"], expected, atol=0.01)
    assert (report.total, report.kept, dict(report.skipped)) == (3, 3, {})


def test_per_image_groups_captions(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)
    ds, _ = coco_captions(path, images_dir, per_image=True, image_size=SIZE)
    assert ds.element_spec["captions"].shape == (None,)
    elements = list(ds.as_numpy_iterator())
    assert [e["image_id"] for e in elements] == [1, 2]
    assert elements[0]["captions"].tolist() == [
        b"A red square.",
        b"Nothing but red.",
    ]
    batched, _ = coco_captions(
        path, images_dir, per_image=True, image_size=SIZE, batch_size=2
    )
    batch = next(iter(batched))
    assert batch["captions"].to_list()[1] == [b"Blue all over."]
    assert batch["image"].shape == (2, *SIZE, 3)


def test_skip_counts_and_reports(tmp_path, caplog):
    path, images_dir = _fixtures.coco_captions(tmp_path, _fixtures.ALL_BAD)
    with caplog.at_level(logging.WARNING, "mmkeras.data"):
        ds, report = coco_captions(
            path, images_dir, image_size=SIZE, on_error="skip"
        )
    assert [e["caption"] for e in ds.as_numpy_iterator()] == [
        b"A red square.",
        b"Blue all over.",
        b"Nothing but red.",
    ]
    assert (report.total, report.kept) == (6, 3)
    assert report.skipped == {
        "missing image": 1,
        "corrupt image": 1,
        "malformed record": 1,
    }
    assert "000000000003.jpg" in report.first["missing image"]
    assert "(id=41)" in report.first["corrupt image"]
    assert "skipped 3 of 6 captions" in caplog.text


@pytest.mark.parametrize(
    "bad, match",
    [
        ("missing", r"annotations\[3\] \(id=31\).*000000000003.jpg.*not exist"),
        ("corrupt", r"annotations\[3\] \(id=41\).*000000000004.jpg.*decode"),
        ("malformed", r"annotations\[3\] \(id=51\).*'caption' must be a str"),
    ],
)
def test_raise_names_file_and_record(tmp_path, bad, match):
    path, images_dir = _fixtures.coco_captions(tmp_path, (bad,))
    with pytest.raises(DataError, match="captions_val2017.json, " + match):
        coco_captions(path, images_dir)


def test_malformed_json_file(tmp_path):
    path = tmp_path / "captions_train2017.json"
    path.write_text('{"images": [],\n "annotations": [}')
    with pytest.raises(DataError, match=r"captions_train2017.json.*line 2"):
        coco_captions(path, tmp_path, on_error="skip")
    path.write_text('{"questions": []}')
    with pytest.raises(DataError, match="not a COCO captions file"):
        coco_captions(path, tmp_path)
    with pytest.raises(DataError, match="nope.json does not exist"):
        coco_captions(tmp_path / "nope.json", tmp_path)


def test_seeded_shuffle_and_augment_repeat(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)

    def run():
        ds, _ = coco_captions(
            path,
            images_dir,
            image_size=SIZE,
            shuffle=True,
            seed=7,
            augment=True,
            batch_size=2,
        )
        return [list(ds.as_numpy_iterator()) for _ in range(2)]

    first, second = run(), run()
    for epoch_a, epoch_b in zip(first, second, strict=True):
        for a, b in zip(epoch_a, epoch_b, strict=True):
            np.testing.assert_array_equal(a["caption"], b["caption"])
            np.testing.assert_array_equal(a["image"], b["image"])


def test_bad_options_fail_before_reading(tmp_path):
    with pytest.raises(ValueError, match="on_error must be one of"):
        coco_captions(tmp_path / "x.json", tmp_path, on_error="ignore")
    with pytest.raises(ValueError, match="batch_size must be"):
        coco_captions(tmp_path / "x.json", tmp_path, batch_size=0)


def _rewrite(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_image_id_given_twice(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)
    # Image 1 again, with image 2's file: its captions would get blue
    # pixels.
    _rewrite(
        path,
        lambda data: data["images"].append(
            {"id": 1, "file_name": "000000000002.png"}
        ),
    )
    with pytest.raises(DataError) as error:
        coco_captions(path, images_dir)
    assert str(error.value) == (
        f"{path}, images[2] (id=1): image id 1 is given twice: images[0] "
        "(id=1) has '000000000001.jpg' and images[2] (id=1) has "
        "'000000000002.png'. Keep one record per id, or pass "
        'on_error="skip" to skip and count such records.'
    )
    ds, report = coco_captions(
        path, images_dir, image_size=SIZE, on_error="skip"
    )
    assert [e["image_id"] for e in ds.as_numpy_iterator()] == [2]
    assert (report.total, report.kept) == (3, 1)
    assert report.skipped == {"duplicate id": 2}
    assert str(report).startswith(f"{path}: skipped 2 of 3 captions")


def test_caption_id_given_twice(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)
    _rewrite(path, lambda data: data["annotations"][2].update(id=11))
    match = (
        r"annotations\[2\] \(id=11\): caption id 11 is given twice: "
        r"annotations\[0\] \(id=11\) has \{'image_id': 1, 'id': 11, "
        r"'caption': 'A red square.'\} and annotations\[2\] \(id=11\) has "
    )
    with pytest.raises(DataError, match=match):
        coco_captions(path, images_dir)
    ds, report = coco_captions(
        path, images_dir, image_size=SIZE, on_error="skip"
    )
    assert [e["caption"] for e in ds.as_numpy_iterator()] == [b"Blue all over."]
    assert report.skipped == {"duplicate id": 2}


def test_ids_beyond_int64_and_lone_surrogates(tmp_path):
    path, images_dir = _fixtures.coco_captions(tmp_path)
    text = path.read_text().replace('"Blue all over."', '"Blue \\ud800"')
    path.write_text(text.replace('"id": 12,', f'"id": {2**64},'))
    ds, report = coco_captions(
        path, images_dir, image_size=SIZE, on_error="skip"
    )
    assert [e["caption"] for e in ds.as_numpy_iterator()] == [b"A red square."]
    assert report.skipped == {"malformed record": 2}
    assert "field 'caption' is not valid Unicode (surrogates not allowed" in (
        report.first["malformed record"]
    )
    _rewrite(path, lambda data: data["annotations"].pop(1))
    with pytest.raises(DataError, match="'id' is out of the int64 range"):
        coco_captions(path, images_dir)
