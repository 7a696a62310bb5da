"""Emoji as a real image-text corpus: about 1,900 everyday concepts
(animals, food, objects, vehicles, people, places, symbols, flags), each
drawn in several styles, with names, short names and CLDR keywords.

The copy shipped in `mmkeras/data/emoji/` holds the Google (Noto,
Apache-2.0), Twitter (Twemoji, CC-BY 4.0) and Fluent 3D (Microsoft, MIT)
styles; see its ATTRIBUTION.md. `source=` reads an npm `node_modules`
directory instead.
"""

import dataclasses
import hashlib
import os

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data import _emoji_shipped
from mmkeras.data import _emoji_source
from mmkeras.data import _records
from mmkeras.data.registry import SPLITS
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset

SPLIT_BY = ("style", "concept")
CAPTIONS = ("canonical", "all")


@dataclasses.dataclass(frozen=True)
class EmojiRecord:
    """One emoji concept in one drawing style.

    Attributes:
        unified: the code points, as emoji-datasource writes them
            ("1F431", "0023-FE0F-20E3"); the concept's id.
        name: the Unicode name in lower case ("cat face").
        short_names: shortcodes ("cat",); unique across concepts.
        keywords: CLDR keywords from emojibase-data ("animal", "cat", ...).
        category: e.g. "Animals & Nature".
        subcategory: e.g. "animal-mammal".
        style: the drawing style ("google", "twitter", "fluent").
        png: a 64x64 RGBA PNG file.
    """

    unified: str
    name: str
    short_names: tuple
    keywords: tuple
    category: str
    subcategory: str
    style: str
    png: bytes = dataclasses.field(repr=False)


def emoji_records(styles=None, source=None, on_error="raise"):
    """Reads the emoji of `styles`, one `EmojiRecord` per concept and style.

    Args:
        styles: a style name or a list of them; None for all: those
            shipped, or those installed under `source`.
        source: None for the copy shipped in mmkeras (checksums verified);
            or an npm `node_modules` directory holding
            emoji-datasource-<style> (google, twitter, facebook),
            @lobehub/fluent-emoji-3d (style "fluent") and emojibase-data;
            or a directory with a copy as `tools/build_emoji_data.py`
            writes it.
        on_error: what a bad image or entry in an npm directory does:
            "raise" a `DataError` naming the file and the emoji, or "skip"
            it and count it (logged as a warning).

    Returns:
        A list of `EmojiRecord`s sorted by `unified`, then in the order of
        `styles`.

    Example:

    >>> records = mmkeras.data.emoji_records(styles="google")
    >>> cat = next(r for r in records if r.unified == "1F431")
    >>> cat.name, cat.short_names
    ('cat face', ('cat',))
    """
    _checks.one_of("on_error", on_error, ("raise", "skip"))
    directory = _directory(source)
    if _emoji_shipped.is_shipped(directory):
        available = sorted(_emoji_shipped.manifest(directory)["styles"])
        chosen = _styles(styles, available, directory)
        triples = _emoji_shipped.read(directory, chosen)
    else:
        available = sorted(_emoji_source.installed_styles(directory))
        chosen = _styles(styles, available, directory)
        triples = _emoji_source.read(directory, chosen, on_error)
    if not triples:
        raise _records.DataError(
            f"{directory} holds no emoji image of styles {chosen}. Pass "
            "another source or other styles."
        )
    records = [
        EmojiRecord(
            **{
                **concept,
                "short_names": tuple(concept["short_names"]),
                "keywords": tuple(concept["keywords"]),
            },
            style=style,
            png=png,
        )
        for concept, style, png in triples
    ]
    return sorted(records, key=lambda r: (r.unified, chosen.index(r.style)))


def emoji_caption(record):
    """The canonical caption of `record`'s concept, "name: short names"
    ("cat face: cat"): the same for every style, unique per concept; the
    text index of retrieval.

    Example:

    >>> records = mmkeras.data.emoji_records(styles="google")
    >>> cat = next(r for r in records if r.unified == "1F431")
    >>> mmkeras.data.emoji_caption(cat)
    'cat face: cat'
    """
    return _emoji_source.canonical(record.name, record.short_names)


