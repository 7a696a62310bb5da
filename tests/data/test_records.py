"""What every file reader does alike (`mmkeras.data._records`): files that
are not UTF-8, a wrong images_dir, nothing left to read. Each reader runs
on its tiny fixture files."""

import collections
import json

import pytest

from mmkeras.data._records import DataError
from mmkeras.data.coco import coco_captions
from mmkeras.data.hateful_memes import hateful_memes
from mmkeras.data.karpathy import karpathy_captions
from mmkeras.data.vqa_v2 import vqa_v2
from tests.data import _fixtures

SIZE = _fixtures.SIZE
# A reader on its fixture: the file, its images, a text in the file, the
# key of its records and how many, and `read(path, images_dir, **kwargs)`.
Setup = collections.namedtuple("Setup", "path images_dir text key count read")


def _coco(tmp):
    path, images_dir = _fixtures.coco_captions(tmp)
    return Setup(
        path, images_dir, "Blue all over.", "annotations", 3, coco_captions
    )


def _vqa(tmp):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp)

    def read(path, images_dir, **kwargs):
        return vqa_v2(path, annotations, images_dir, **kwargs)

    return Setup(questions, images_dir, "Is it blue?", "questions", 2, read)


def _karpathy(tmp):
    path, images_dir = _fixtures.karpathy(tmp)

    def read(path, images_dir, **kwargs):
        return karpathy_captions(path, images_dir, "test", **kwargs)

    return Setup(path, images_dir, "Red, all red.", "images", 1, read)


def _hateful_memes(tmp):
    path = _fixtures.hateful_memes(tmp)
    return Setup(path, tmp, "blue mood", None, 2, hateful_memes)


READERS = {
    "coco": _coco,
    "vqa_v2": _vqa,
    "karpathy": _karpathy,
    "hateful_memes": _hateful_memes,
}


@pytest.mark.parametrize("reader", READERS)
def test_every_image_missing_is_an_error(tmp_path, reader):
    path, _, _, _, count, read = READERS[reader](tmp_path)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(DataError) as error:
        read(path, tmp_path / "elsewhere", on_error="skip")
    message = str(error.value)
    assert f"{path.name}: skipped {count} of {count} " in message
    assert f": {count} missing image (first missing image:" in message
    assert "Every record was skipped, so the dataset would be empty" in message
    assert f"Check images_dir: '{tmp_path / 'elsewhere'}' holds none" in (
        message
    )


@pytest.mark.parametrize("reader", READERS)
def test_images_dir_that_does_not_exist(tmp_path, reader):
    path, *_, read = READERS[reader](tmp_path)
    nowhere = tmp_path / "nowhere"
    with pytest.raises(DataError, match=f"images_dir '{nowhere}' does not"):
        read(path, nowhere, on_error="skip")
    with pytest.raises(DataError, match="images_dir .* is a file"):
        read(path, path, on_error="skip")


@pytest.mark.parametrize("reader", READERS)
def test_not_utf8_names_file_and_line(tmp_path, reader):
    path, images_dir, text, *_, read = READERS[reader](tmp_path)
    data = path.read_text()
    assert text in data
    # The text re-encoded as Latin-1, on the third line of the file.
    data = "\n\n" + data.replace(text, "caf\xe9")
    path.write_bytes(data.encode("latin-1"))
    if reader == "hateful_memes":
        match = (
            r"dev.jsonl, line 4: not UTF-8 text \(the byte "
            r"b'\\xe9' at byte \d+ of the line\)"
        )
    else:
        match = (
            rf"{path.name} is not UTF-8 text: line 3 has the byte b'\\xe9' "
            r"at byte \d+ of the line \(invalid continuation byte\). "
            "Convert the file to UTF-8"
        )
    with pytest.raises(DataError, match=match):
        read(path, images_dir, image_size=SIZE)


@pytest.mark.parametrize(
    "reader, unit", [("coco", "captions"), ("vqa_v2", "questions")]
)
def test_file_without_records(tmp_path, reader, unit):
    path, images_dir, _, key, _, read = READERS[reader](tmp_path)
    data = json.loads(path.read_text())
    data[key] = []
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=f"{path.name} has no {unit}. Pass"):
        read(path, images_dir, on_error="skip")


def test_blank_jsonl_file(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="test.jsonl has no lines"):
        hateful_memes(path)


def test_byte_order_mark_is_read(tmp_path):
    path, images_dir, *_, read = READERS["coco"](tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _, report = read(path, images_dir, image_size=SIZE)
    assert (report.total, report.kept) == (3, 3)
