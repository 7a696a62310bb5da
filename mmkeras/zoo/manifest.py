"""The manifest of a zoo entry: `zoo/<name>/manifest.json`, read and
checked against one table of fields (`MANIFEST`, documented in
`zoo/README.md`).

Every value that becomes part of a path (the name, the version, file
names, `file:` and `package:` URIs) must be a plain path component (or,
inside a package, components joined by `/`), so an entry reads only its
own folder and package files and writes only its own cache slot.
Unknown fields are refused: a newer mmkeras that adds fields writes a
higher `schema_version`, which this one refuses by name. A manifest
without `schema_version` (written before the field existed) is read as
version 1.
"""

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Callable

from mmkeras.zoo.errors import ManifestError

SCHEMA_VERSION = 1
URI_SCHEMES = ("file", "package", "https", "http", "gs")
NAME_PATTERN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
# One path component: no separator, no leading dot (so never `.`, `..`,
# nor the cache's own `.lock` and `.*.part` files), no control character.
COMPONENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
VERSION_PATTERN = re.compile(r"^[0-9][A-Za-z0-9._-]{0,63}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODULE_PATTERN = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$", re.ASCII)
LOADER_PATTERN = re.compile(r"^mmkeras\.zoo\.loaders\.[a-z][a-z0-9_]*$")
URL_PATTERN = re.compile(r"^(https?|gs)://[^/\s]+/\S+$")


def _matches(pattern, rule):
    def check(value):
        return None if pattern.match(value) else rule

    return check


def _uri(uri):
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme not in URI_SCHEMES:
        return "must start with one of " + ", ".join(
            scheme + ":" for scheme in URI_SCHEMES
        )
    if scheme == "file" and not COMPONENT_PATTERN.match(rest):
        return (
            "must be file:<file name>, a file in the entry's own folder (no "
            "folder, `..` or absolute path)"
        )
    if scheme == "package":
        module, _, relative = rest.partition("/")
        parts = relative.split("/")
        if not MODULE_PATTERN.match(module) or not all(
            COMPONENT_PATTERN.match(part) for part in parts
        ):
            return (
                "must be package:<module>/<path inside it>, with no `..`, "
                "empty or absolute part"
            )
    if scheme in ("https", "http", "gs") and not URL_PATTERN.match(uri):
        return f"must be {scheme}://<host>/<path>, without spaces"
    return None


def _schema_version(version):
    if version < 1:
        return "must be 1 or more"
    if version > SCHEMA_VERSION:
        return (
            f"is newer than this mmkeras reads (up to {SCHEMA_VERSION}): "
            "upgrade mmkeras (`pip install --upgrade mmkeras`)"
        )
    return None


@dataclasses.dataclass(frozen=True)
class Field:
    """One manifest field: its JSON type, whether it must be there, a
    check of its value (an error text or None), and for objects and
    lists the fields or the items inside."""

    type: str
    required: bool = True
    check: Callable | None = None
    fields: dict | None = None
    items: "Field | None" = None


# The JSON types: the Python type and how an error names it.
TYPES = {
    "string": (str, "a string"),
    "integer": (int, "an integer"),
    "object": (dict, "an object"),
    "list": (list, "a list"),
}

