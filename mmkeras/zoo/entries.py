"""Writing zoo entries: files hashed, manifest and model card written from
the evaluation that made the entry (`mmkeras zoo make`, `mmkeras.zoo.make`)."""

import os
import shutil

from mmkeras import _files
from mmkeras.zoo import cache
from mmkeras.zoo.manifest import SCHEMA_VERSION
from mmkeras.zoo.manifest import check_manifest


def write_entry(catalogue_dir, manifest, files, notes=""):
    """Writes the entry folder `catalogue_dir/<manifest["name"]>/`.

    Args:
        catalogue_dir: the catalogue, e.g. the repository's `zoo/`.
        manifest: every manifest field but `files` and `schema_version`
            (see `zoo/README.md`).
        files: dicts with `"name"` and `"path"` (a local copy, hashed);
            with a `"uri"` the file is referenced (hosted or from a
            package), without one it is copied into the entry (`file:`).
        notes: Markdown for the model card's "Notes" section.

    Returns:
        The manifest written.
    """
    entries = [
        {
            "name": file["name"],
            "uri": file.get("uri", f"file:{file['name']}"),
            "sha256": cache.sha256(file["path"]),
            "size": os.path.getsize(file["path"]),
        }
        for file in files
    ]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        **manifest,
        "files": entries,
    }
    # Checked before anything is written: the name becomes a folder.
    check_manifest(manifest, f"the manifest of {manifest.get('name')!r}")
    name = manifest["name"]
    target = os.path.join(catalogue_dir, name)
    staging = _files.staging_directory(catalogue_dir, f".{name}.")
    try:
        for file in files:
            if "uri" not in file:
                shutil.copyfile(
                    file["path"], os.path.join(staging, file["name"])
                )
        _files.write_json(os.path.join(staging, "manifest.json"), manifest)
        _files.write_text(
            os.path.join(staging, "MODEL_CARD.md"), model_card(manifest, notes)
        )
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def model_card(manifest, notes=""):
    """The Markdown model card of a manifest."""
    lines = [
        f"# {manifest['name']} (version {manifest['version']})",
        "",
        manifest["description"],
        "",
        f"- Family: `{manifest['family']}`",
        f"- License: {manifest['license']}",
        f"- Source: {manifest['source']}",
        "",
        "## Evaluation",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in manifest["metrics"].items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        manifest["command"],
        "```",
        "",
        "## Files",
        "",
        "| file | bytes | sha256 | uri |",
        "|---|---|---|---|",
    ]
    for file in manifest["files"]:
        lines.append(
            f"| {file['name']} | {file['size']} | `{file['sha256']}` | "
            f"`{file['uri']}` |"
        )
    if "class_names" in manifest:
        labels = manifest["class_names"]
        lines += [
            "",
            "## Class names",
            "",
            f"`{labels['file']}`, one per line in class order (the loaded "
            "model's `class_names`).",
            "",
            f"- Source: {labels['source']}",
            f"- License: {labels['license']}",
        ]
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"


def model_cards_page(catalogue_dir):
    """Every entry's `MODEL_CARD.md` in name order as one Markdown page,
    each card's headings one level down: the docs' model-cards page
    (`mmkeras zoo make` and `mmkeras zoo cards` rewrite
    `docs/model-cards.md` with it).
    """
    names = sorted(
        name
        for name in os.listdir(catalogue_dir)
        if os.path.isfile(os.path.join(catalogue_dir, name, "MODEL_CARD.md"))
    )
    parts = [
        "# Model cards\n\nWritten by `mmkeras zoo make` from the "
        "evaluation run of each entry (`mmkeras zoo cards` rewrites this "
        "page); the same cards are `zoo/<name>/MODEL_CARD.md`.\n"
    ]
    for name in names:
        path = os.path.join(catalogue_dir, name, "MODEL_CARD.md")
        with open(path, encoding="utf-8") as file:
            card = file.read()
        parts.append(_demote_headings(card))
    return "\n".join(parts)


def _demote_headings(markdown):
    lines, fenced = [], False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        heading = line.startswith("#") and not fenced
        lines.append(f"#{line}" if heading else line)
    return "\n".join(lines) + "\n"
