"""Rebuilds the emoji copy shipped in mmkeras/data/emoji/ from npm packages.

    npm install emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0 \
        @lobehub/fluent-emoji-3d@1.1.0 emojibase-data@17.0.0
    python tools/build_emoji_data.py --source node_modules

The same packages give the same bytes on every run (sorted JSON, zips with
fixed time stamps; Google and Twitter PNGs are copied as they are, Fluent's
256 px WebP become 64 px PNGs through `_emoji_source.normalize_png`).
ATTRIBUTION.md and LICENSES/ are kept as they are and join the manifest.
`--check` rebuilds into a temporary directory and fails unless every file
equals the shipped one.
"""

import argparse
import filecmp
import os
import shutil
import sys
import tempfile

from mmkeras.data import _emoji_shipped
from mmkeras.data import _emoji_source

# Facebook's images "have no clear licensing" (emoji-datasource README):
# not shipped.
SHIPPED_STYLES = ("google", "twitter", "fluent")
KEPT = ("ATTRIBUTION.md", "LICENSES")


def build(source, out):
    triples = _emoji_source.read(source, SHIPPED_STYLES, "raise")
    _emoji_shipped.write(out, triples, _kept_files(out))
    return triples


def _kept_files(out):
    names = []
    for name in KEPT:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            names += [os.path.join(name, n) for n in sorted(os.listdir(path))]
        elif os.path.isfile(path):
            names.append(name)
    return names


def _check(source, out):
    with tempfile.TemporaryDirectory() as scratch:
        for name in _kept_files(out):
            copy = os.path.join(scratch, name)
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            shutil.copyfile(os.path.join(out, name), copy)
        build(source, scratch)
        names = [*_emoji_shipped.manifest(scratch)["files"], "manifest.json"]
        differ = [
            name
            for name in names
            if not os.path.isfile(os.path.join(out, name))
            or not filecmp.cmp(
                os.path.join(out, name), os.path.join(scratch, name), False
            )
        ]
    if differ:
        sys.exit(f"Rebuilt files differ from {out}: {', '.join(differ)}")
    print(f"{out}: a rebuild gives identical bytes ({len(names)} files).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="node_modules dir")
    parser.add_argument("--out", default=_emoji_shipped.DIRECTORY)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        _check(args.source, args.out)
        return
    triples = build(args.source, args.out)
    for style in SHIPPED_STYLES:
        count = sum(s == style for _, s, _ in triples)
        print(f"{style}: {count} emoji")
    for name, entry in _emoji_shipped.manifest(args.out)["files"].items():
        print(f"{name}: {entry['size'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
