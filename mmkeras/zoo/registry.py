"""The catalogue: which entries exist, where their folders are, their
manifests, and fetching their files (with the entries they require)."""

import difflib
import os

from mmkeras.zoo import cache
from mmkeras.zoo.errors import ManifestError
from mmkeras.zoo.errors import UnknownModelError
from mmkeras.zoo.errors import ZooError
from mmkeras.zoo.manifest import read_manifest

BUNDLED_CATALOGUE = os.path.join(os.path.dirname(__file__), "catalogue")


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
    """The names of every entry, sorted (a damaged one too: loading it
    says what is wrong; `list_entries` sorts them out)."""
    return sorted(_entries())


def list_entries():
    """Every entry's manifest, and what is wrong with those that cannot
    be read, so one damaged manifest hides no other entry.

    Returns:
        `(manifests, problems)`: `{name: manifest}` of the entries whose
        manifests are sound and `{name: error message}` of the others,
        both in name order.

    Example:

    >>> manifests, problems = mmkeras.zoo.list_entries()
    """
    manifests, problems = {}, {}
    for name, folder in sorted(_entries().items()):
        try:
            manifests[name] = read_manifest(folder)
        except ZooError as error:
            problems[name] = str(error)
    return manifests, problems


def entry_dir(name):
    """The folder of the entry `name`; an unknown name lists the closest."""
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
    return read_manifest(entry_dir(name))


def download(name):
    """Fetches and verifies every file of `name`, and of the entries it
    `requires`, downloading again any cached file whose sha256 is wrong;
    returns the paths of its own files."""
    return _resolve(name, (), repair=True)


def files(name):
    """The verified paths of the files of `name` by file name (and of the
    entries it `requires`); a damaged cached file is a `ChecksumError`
    naming the command that repairs it."""
    return _resolve(name, (), repair=False)


def _resolve(name, requiring, repair):
    if name in requiring:
        cycle = " -> ".join((*requiring, name))
        raise ManifestError(
            f"zoo entries require each other in a cycle ({cycle}); remove "
            "one of these names from a manifest's `requires`."
        )
    folder = entry_dir(name)
    manifest = read_manifest(folder)
    for required in manifest.get("requires", []):
        _resolve(required, (*requiring, name), repair)
    return cache.resolve(manifest, folder, repair)
