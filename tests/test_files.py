"""mmkeras._files: atomic writes that others can read."""

import os
import stat

import pytest

from mmkeras import _files


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_files_and_folders_get_the_umask_mode(tmp_path, umask_022):
    _files.write_json(tmp_path / "a.json", {"x": 1})
    assert _mode(tmp_path / "a.json") == 0o644
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1\n}\n'
    staging = _files.staging_directory(tmp_path, ".s.")
    assert _mode(staging) == 0o755


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with _files.atomic_path(target, suffix=".keras") as temporary:
            assert temporary.endswith(".keras")
            with open(temporary, "wb") as file:
                file.write(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_successful_write_replaces_the_file(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    _files.write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert os.listdir(tmp_path) == ["x.txt"]
