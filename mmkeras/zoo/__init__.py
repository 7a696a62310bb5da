"""Pretrained models: `mmkeras.zoo.load("name")`, offline, verified, cached.

    mmkeras.zoo.list_models()            # names, <arch>.<tag>
    mmkeras.zoo.info("efficientnet_lite0.imagenet")   # the manifest
    model = mmkeras.zoo.load("efficientnet_lite0.imagenet")

The catalogue is the folder `zoo/` of the repository, shipped inside the
package (`mmkeras/zoo/catalogue`); `MMKERAS_ZOO_CATALOGUE` (folders
separated by `os.pathsep`) adds catalogues searched first. Files are
checked against their sha256 and hosted ones cached in `MMKERAS_CACHE`
(default `~/.cache/mmkeras`); `MMKERAS_OFFLINE=1` never downloads.
"""

import difflib
import importlib
import os

import keras

from mmkeras.zoo import cache
from mmkeras.zoo.entries import write_entry
from mmkeras.zoo.errors import ChecksumError
from mmkeras.zoo.errors import DownloadError
from mmkeras.zoo.errors import ManifestError
from mmkeras.zoo.errors import OfflineError
from mmkeras.zoo.errors import UnknownModelError
from mmkeras.zoo.errors import ZooError
from mmkeras.zoo.golden import golden_difference
from mmkeras.zoo.golden import golden_tolerance
from mmkeras.zoo.manifest import read_manifest

BUNDLED_CATALOGUE = os.path.join(os.path.dirname(__file__), "catalogue")

__all__ = [
    "ChecksumError",
    "DownloadError",
    "ManifestError",
    "OfflineError",
    "UnknownModelError",
    "ZooError",
    "download",
    "golden_difference",
    "golden_tolerance",
    "info",
    "list_models",
    "load",
    "write_entry",
]


def catalogues():
    """The catalogue folders, searched in order."""
    extra = os.environ.get("MMKERAS_ZOO_CATALOGUE", "")
    return [path for path in extra.split(os.pathsep) if path] + [
        BUNDLED_CATALOGUE
    ]


def _entries():
    found = {}
    for catalogue in catalogues():
        if not os.path.isdir(catalogue):
            continue
        for name in sorted(os.listdir(catalogue)):
            path = os.path.join(catalogue, name)
            if os.path.isfile(os.path.join(path, "manifest.json")):
                found.setdefault(name, path)
    return found


def list_models():
    """The names of every entry, sorted."""
    return sorted(_entries())


def _entry_dir(name):
    entries = _entries()
    if name not in entries:
        close = difflib.get_close_matches(str(name), entries, n=5, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"No zoo entry named {name!r}.{hint} `mmkeras zoo list` shows "
            "them all."
        )
    return entries[name]


def info(name):
    """The manifest of `name` (see `zoo/README.md`)."""
    return read_manifest(_entry_dir(name))


def download(name):
    """Fetches and verifies every file of `name`, and of the entries it
    `requires`; returns the paths of its own files."""
    return _download(name, ())


def _download(name, requiring):
    if name in requiring:
        cycle = " -> ".join((*requiring, name))
        raise ManifestError(
            f"zoo entries require each other in a cycle ({cycle}); remove "
            "one of these names from a manifest's `requires`."
        )
    entry_dir = _entry_dir(name)
    manifest = read_manifest(entry_dir)
    for required in manifest.get("requires", []):
        _download(required, (*requiring, name))
    return cache.resolve(manifest, entry_dir)


def load(name):
    """The model of the entry `name`, its files verified first.

    Entries with a `loader` are built by it (e.g. converted from a
    package's weights); others are one `.keras` file, loaded with
    `safe_mode=True`.
    """
    entry_dir = _entry_dir(name)
    manifest = read_manifest(entry_dir)
    files = cache.resolve(manifest, entry_dir)
    if "loader" in manifest:
        module, _, function = manifest["loader"].rpartition(".")
        return getattr(importlib.import_module(module), function)(
            files, manifest
        )
    (path,) = [p for n, p in files.items() if n.endswith(".keras")]
    return keras.saving.load_model(path, safe_mode=True)
