"""Files of zoo entries: bundled, from installed packages, downloaded
into the cache, or derived from those; every one checked by sha256.

Bundled (`file:`) and package (`package:`) files are used where they lie.
Hosted files (`https:`, `http:`, `gs:`) download into the entry's cache
slot `<cache>/<name>/<version>/` through a temporary `.part` file that
is renamed only once its size and sha256 match, under the slot's file
lock, so two processes loading one entry download it once and never see
half a file. Files computed from an entry's files (MiniLM's converted
weights) go to `<cache>/<name>/derived/<version>/` with a record of their
sha256, are verified on every load and made again when they differ.
"""

import glob
import hashlib
import http.client
import json
import logging
import os
import urllib.error
import urllib.request

import filelock
import rich.progress

from mmkeras import _files
from mmkeras._packages import package_file
from mmkeras.zoo.errors import ChecksumError
from mmkeras.zoo.errors import DownloadError
from mmkeras.zoo.errors import OfflineError
from mmkeras.zoo.errors import ZooError
from mmkeras.zoo.manifest import plain_component

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60
logger = logging.getLogger("mmkeras.zoo")


def cache_dir():
    """`MMKERAS_CACHE`, default `~/.cache/mmkeras`."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "mmkeras")
    return os.environ.get("MMKERAS_CACHE") or default


def offline():
    return os.environ.get("MMKERAS_OFFLINE", "") not in ("", "0")


def entry_cache(manifest):
    """The entry's cache slot, `<cache>/<name>/<version>/`."""
    return _slot(manifest)


def derived_cache(manifest):
    """Where the entry's derived files go: `<cache>/<name>/derived/
    <version>/` (a version starts with a digit, so never `derived`)."""
    return _slot(manifest, "derived")


def _slot(manifest, *middle):
    name, version = manifest["name"], manifest["version"]
    where = f"the manifest of {name!r}"
    return os.path.join(
        cache_dir(),
        plain_component(name, where, "name"),
        *middle,
        plain_component(version, where, "version"),
    )


def resolve(manifest, entry_dir, repair=False):
    """`{file name: local path}` for every file of the entry, fetching
    hosted ones into the cache; all verified.

    Args:
        manifest: the entry's checked manifest.
        entry_dir: the entry's folder (bundled files lie there).
        repair: download again a cached file whose sha256 is wrong
            (`mmkeras zoo download`); otherwise that is a `ChecksumError`
            that gives the command.
    """
    paths = {}
    for entry in manifest["files"]:
        scheme, _, rest = entry["uri"].partition(":")
        if scheme == "file":
            where = f"{entry_dir}/manifest.json"
            path = os.path.join(entry_dir, plain_component(rest, where, "uri"))
            verify(path, entry, _BUNDLED_FIX)
        elif scheme == "package":
            module, _, relative = rest.partition("/")
            path = package_file(module, relative)
            verify(path, entry, _package_fix(module))
        else:
            path = _cached(manifest, entry, repair)
        paths[entry["name"]] = path
    return paths


_BUNDLED_FIX = (
    "the entry's bundled file is damaged: reinstall mmkeras (`pip install "
    "--force-reinstall mmkeras`), or in a repository checkout restore it "
    "with `git checkout -- <path>`"
)


def _package_fix(module):
    distribution = module.replace("_", "-")
    return (
        "the installed package's file is damaged: reinstall it with "
        f"`pip install --no-deps --force-reinstall {distribution}`"
    )


