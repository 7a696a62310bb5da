"""Atomic, world-readable writes: the one way mmkeras writes a file or a
folder that someone else may read while it is being made.

A file is written under a temporary name in its own folder and renamed
over the target, so a reader or a kill mid-write sees the old file or the
new one, never half of one. `tempfile` creates files 0600 and folders
0700; what is renamed into place gets the mode the user's umask gives a
plain `open` (0644 / 0755 under umask 022), so a server running as
another user can read exports, plots and zoo files.
"""

import contextlib
import json
import os
import tempfile


def _umask():
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def public_mode(directory=False):
    """The mode `open`/`os.mkdir` would give a new file (or folder)."""
    return (0o777 if directory else 0o666) & ~_umask()


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yields a temporary path next to `path`; when the block succeeds the
    file written there replaces `path`, otherwise it is removed.

    `suffix` matters to writers that check it (Keras wants `.keras`).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{name}.", suffix=suffix, dir=directory
    )
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.chmod(temporary, public_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_bytes(path, data):
    """Writes `data` to `path` atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        file.write(data)


def write_text(path, text):
    """Writes the UTF-8 `text` to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, value):
    """Writes `value` as indented JSON (ending in a newline) atomically."""
    write_text(path, json.dumps(value, indent=2) + "\n")


def staging_directory(parent, prefix):
    """A new, empty folder in `parent` with the mode `os.mkdir` would give
    it, to fill and then rename into place."""
    staging = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(staging, public_mode(directory=True))
    return staging
