"""Reads emoji from an npm `node_modules` directory: the emoji-datasource
packages (emoji.json and 64 px PNGs per style), @lobehub/fluent-emoji-3d
(256 px WebP, resized here) and emojibase-data (CLDR keywords).

Every image becomes a 64x64 RGBA PNG by one pure function
(`normalize_png`), so each style is a function of its package, whether
read here or from the copy `tools/build_emoji_data.py` ships.
"""

import collections
import io
import os

from PIL import Image

from mmkeras.data import _records

SIZE = 64
Style = collections.namedtuple("Style", "package images suffix flag")
STYLES = {
    style: Style(
        f"emoji-datasource-{style}",
        f"img/{style}/64",
        ".png",
        f"has_img_{style}",
    )
    for style in ("google", "twitter", "facebook")
}
# No availability flag in emoji.json: an absent file is an emoji the set
# does not draw.
STYLES["fluent"] = Style("@lobehub/fluent-emoji-3d", "assets", ".webp", None)
KEYWORDS = os.path.join("emojibase-data", "en", "data.json")
_FIELDS = ("unified", "name", "category", "subcategory", "image")


def installed_styles(source):
    """The styles of `STYLES` whose image folder is under `source`."""
    return [
        style
        for style, spec in STYLES.items()
        if os.path.isdir(os.path.join(source, spec.package, spec.images))
    ]


def read(source, styles, on_error):
    """`(concept, style, png)` triples for `styles` under `source`, where
    `concept` holds the `EmojiRecord` text fields; checked by the readers'
    `Policy` (missing or corrupt images, malformed or repeated entries)."""
    for style in styles:
        folder = os.path.join(source, STYLES[style].package)
        if not os.path.isdir(os.path.join(folder, STYLES[style].images)):
            raise _records.DataError(
                f"{os.fspath(source)} has no {STYLES[style].package} images "
                f"({STYLES[style].images}), so style {style!r} cannot be "
                f"read. Run `npm install {STYLES[style].package}` there, or "
                "leave the style out."
            )
    metadata = _metadata_file(source)
    policy = _records.Policy(metadata, "emoji images", on_error)
    entries = _json_list(metadata, "an emoji-datasource emoji.json")
    keywords = _keywords(source)
    records = [
        (_records.where("emoji.json", i, entry, "unified"), entry)
        for i, entry in enumerate(entries)
    ]
    unified = policy.index(_unified(records), "unified code")
    captions = policy.index(_captions(records), "canonical caption")

    def parse(where, item):
        entry, style = item
        concept = _concept(entry, keywords)
        _records.look_up(unified, concept["unified"])
        _records.look_up(
            captions, canonical(concept["name"], concept["short_names"])
        )
        return concept, style, _image(source, style, entry)

    candidates = [
        (f"{where} in style {style!r}", (entry, style))
        for style in styles
        for where, entry in records
        if _drawn(source, style, entry)
    ]
    triples = policy.parse(candidates, parse)
    policy.finish()
    return triples


def canonical(name, short_names):
    """The one caption of a concept: "name: short names" ("cat face:
    cat"). Short names are emoji shortcodes, unique per concept, so the
    caption is too (`read` checks it)."""
    return f"{name}: {', '.join(words(short) for short in short_names)}"


def words(short_name):
    return short_name.replace("_", " ")


def normalize_png(data):
    """`data` (an image file) as a 64x64 RGBA PNG; a 64x64 PNG is kept
    byte for byte. Raises a `Problem` if it does not decode."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "PNG" and image.size == (SIZE, SIZE):
                return data
            image = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise _records.Problem(
            _records.CORRUPT_IMAGE, f"the image does not decode ({error})"
        ) from None
    if image.size != (SIZE, SIZE):
        # Pillow resizes RGBA premultiplied, so edges do not darken.
        image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _metadata_file(source):
    for style in STYLES.values():
        path = os.path.join(source, style.package, "emoji.json")
        if os.path.isfile(path):
            return path
    packages = ", ".join(s.package for s in STYLES.values() if s.flag)
    raise _records.DataError(
        f"{os.fspath(source)} has no emoji.json in any of {packages}, so "
        "the emoji names are unknown. Run `npm install "
        "emoji-datasource-google` there."
    )


def _keywords(source):
    """hexcode -> CLDR keywords, from emojibase-data."""
    path = os.path.join(source, KEYWORDS)
    if not os.path.isfile(path):
        raise _records.DataError(
            f"{path} does not exist, so the emoji have no keywords. Run "
            "`npm install emojibase-data` in "
            f"{os.fspath(source)}."
        )
    entries = _json_list(path, "an emojibase-data data.json")
    return {
        entry["hexcode"]: tuple(entry.get("tags", ()))
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("hexcode"), str)
    }


def _unified(records):
    for where, entry in records:
        if isinstance(entry, dict) and isinstance(entry.get("unified"), str):
            yield where, entry["unified"], entry.get("name")


def _captions(records):
    for where, entry in records:
        try:
            concept = _concept(entry, {})
        except _records.Problem:
            continue  # reported when the entry is parsed
        caption = canonical(concept["name"], concept["short_names"])
        yield where, caption, concept["unified"]


def _concept(entry, keywords):
    concept = {name: _records.field(entry, name) for name in _FIELDS}
    short_names = _records.field(entry, "short_names", list)
    if not short_names or not all(
        isinstance(name, str) and name for name in short_names
    ):
        raise _records.Problem(
            _records.MALFORMED,
            "field 'short_names' must be a non-empty list of non-empty "
            f"strings, got {short_names!r}",
        )
    unified = concept["unified"]
    # emojibase drops the variation selector where emoji-datasource keeps
    # it ("2764-FE0F" is "2764").
    plain = unified.replace("-FE0F", "")
    tags = keywords.get(unified, keywords.get(plain, ()))
    return {
        "unified": unified,
        "name": concept["name"].lower(),
        "short_names": tuple(short_names),
        "keywords": tuple(str(tag) for tag in tags),
        "category": concept["category"],
        "subcategory": concept["subcategory"],
    }


def _path(source, style, entry):
    spec = STYLES[style]
    stem, _ = os.path.splitext(entry["image"])
    return os.path.join(source, spec.package, spec.images, stem + spec.suffix)


def _drawn(source, style, entry):
    """Whether the package claims to draw `entry`; a malformed entry
    counts as drawn, so that it is reported."""
    if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
        return True
    flag = STYLES[style].flag
    if flag is None:
        return os.path.isfile(_path(source, style, entry))
    return entry.get(flag) is True


def _image(source, style, entry):
    path = _path(source, style, entry)
    if not os.path.isfile(path):
        raise _records.Problem(
            _records.MISSING_IMAGE, f"image file {path} does not exist"
        )
    with open(path, "rb") as file:
        data = file.read()
    try:
        return normalize_png(data)
    except _records.Problem as problem:
        raise _records.Problem(
            problem.reason, f"image file {path}: {problem.message}"
        ) from None


def _json_list(path, kind):
    data = _records.parse_json(
        _records.read_text(path), f"{os.fspath(path)} is not valid"
    )
    if not isinstance(data, list):
        raise _records.DataError(
            f"{os.fspath(path)} is not {kind}: its top level is not a list. "
            "Reinstall the package."
        )
    return data