def emoji_captions(record):
    """All captions of `record`'s concept, without repeats: the canonical
    one, the name, the short names and the CLDR keywords ("cat face: cat",
    "cat face", "cat", "animal", "face", ...). Keywords alone are often
    shared by many concepts ("face")."""
    words = [_emoji_source.words(name) for name in record.short_names]
    variants = [emoji_caption(record), record.name, *words, *record.keywords]
    return tuple(dict.fromkeys(variants))


def emoji(
    split="train",
    split_by="style",
    held_out_style="twitter",
    held_out_fraction=0.2,
    styles=None,
    captions="canonical",
    image_size=64,
    batch_size=32,
    seed=0,
    source=None,
    on_error="raise",
):
    """Emoji image-caption pairs, batched, with a held-out split.

    The splits are deterministic:

    - `split_by="style"`: "validation" is every emoji of `held_out_style`,
      "train" those of the other styles read (train on some drawing
      styles, test on an unseen one);
    - `split_by="concept"`: a concept is held out when the sha256 of
      `f"{seed}/{unified}"` falls in the lowest `held_out_fraction` of its
      range (a zero-shot test: "validation" holds every style of about
      that fraction of the concepts, "train" none of them).

    Args:
        split: "train" (shuffled anew each epoch from `seed`; whole batches
            only, so that contrastive batches are of one size) or
            "validation" (in record order, every example).
        split_by: "style" or "concept".
        held_out_style: the validation style of `split_by="style"`.
        held_out_fraction: the share of concepts held out by
            `split_by="concept"`, in (0, 1).
        styles: the styles to read (see `emoji_records`).
        captions: "canonical" for `emoji_caption`; "all" to draw one of
            `emoji_captions` per example, anew each epoch, in "train"
            ("validation" keeps the canonical caption).
        image_size: the side of the images; 64 keeps the drawings' pixels.
        batch_size: a positive integer.
        seed: an integer: the shuffle, the caption draws and the concept
            split.
        source: see `emoji_records`.
        on_error: see `emoji_records`.

    Returns:
        A `tf.data.Dataset` of dicts: "image" (uint8
        `(image_size, image_size, 3)`, the drawing composited on white),
        "caption" (string) and "concept" (int32: the index of `unified`
        among all the concepts read, sorted).

    Example:

    >>> train = mmkeras.data.emoji("train", split_by="concept")
    >>> batch = next(iter(train))
    >>> batch["image"].shape
    TensorShape([32, 64, 64, 3])
    """
    _checks.one_of("split", split, SPLITS)
    _checks.one_of("split_by", split_by, SPLIT_BY)
    _checks.one_of("captions", captions, CAPTIONS)
    _checks.positive_int("image_size", image_size)
    _checks.positive_int("batch_size", batch_size)
    _checks.integer("seed", seed)
    if (
        isinstance(held_out_fraction, bool)
        or not isinstance(held_out_fraction, (int, float))
        or not 0 < held_out_fraction < 1
    ):
        raise ValueError(
            "held_out_fraction must be a number in (0, 1). Received: "
            f"held_out_fraction={held_out_fraction!r}"
        )
    records = emoji_records(styles, source, on_error)
    unified = sorted({r.unified for r in records})
    concepts = {code: index for index, code in enumerate(unified)}
    if split_by == "style":
        held_out = _style_split(records, held_out_style)
    else:
        held_out = _concept_split(records, held_out_fraction, seed)
    chosen = [r for r in records if held_out(r) == (split == "validation")]
    train = split == "train"
    _check_size(chosen, split, split_by, batch_size if train else 1)
    columns = {
        "png": tf.constant([r.png for r in chosen], tf.string),
        "concept": tf.constant([concepts[r.unified] for r in chosen], tf.int32),
    }
    if train and captions == "all":
        columns["caption"] = tf.ragged.constant(
            [emoji_captions(r) for r in chosen], tf.string
        )
    else:
        columns["caption"] = tf.constant([emoji_caption(r) for r in chosen])
    return _dataset(columns, train, image_size, batch_size, seed)


@register_dataset("emoji_caption_pairs")
def emoji_caption_pairs(split=None, **kwargs):
    """`(train, validation)` of `emoji(**kwargs)`, or the one `split`
    names."""
    return pick(
        split,
        lambda: emoji("train", **kwargs),
        lambda: emoji("validation", **kwargs),
    )


