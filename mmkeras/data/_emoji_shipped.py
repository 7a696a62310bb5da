"""The compact emoji copy shipped in `mmkeras/data/emoji/`: `concepts.json`
(the text of every concept), one stored (uncompressed: PNG is compressed
already) zip of 64 px PNGs per style, licences, and `manifest.json` with
the sha256 and size of every other file, checked on every read.
`tools/build_emoji_data.py` writes it with `write`, byte for byte the same
on every run.
"""

import functools
import hashlib
import io
import json
import os
import zipfile

from mmkeras.data import _records

DIRECTORY = os.path.join(os.path.dirname(__file__), "emoji")
MANIFEST = "manifest.json"
CONCEPTS = "concepts.json"
FORMAT = 1
# Zip entries carry a time stamp: a fixed one keeps rebuilds identical.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_REBUILD = (
    "Reinstall mmkeras, or rebuild the copy with "
    "`python tools/build_emoji_data.py --source NODE_MODULES`."
)


def is_shipped(directory):
    return os.path.isfile(os.path.join(directory, MANIFEST))


def manifest(directory):
    path = os.path.join(directory, MANIFEST)
    data = _records.parse_json(_records.read_text(path), f"{path} is not valid")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _records.DataError(
            f"{path} is not an emoji manifest of format {FORMAT}. {_REBUILD}"
        )
    return data


def read(directory, styles):
    """`(concept, style, png)` triples of `styles` (all verified)."""
    files = manifest(directory)
    concepts = json.loads(_verified(directory, CONCEPTS, files))
    triples = []
    for style in styles:
        data = _verified(directory, files["styles"][style], files)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            for concept in concepts:
                name = concept["unified"] + ".png"
                if name in names:
                    triples.append((concept, style, archive.read(name)))
    return triples


def write(directory, triples, extra_files=()):
    """Writes the copy of `(concept, style, png)` triples into `directory`;
    `extra_files` (names already there, e.g. licences) join the
    manifest."""
    os.makedirs(directory, exist_ok=True)
    concepts = {c["unified"]: c for c, _, _ in triples}
    outputs = {CONCEPTS: _dumps([concepts[k] for k in sorted(concepts)])}
    styles = {}
    for style in sorted({s for _, s, _ in triples}):
        styles[style] = f"{style}.zip"
        images = {c["unified"]: png for c, s, png in triples if s == style}
        outputs[styles[style]] = _zip(images)
    for name, data in outputs.items():
        with open(os.path.join(directory, name), "wb") as file:
            file.write(data)
    for name in extra_files:
        with open(os.path.join(directory, name), "rb") as file:
            outputs[name] = file.read()
    entries = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in sorted(outputs.items())
    }
    document = {"files": entries, "format": FORMAT, "styles": styles}
    with open(os.path.join(directory, MANIFEST), "wb") as file:
        file.write(json.dumps(document, indent=2, sort_keys=True).encode())
        file.write(b"\n")


def _verified(directory, name, files):
    path = os.path.join(directory, name)
    entry = files["files"].get(name)
    if entry is None:
        raise _records.DataError(
            f"{os.path.join(directory, MANIFEST)} lists no {name!r}. {_REBUILD}"
        )
    if not os.path.isfile(path):
        raise _records.DataError(f"{path} is missing. {_REBUILD}")
    stat = os.stat(path)
    return _check(
        path, stat.st_mtime_ns, entry.get("sha256"), entry.get("size")
    )


@functools.lru_cache(maxsize=8)
def _check(path, mtime_ns, sha256, size):
    """The bytes of `path` if they match `sha256` and `size`; cached by
    modification time, so each shipped file is hashed once per process."""
    del mtime_ns  # only the cache key
    with open(path, "rb") as file:
        data = file.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256 or len(data) != size:
        raise _records.DataError(
            f"{path} is corrupt: its sha256 is {actual} ({len(data)} bytes) "
            f"but the manifest expects {sha256} ({size} bytes). {_REBUILD}"
        )
    return data


def _dumps(value):
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _zip(images):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for unified in sorted(images):
            info = zipfile.ZipInfo(unified + ".png", _EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, images[unified])
    return out.getvalue()
