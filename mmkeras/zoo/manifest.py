"""The manifest of a zoo entry: `zoo/<name>/manifest.json` (schema in
`zoo/README.md`), read and checked."""

import json
import os
import re

from mmkeras.zoo.errors import ManifestError

REQUIRED = (
    "name",
    "version",
    "family",
    "description",
    "files",
    "metrics",
    "license",
    "source",
    "command",
)
FILE_FIELDS = ("name", "uri", "sha256", "size")
URI_SCHEMES = ("file", "package", "https", "http", "gs")
NAME_PATTERN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def read_manifest(entry_dir):
    """The checked manifest of the entry folder `entry_dir`."""
    path = os.path.join(entry_dir, "manifest.json")
    try:
        with open(path, encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise ManifestError(
            f"{path} is not a readable manifest: {error}"
        ) from None
    check_manifest(manifest, path)
    if manifest["name"] != os.path.basename(os.path.normpath(entry_dir)):
        raise ManifestError(
            f"{path} names the entry {manifest['name']!r} but lies in the "
            "folder of another name; folder and name must agree"
        )
    return manifest


def check_manifest(manifest, where="manifest"):
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise ManifestError(f"{where} lacks the fields {missing}")
    if not NAME_PATTERN.match(manifest["name"]):
        raise ManifestError(
            f"{where}: name must be <arch>.<tag> in lower case, digits and "
            f"underscores. Received: name={manifest['name']!r}"
        )
    if not isinstance(manifest["files"], list) or not manifest["files"]:
        raise ManifestError(f"{where}: files must be a non-empty list")
    for entry in manifest["files"]:
        missing = [key for key in FILE_FIELDS if key not in entry]
        if missing:
            raise ManifestError(f"{where}: a file entry lacks {missing}")
        scheme = entry["uri"].split(":", 1)[0]
        if ":" not in entry["uri"] or scheme not in URI_SCHEMES:
            raise ManifestError(
                f"{where}: the uri of {entry['name']!r} must start with one "
                f"of {', '.join(s + ':' for s in URI_SCHEMES)}. Received: "
                f"{entry['uri']!r}"
            )
        if not SHA256_PATTERN.match(entry["sha256"]):
            raise ManifestError(
                f"{where}: the sha256 of {entry['name']!r} must be 64 "
                f"lower-case hex digits. Received: {entry['sha256']!r}"
            )
        if os.path.basename(entry["name"]) != entry["name"]:
            raise ManifestError(
                f"{where}: file names are plain names, not paths. "
                f"Received: {entry['name']!r}"
            )