def _directory(source):
    if source is None:
        if not _emoji_shipped.is_shipped(_emoji_shipped.DIRECTORY):
            raise _records.DataError(
                f"The emoji copy shipped with mmkeras is missing from "
                f"{_emoji_shipped.DIRECTORY}: this install lacks its data "
                "files. Reinstall mmkeras, or pass source= an npm "
                "node_modules directory."
            )
        return _emoji_shipped.DIRECTORY
    directory = os.fspath(source)
    if not os.path.isdir(directory):
        raise _records.DataError(
            f"source {directory!r} is not a directory. Pass an npm "
            "node_modules directory, or None for the shipped copy."
        )
    return directory


def _styles(styles, available, directory):
    """`styles` as a list, checked against those `directory` has."""
    if styles is None:
        if not available:
            known = ", ".join(
                spec.package for spec in _emoji_source.STYLES.values()
            )
            raise _records.DataError(
                f"{directory} holds no emoji images: none of {known} is "
                "installed there. Run `npm install emoji-datasource-google "
                "emojibase-data` in it, or pass source=None."
            )
        return list(available)
    chosen = [styles] if isinstance(styles, str) else styles
    if not isinstance(chosen, (list, tuple)) or not chosen:
        raise ValueError(
            "styles must be None, a style name or a non-empty list of them. "
            f"Received: styles={styles!r}"
        )
    shipped = _emoji_shipped.is_shipped(directory)
    known = available if shipped else list(_emoji_source.STYLES)
    for style in chosen:
        if style not in known:
            where = "the copy in " if shipped else "an npm directory: "
            raise ValueError(
                f"Unknown emoji style {style!r}. Styles of {where}"
                f"{', '.join(known)}. Received: styles={styles!r}"
            )
    if len(set(chosen)) != len(chosen):
        raise ValueError(
            f"styles names a style twice. Received: styles={styles!r}"
        )
    return list(chosen)


def _style_split(records, held_out_style):
    styles = list(dict.fromkeys(r.style for r in records))
    if held_out_style not in styles:
        raise ValueError(
            f"held_out_style must be one of the styles read "
            f"({', '.join(styles)}). Received: "
            f"held_out_style={held_out_style!r}. Pass one of them, or "
            "split_by='concept'."
        )
    if len(styles) < 2:
        raise ValueError(
            f"split_by='style' needs two styles or more, to train on one "
            f"and validate on another; only {styles[0]!r} was read. Pass "
            "more styles, or split_by='concept'."
        )
    return lambda record: record.style == held_out_style


def _concept_split(records, fraction, seed):
    held_out = {
        r.unified
        for r in records
        if int.from_bytes(
            hashlib.sha256(f"{seed}/{r.unified}".encode()).digest()[:8], "big"
        )
        < fraction * 2**64
    }
    return lambda record: record.unified in held_out


def _check_size(chosen, split, split_by, minimum):
    if len(chosen) < minimum:
        fix = (
            "Pass a smaller batch_size"
            if chosen
            else "Pass more styles or concepts"
        )
        raise _records.DataError(
            f"The {split!r} split by {split_by} has {len(chosen)} examples, "
            f"fewer than {minimum}, so it would yield no batch. {fix} (or "
            "change held_out_fraction / held_out_style)."
        )


def _dataset(columns, train, image_size, batch_size, seed):
    count = int(columns["png"].shape[0])
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if train:
        # Shuffling the PNG bytes is cheap: decoding comes after.
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, draws).map(
        lambda x, draw: _example(x, draw, image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.batch(batch_size, drop_remainder=train)
    return ds.prefetch(tf.data.AUTOTUNE)


def _example(x, draw, image_size):
    caption = x["caption"]
    if caption.shape.rank == 1:
        caption = caption[tf.math.floormod(draw, tf.size(caption, tf.int64))]
    return {
        "image": _composite(x["png"], image_size),
        "caption": caption,
        "concept": x["concept"],
    }


def _composite(png, image_size):
    """The RGBA drawing on white, as uint8 `(image_size, image_size, 3)`."""
    rgba = tf.cast(tf.io.decode_png(png, channels=4), tf.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    if image_size != _emoji_source.SIZE:
        rgb = tf.image.resize(rgb, (image_size, image_size), antialias=True)
    rgb = tf.round(tf.clip_by_value(rgb, 0.0, 255.0))
    return tf.ensure_shape(tf.cast(rgb, tf.uint8), (image_size, image_size, 3))
