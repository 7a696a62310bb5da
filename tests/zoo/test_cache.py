"""Derived files in the cache (made from an entry's files, such as
MiniLM's converted weights): hashed when made, verified on every use,
and made again, with a warning naming the file, when they differ."""

import os
import tempfile

import pytest

from mmkeras.zoo import cache

SOURCE = {"name": "source.bin", "uri": "file:source.bin", "size": 1}
MANIFEST = {
    "name": "derived.tiny",
    "version": "1",
    "files": [{**SOURCE, "sha256": "0" * 64}],
}


@pytest.fixture()
def made(tmp_path, monkeypatch):
    """`derived()` makes (or checks) `out.bin`; `made` lists the calls."""
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path))
    calls = []

    def make(path):
        calls.append(path)
        with open(path, "wb") as file:
            file.write(b"derived bytes")

    def derived(manifest=MANIFEST):
        return cache.derived_file(manifest, "out.bin", ["source.bin"], make)

    return derived, calls


def _flip(path):
    data = bytearray(open(path, "rb").read())
    data[0] ^= 1
    with open(path, "wb") as file:
        file.write(bytes(data))


def test_a_derived_file_is_made_once_then_verified(made, tmp_path):
    derived, calls = made
    path = derived()
    assert path == str(tmp_path / "derived.tiny" / "derived" / "1" / "out.bin")
    assert open(path, "rb").read() == b"derived bytes"
    assert derived() == path and len(calls) == 1
    # Readable by everyone, as a plain `open` would make it.
    (tmp_path / "plain").write_bytes(b"")
    assert os.stat(path).st_mode == (tmp_path / "plain").stat().st_mode


@pytest.mark.parametrize(
    "damage, problem",
    [
        (_flip, "has sha256 "),
        (lambda path: os.remove(f"{path}.sha256.json"), "has no readable"),
        (lambda path: _flip(f"{path}.sha256.json"), "has no readable"),
    ],
    ids=["flipped-byte", "no-record", "bad-record"],
)
def test_a_changed_derived_file_is_made_again_with_a_warning(
    made, caplog, damage, problem
):
    derived, calls = made
    path = derived()
    damage(path)
    with caplog.at_level("WARNING", logger="mmkeras.zoo"):
        assert derived() == path
    (message,) = caplog.messages
    assert message.startswith(f"{path} {problem}")
    assert message.endswith("; making it again")
    assert len(calls) == 2 and open(path, "rb").read() == b"derived bytes"


def test_other_source_files_make_it_again(made, caplog):
    derived, calls = made
    path = derived()
    other = {**MANIFEST, "files": [{**SOURCE, "sha256": "1" * 64}]}
    with caplog.at_level("WARNING", logger="mmkeras.zoo"):
        derived(other)
    assert caplog.messages == [
        f"{path} was made from other files; making it again"
    ]
    assert len(calls) == 2


def test_a_killed_make_leaves_nothing_for_long(made, tmp_path):
    derived, calls = made
    slot = tmp_path / "derived.tiny" / "derived" / "1"
    slot.mkdir(parents=True)
    # What a process killed while making it leaves.
    handle, _ = tempfile.mkstemp(prefix=".out.bin.", suffix=".part", dir=slot)
    os.close(handle)
    derived()
    assert sorted(os.listdir(slot)) == [
        ".lock",
        "out.bin",
        "out.bin.sha256.json",
    ]
