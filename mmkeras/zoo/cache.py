"""Files of zoo entries: bundled, from installed packages, or downloaded
into the cache; every one checked against its manifest's sha256.

Bundled (`file:`) and package (`package:`) files are used where they lie.
Hosted files (`https:`, `http:`, `gs:`) download into
`<cache>/<name>/<version>/` through a temporary file that is renamed only
once its size and sha256 match, under a per-entry file lock, so two
processes loading one entry download it once and never see half a file.
"""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request

import filelock
import rich.progress

from mmkeras._packages import package_file
from mmkeras.zoo.errors import ChecksumError
from mmkeras.zoo.errors import DownloadError
from mmkeras.zoo.errors import OfflineError

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


def cache_dir():
    """`MMKERAS_CACHE`, default `~/.cache/mmkeras`."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "mmkeras")
    return os.environ.get("MMKERAS_CACHE") or default


def offline():
    return os.environ.get("MMKERAS_OFFLINE", "") not in ("", "0")


def entry_cache(manifest):
    return os.path.join(cache_dir(), manifest["name"], manifest["version"])


def resolve(manifest, entry_dir):
    """`{file name: local path}` for every file of the entry, fetching
    hosted ones into the cache; all verified."""
    paths = {}
    for entry in manifest["files"]:
        scheme, _, rest = entry["uri"].partition(":")
        if scheme == "file":
            path = os.path.join(entry_dir, rest)
            verify(path, entry)
        elif scheme == "package":
            module, _, relative = rest.partition("/")
            path = package_file(module, relative)
            verify(path, entry)
        else:
            path = _cached(manifest, entry)
        paths[entry["name"]] = path
    return paths


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path, entry):
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{entry['name']} of the zoo entry is missing at {path}"
        )
    actual = sha256(path)
    if actual != entry["sha256"]:
        raise ChecksumError(
            f"{path} ({entry['name']}) has sha256 {actual}, but the "
            f"manifest expects {entry['sha256']}: the file is corrupt or "
            "not the one the entry was made with"
        )


def _cached(manifest, entry):
    directory = entry_cache(manifest)
    path = os.path.join(directory, entry["name"])
    if os.path.isfile(path):
        verify(path, entry)
        return path
    if offline():
        raise OfflineError(
            f"{entry['name']} of {manifest['name']} is not in the cache "
            f"({path}) and MMKERAS_OFFLINE=1 forbids downloading it: run "
            f"`mmkeras zoo download {manifest['name']}` on a connected "
            f"machine and copy {directory} here, or unset MMKERAS_OFFLINE"
        )
    os.makedirs(directory, exist_ok=True)
    with filelock.FileLock(os.path.join(directory, ".lock")):
        # Another process may have finished it while we waited.
        if not os.path.isfile(path):
            _download(_url(entry["uri"]), path, entry)
    verify(path, entry)
    return path


def _url(uri):
    if uri.startswith("gs://"):
        return "https://storage.googleapis.com/" + uri[len("gs://") :]
    return uri


def _download(url, path, entry):
    """Downloads `url` to `path` through a temporary file in its folder."""
    directory = os.path.dirname(path)
    handle, partial = tempfile.mkstemp(
        prefix=f".{entry['name']}.", suffix=".part", dir=directory
    )
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as file, _progress() as progress:
            task = progress.add_task(entry["name"], total=entry["size"])
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as r:
                for chunk in iter(lambda: r.read(CHUNK), b""):
                    file.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    progress.update(task, advance=len(chunk))
        if size != entry["size"]:
            raise DownloadError(
                f"downloading {url} gave {size} bytes, expected "
                f"{entry['size']}: the connection dropped; try again"
            )
        if digest.hexdigest() != entry["sha256"]:
            raise ChecksumError(
                f"{url} ({entry['name']}) has sha256 {digest.hexdigest()}, "
                f"but the manifest expects {entry['sha256']}; nothing was "
                "written to the cache"
            )
        os.replace(partial, path)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"downloading {url} failed: {error}") from error
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _progress():
    return rich.progress.Progress(
        rich.progress.TextColumn("{task.description}"),
        rich.progress.BarColumn(),
        rich.progress.DownloadColumn(),
        rich.progress.TransferSpeedColumn(),
        transient=True,
    )