ENTRY_NAME = _matches(
    NAME_PATTERN, "must be <arch>.<tag>: lower case, digits, _"
)
PLAIN_NAME = _matches(
    COMPONENT_PATTERN,
    "must be a plain file name: letters, digits, `.`, `_`, `-`, starting "
    "with a letter or digit (no folder, `..` or absolute path)",
)
FILE = {
    "name": Field("string", check=PLAIN_NAME),
    "uri": Field("string", check=_uri),
    "sha256": Field(
        "string",
        check=_matches(SHA256_PATTERN, "must be 64 lower-case hex digits"),
    ),
    "size": Field(
        "integer", check=lambda size: "must be >= 0" if size < 0 else None
    ),
}
MANIFEST = {
    "schema_version": Field("integer", required=False, check=_schema_version),
    "name": Field("string", check=ENTRY_NAME),
    "version": Field(
        "string",
        check=_matches(
            VERSION_PATTERN,
            "must start with a digit and hold only letters, digits, `.`, "
            "`_`, `-` (it names the cache folder)",
        ),
    ),
    "family": Field(
        "string",
        check=_matches(IDENTIFIER_PATTERN, "must be a class name"),
    ),
    "description": Field("string"),
    "files": Field(
        "list",
        check=lambda files: None if files else "must list at least one file",
        items=Field("object", fields=FILE),
    ),
    "metrics": Field("object"),
    "license": Field("string"),
    "source": Field("string"),
    "command": Field("string"),
    "loader": Field(
        "string",
        required=False,
        check=_matches(
            LOADER_PATTERN, "must be a function of mmkeras.zoo.loaders"
        ),
    ),
    "architecture": Field("object", required=False),
    "requires": Field(
        "list", required=False, items=Field("string", check=ENTRY_NAME)
    ),
    "evaluation": Field(
        "object",
        required=False,
        fields={"evaluator": Field("object"), "data": Field("object")},
    ),
    "class_names": Field(
        "object",
        required=False,
        fields={
            "file": Field("string", check=PLAIN_NAME),
            "source": Field("string"),
            "license": Field("string"),
        },
    ),
}


def read_manifest(entry_dir):
    """The checked manifest of the entry folder `entry_dir`."""
    path = os.path.join(entry_dir, "manifest.json")
    try:
        with open(path, encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
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
    """Raises `ManifestError` naming `where` (the manifest's path) and the
    field when `manifest` does not follow `MANIFEST`."""
    if not isinstance(manifest, dict):
        _fail(where, "the manifest", "must be a JSON object", manifest)
    # First, so a newer manifest's new fields are refused as newer.
    version = manifest.get("schema_version", SCHEMA_VERSION)
    _check_value(version, MANIFEST["schema_version"], "schema_version", where)
    _check_fields(manifest, MANIFEST, "", where)
    names = [file["name"] for file in manifest["files"]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        _fail(where, "files", f"names {repeated[0]!r} twice", names)
    if "class_names" in manifest and manifest["class_names"]["file"] not in (
        names
    ):
        _fail(
            where,
            "class_names.file",
            "must be one of the entry's files",
            manifest["class_names"]["file"],
        )
    models = [name for name in names if name.endswith(".keras")]
    if "loader" not in manifest and len(models) != 1:
        _fail(
            where,
            "files",
            "must hold exactly one .keras file when there is no loader",
            names,
        )


def plain_component(value, where, field):
    """`value` when it is one plain path component, else `ManifestError`:
    the check every path built from a manifest goes through again."""
    if not isinstance(value, str) or not COMPONENT_PATTERN.match(value):
        _fail(where, field, "must be a plain path component", value)
    return value


def _check_fields(value, fields, prefix, where):
    missing = [
        prefix + key
        for key, field in fields.items()
        if field.required and key not in value
    ]
    if missing:
        raise ManifestError(f"{where} lacks the fields {missing}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        _fail(
            where,
            prefix + unknown[0],
            "is not a field of manifest schema version "
            f"{SCHEMA_VERSION} (misspelt, or written by a newer mmkeras "
            f"without raising schema_version): {hint}The fields are "
            + ", ".join(fields),
            value[unknown[0]],
        )
    for key, field in fields.items():
        if key in value:
            _check_value(value[key], field, prefix + key, where)


def _check_value(value, field, path, where):
    kind, described = TYPES[field.type]
    # JSON's true/false are Python ints too, but no integer field's value.
    if not isinstance(value, kind) or isinstance(value, bool):
        _fail(where, path, f"must be {described}", value)
    if field.fields is not None:
        _check_fields(value, field.fields, path + ".", where)
    if field.items is not None:
        for index, item in enumerate(value):
            _check_value(item, field.items, f"{path}[{index}]", where)
    problem = field.check and field.check(value)
    if problem:
        _fail(where, path, problem, value)


def _fail(where, field, problem, value):
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise ManifestError(
        f"{where}: {field} {problem}. Received: {shown} "
        f"({type(value).__name__})"
    )
