"""Hateful Memes reader, on a tiny `.jsonl` and img/ directory."""

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data._records import DataError
from mmkeras.data.hateful_memes import hateful_memes
from tests.data import _fixtures

SIZE = _fixtures.SIZE


def test_basics(tmp_path):
    path = _fixtures.hateful_memes(tmp_path)
    ds, report = hateful_memes(path, image_size=SIZE, batch_size=2)
    _fixtures.assert_specs(
        ds,
        {
            "image": ((None, *SIZE, 3), tf.float32),
            "id": ((None,), tf.int64),
            "text": ((None,), tf.string),
            "label": ((None,), tf.int32),
        },
    )
    (batch,) = ds.as_numpy_iterator()
    assert batch["text"].tolist() == [b"love red", b"blue mood"]
    assert batch["label"].tolist() == [1, 0]
    assert batch["id"].tolist() == [1, 2]
    # PNG is lossless: the exact colours survive the resize.
    np.testing.assert_allclose(
        batch["image"][0], np.broadcast_to([1, 0, 0], (*SIZE, 3)), atol=1e-5
    )
    np.testing.assert_allclose(
        batch["image"][1], np.broadcast_to([0, 0, 1], (*SIZE, 3)), atol=1e-5
    )
    assert report.total == report.kept == 2


def test_unlabelled_test_file(tmp_path):
    path = _fixtures.hateful_memes(tmp_path, labelled=False)
    ds, _ = hateful_memes(path, tmp_path, image_size=SIZE)
    assert set(ds.element_spec) == {"image", "id", "text"}


def test_skip_counts(tmp_path):
    path = _fixtures.hateful_memes(tmp_path, _fixtures.ALL_BAD)
    with path.open("a") as file:
        file.write('{"id": 6, "img": \n\n[1, 2]\n')
    ds, report = hateful_memes(path, image_size=SIZE, on_error="skip")
    assert [e["id"] for e in ds.as_numpy_iterator()] == [1, 2]
    assert (report.total, report.kept) == (7, 2)
    assert report.skipped == {
        "missing image": 1,
        "corrupt image": 1,
        "malformed record": 3,
    }
    first = report.first["malformed record"]
    assert first.startswith("line 5 (id=5): field 'label'")


@pytest.mark.parametrize(
    "bad, match",
    [
        ("missing", r"line 3 \(id=3\): image file .*00003.png does not exist"),
        ("corrupt", r"line 3 \(id=4\): image file .*00004.png does not decode"),
        ("malformed", r"line 3 \(id=5\): field 'label' must be an integer"),
    ],
)
def test_raise_names_file_and_record(tmp_path, bad, match):
    path = _fixtures.hateful_memes(tmp_path, (bad,))
    with pytest.raises(DataError, match="dev.jsonl, " + match):
        hateful_memes(path)


def test_invalid_json_line(tmp_path):
    path = _fixtures.hateful_memes(tmp_path)
    with path.open("a") as file:
        file.write('{"id": 9, "img": "img/9.png", "label": 1, text: "x"}\n')
    with pytest.raises(DataError, match=r"dev.jsonl, line 3: not valid JSON"):
        hateful_memes(path)


def test_id_on_two_lines(tmp_path):
    path = _fixtures.hateful_memes(tmp_path)
    with path.open("a") as file:
        file.write('{"id": 1, "img": "img/00002.png", "text": "x", "label": 0}')
    match = (
        r"dev.jsonl, line 3 \(id=1\): id 1 is given twice: line 1 \(id=1\) "
        r"has \{'id': 1, 'img': 'img/00001.png', 'label': 1, 'text': 'love "
        r"red'\} and line 3 \(id=1\) has \{'id': 1, 'img': 'img/00002.png', "
        r"'text': 'x', 'label': 0\}. Keep one record per id"
    )
    with pytest.raises(DataError, match=match):
        hateful_memes(path)
    ds, report = hateful_memes(path, image_size=SIZE, on_error="skip")
    assert [e["id"] for e in ds.as_numpy_iterator()] == [2]
    assert (report.total, report.kept) == (3, 1)
    assert report.skipped == {"duplicate id": 2}


def test_line_separators_inside_texts(tmp_path):
    path = _fixtures.hateful_memes(tmp_path)
    # JSON strings may hold U+2028 and U+0085 unescaped; only "\n" ends a
    # line of JSONL. Windows line ends are read too.
    text = path.read_text().replace("blue mood", "blue\u2028mo\x85od")
    path.write_bytes(text.replace("\n", "\r\n").encode())
    ds, report = hateful_memes(path, image_size=SIZE)
    texts = [e["text"].decode() for e in ds.as_numpy_iterator()]
    assert texts == ["love red", "blue\u2028mo\x85od"]
    assert report.total == 2


def test_file_in_the_working_directory(tmp_path, monkeypatch):
    _fixtures.hateful_memes(tmp_path)
    monkeypatch.chdir(tmp_path)
    _, report = hateful_memes("dev.jsonl", image_size=SIZE)
    assert report.kept == 2