def _download_fix(manifest):
    return f"`mmkeras zoo download {manifest['name']}` fetches it again"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path, entry, fix):
    """Raises unless `path` holds the file `entry` (of a manifest)
    describes; `fix` says how to repair it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{entry['name']} of the zoo entry is missing at {path}: {fix}"
        )
    actual = sha256(path)
    if actual != entry["sha256"]:
        raise ChecksumError(
            f"{path} ({entry['name']}) has sha256 {actual}, but the "
            f"manifest expects {entry['sha256']}: the file is corrupt or "
            f"not the one the entry was made with; {fix}"
        )


def _cached(manifest, entry, repair):
    directory = entry_cache(manifest)
    path = os.path.join(directory, entry["name"])
    fix = _download_fix(manifest)
    present = os.path.isfile(path)
    if present and not repair:
        verify(path, entry, fix)
        return path
    if present and sha256(path) == entry["sha256"]:
        return path
    if offline():
        state = "is corrupt in" if present else "is not in"
        raise OfflineError(
            f"{entry['name']} of {manifest['name']} {state} the cache "
            f"({path}) and MMKERAS_OFFLINE=1 forbids downloading it: run "
            f"`mmkeras zoo download {manifest['name']}` on a connected "
            f"machine and copy {directory} here, or unset MMKERAS_OFFLINE"
        )
    os.makedirs(directory, exist_ok=True)
    with filelock.FileLock(os.path.join(directory, ".lock")):
        _remove_partials(directory)
        # Another process may have finished it while we waited.
        if not os.path.isfile(path) or sha256(path) != entry["sha256"]:
            if os.path.isfile(path):
                logger.warning(
                    "%s has the wrong sha256; downloading it again", path
                )
            _download(_url(entry["uri"]), path, entry)
    verify(path, entry, fix)
    return path


def _remove_partials(directory):
    # Called holding the folder's lock, so no write into it is running:
    # a `.part` file is left from a process that was killed.
    for partial in glob.glob(os.path.join(directory, ".*.part")):
        os.remove(partial)


def _url(uri):
    if uri.startswith("gs://"):
        return "https://storage.googleapis.com/" + uri[len("gs://") :]
    return uri


def _download(url, path, entry):
    """Downloads `url` to `path` through a `.part` file in its folder."""
    try:
        with _files.atomic_path(path, suffix=".part") as partial:
            size, digest = _fetch(url, partial, entry)
            if size != entry["size"]:
                raise DownloadError(
                    f"downloading {url} gave {size} bytes, expected "
                    f"{entry['size']}: the connection dropped; try again"
                )
            if digest != entry["sha256"]:
                raise ChecksumError(
                    f"{url} ({entry['name']}) has sha256 {digest}, but the "
                    f"manifest expects {entry['sha256']}; nothing was "
                    "written to the cache"
                )
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        if isinstance(error, ZooError):
            raise
        raise DownloadError(f"downloading {url} failed: {error}") from error


def _fetch(url, path, entry):
    digest, size = hashlib.sha256(), 0
    with open(path, "wb") as file, _progress() as progress:
        task = progress.add_task(entry["name"], total=entry["size"])
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                progress.update(task, advance=len(chunk))
    return size, digest.hexdigest()


def _progress():
    return rich.progress.Progress(
        rich.progress.TextColumn("{task.description}"),
        rich.progress.BarColumn(),
        rich.progress.DownloadColumn(),
        rich.progress.TransferSpeedColumn(),
        transient=True,
    )


def derived_file(manifest, name, sources, make):
    """The path of the derived file `name` of an entry, made by
    `make(path)` (which writes the file at `path`) from the entry's files
    `sources` (their names), checked against the sha256 recorded when it
    was made; a file that differs (or has no record) is made again, with a
    warning naming it.
    """
    directory = derived_cache(manifest)
    where = f"the derived files of {manifest['name']!r}"
    path = os.path.join(directory, plain_component(name, where, "name"))
    by_name = {file["name"]: file["sha256"] for file in manifest["files"]}
    origin = {source: by_name[source] for source in sources}
    os.makedirs(directory, exist_ok=True)
    with filelock.FileLock(os.path.join(directory, ".lock")):
        _remove_partials(directory)
        problem = _derived_problem(path, origin)
        if problem is None:
            return path
        if os.path.exists(path):
            logger.warning("%s %s; making it again", path, problem)
        with _files.atomic_path(path, suffix=".part") as partial:
            make(partial)
        _files.write_json(
            _record_path(path),
            {"sha256": sha256(path), "sources": origin},
        )
    return path


def _record_path(path):
    return f"{path}.sha256.json"


def _derived_problem(path, origin):
    """Why the derived file at `path` cannot be used, or None."""
    if not os.path.isfile(path):
        return "is missing"
    try:
        with open(_record_path(path), encoding="utf-8") as file:
            record = json.load(file)
        expected = record["sha256"]
        recorded_origin = record["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "has no readable record of its sha256"
    if recorded_origin != origin:
        return "was made from other files"
    actual = sha256(path)
    if actual != expected:
        return f"has sha256 {actual}, but {expected} was recorded"
    return None
