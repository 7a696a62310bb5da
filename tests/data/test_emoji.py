"""The emoji dataset: the npm reader on a tiny fake node_modules the tests
write, the compact copy format, the splits, and the shipped copy."""

import hashlib
import io
import json
import logging
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import mmkeras
from mmkeras.data import _emoji_shipped
from mmkeras.data import _emoji_source
from mmkeras.data._records import DataError
from mmkeras.data.emoji import emoji
from mmkeras.data.emoji import emoji_caption
from mmkeras.data.emoji import emoji_captions
from mmkeras.data.emoji import emoji_records
from tests.data import _fixtures

# (unified, name, short names, drawn by twitter); 12 concepts, so that the
# concept split holds some out.
CONCEPTS = [
    ("1F431", "CAT FACE", ["cat"], True),
    ("2764-FE0F", "HEAVY BLACK HEART", ["heart"], True),
    ("1F680", "ROCKET", ["rocket"], True),
    ("1F935", "MAN IN TUXEDO", ["person_in_tuxedo"], False),
] + [(f"1F4{i:02X}", f"TEST {i}", [f"test_{i}"], True) for i in range(8)]
STYLE_COLORS = {"google": (200, 0, 0), "twitter": (0, 0, 200)}
FLUENT_COLOR = (0, 160, 0)


def _entry(unified, name, short_names, twitter):
    return {
        "unified": unified,
        "name": name,
        "short_names": short_names,
        "category": "Animals & Nature",
        "subcategory": "animal-mammal",
        "image": unified.lower() + ".png",
        "has_img_google": True,
        "has_img_twitter": twitter,
    }


def _drawing(color, size=64):
    """Left half transparent black, right half `color`, and column 40 the
    colour at alpha 128."""
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[:, size // 2 :] = (*color, 255)
    pixels[:, 40] = (*color, 128)
    return Image.fromarray(pixels, "RGBA")


def write_npm(root, concepts=CONCEPTS):
    """A node_modules with emoji-datasource google and twitter, fluent (all
    but the last concept, 128 px WebP) and emojibase-data."""
    entries = [_entry(*concept) for concept in concepts]
    for style, color in STYLE_COLORS.items():
        package = root / f"emoji-datasource-{style}"
        images = package / "img" / style / "64"
        images.mkdir(parents=True)
        (package / "emoji.json").write_text(json.dumps(entries))
        for entry in entries:
            if entry[f"has_img_{style}"]:
                _drawing(color).save(images / entry["image"])
    fluent = root / "@lobehub" / "fluent-emoji-3d" / "assets"
    fluent.mkdir(parents=True)
    for entry in entries[:-1]:
        image = Image.new("RGBA", (128, 128), (*FLUENT_COLOR, 255))
        image.save(fluent / (entry["unified"].lower() + ".webp"), lossless=True)
    keywords = root / "emojibase-data" / "en"
    keywords.mkdir(parents=True)
    tags = [
        {"hexcode": "1F431", "tags": ["animal", "cat", "face"]},
        # emojibase writes the heart without its variation selector.
        {"hexcode": "2764", "tags": ["love"]},
        {"label": "no tags", "hexcode": "1F680"},
    ]
    (keywords / "data.json").write_text(json.dumps(tags))
    return root


@pytest.fixture(scope="module")
def npm(tmp_path_factory):
    return write_npm(tmp_path_factory.mktemp("node_modules"))


@pytest.fixture(scope="module")
def records(npm):
    return emoji_records(source=npm)


def test_basics(npm, records):
    assert len(records) == 12 + 11 + 11  # twitter and fluent lack one
    assert records[0].unified == "1F400"  # sorted by unified
    cat = [r for r in records if r.unified == "1F431"]
    assert [r.style for r in cat] == ["fluent", "google", "twitter"]
    assert {(r.unified, r.name, r.short_names, r.keywords) for r in cat} == {
        ("1F431", "cat face", ("cat",), ("animal", "cat", "face"))
    }
    assert cat[0].category == "Animals & Nature"
    heart = [r for r in records if r.unified == "2764-FE0F"][0]
    assert heart.keywords == ("love",)
    google = npm / "emoji-datasource-google" / "img" / "google" / "64"
    assert cat[1].png == (google / "1f431.png").read_bytes()
    with Image.open(io.BytesIO(cat[0].png)) as fluent:
        assert (fluent.format, fluent.size) == ("PNG", (64, 64))
        assert fluent.convert("RGB").getpixel((5, 5)) == FLUENT_COLOR
    tuxedo = [r.style for r in records if r.unified == "1F935"]
    assert tuxedo == ["fluent", "google"]
    assert emoji_records(styles="twitter", source=npm)[0].style == "twitter"


def test_captions(records):
    cat = [r for r in records if r.unified == "1F431"][0]
    assert emoji_caption(cat) == "cat face: cat"
    assert emoji_captions(cat) == (
        "cat face: cat",
        "cat face",
        "cat",
        "animal",
        "face",
    )
    tuxedo = [r for r in records if r.unified == "1F935"][0]
    assert emoji_caption(tuxedo) == "man in tuxedo: person in tuxedo"
    assert len({emoji_caption(r) for r in records}) == len(CONCEPTS)


def test_shipped_copy():
    records = emoji_records()
    counts = {s: sum(r.style == s for r in records) for s in ("google",)}
    counts["twitter"] = sum(r.style == "twitter" for r in records)
    counts["fluent"] = sum(r.style == "fluent" for r in records)
    assert counts == {"google": 1911, "twitter": 1911, "fluent": 1852}
    cat = [r for r in records if r.unified == "1F431"]
    assert [(r.style, emoji_caption(r)) for r in cat] == [
        ("fluent", "cat face: cat"),
        ("google", "cat face: cat"),
        ("twitter", "cat face: cat"),
    ]
    assert {"kitten", "pet"} <= set(cat[0].keywords)
    assert len({emoji_caption(r) for r in records}) == 1911
    with Image.open(io.BytesIO(cat[0].png)) as image:
        assert image.size == (64, 64)
    with pytest.raises(ValueError, match="'facebook'.*fluent, google, twitter"):
        emoji_records(styles=["facebook"])


def test_shipped_manifest_covers_every_file():
    directory = pathlib.Path(_emoji_shipped.DIRECTORY)
    files = _emoji_shipped.manifest(directory)["files"]
    shipped = {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file()
    }
    assert shipped == {*files, "manifest.json"}
    for name, entry in files.items():
        data = (directory / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["size"], name


def test_copy_round_trip_is_deterministic(npm, records, tmp_path):
    triples = _emoji_source.read(npm, ["google", "twitter", "fluent"], "raise")
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        out.mkdir()
        (out / "ATTRIBUTION.md").write_text("credits\n")
        _emoji_shipped.write(out, triples, ["ATTRIBUTION.md"])
    names = sorted(p.name for p in first.iterdir())
    assert names == [
        "ATTRIBUTION.md",
        "concepts.json",
        "fluent.zip",
        "google.zip",
        "manifest.json",
        "twitter.zip",
    ]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    manifest = json.loads((first / "manifest.json").read_text())
    data = (first / "google.zip").read_bytes()
    assert manifest["files"]["google.zip"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    assert emoji_records(source=first) == records


def test_checksum_mismatch_names_file_and_hashes(npm, tmp_path):
    triples = _emoji_source.read(npm, ["google"], "raise")
    _emoji_shipped.write(tmp_path, triples)
    path = tmp_path / "google.zip"
    expected = json.loads((tmp_path / "manifest.json").read_text())["files"][
        "google.zip"
    ]["sha256"]
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(data).hexdigest()
    with pytest.raises(DataError) as error:
        emoji_records(source=tmp_path)
    message = str(error.value)
    assert str(path) in message
    assert f"sha256 is {actual}" in message
    assert f"expects {expected}" in message
    path.unlink()
    with pytest.raises(DataError, match="google.zip is missing. Reinstall"):
        emoji_records(source=tmp_path)


def test_missing_and_corrupt_images(npm, tmp_path, caplog):
    root = tmp_path / "node_modules"
    shutil.copytree(npm, root)
    images = root / "emoji-datasource-google" / "img" / "google" / "64"
    (images / "1f680.png").unlink()
    _fixtures.write_corrupt(images / "1f431.png")
    fluent = root / "@lobehub" / "fluent-emoji-3d" / "assets" / "1f400.webp"
    _fixtures.write_corrupt(fluent)
    with pytest.raises(DataError, match=f"{fluent}: the image does not"):
        emoji_records(styles="fluent", source=root)
    with pytest.raises(DataError) as error:
        emoji_records(styles="google", source=root)
    assert str(images / "1f431.png") in str(error.value)
    assert "does not decode" in str(error.value)
    assert 'on_error="skip"' in str(error.value)
    with caplog.at_level(logging.WARNING, "mmkeras.data"):
        kept = emoji_records(source=root, on_error="skip")
    google = {r.unified for r in kept if r.style == "google"}
    assert len(google) == 10
    assert {"1F431", "1F680"}.isdisjoint(google)
    assert len(kept) == 10 + 11 + 10
    assert "skipped 3 of 34 emoji images" in caplog.text
    assert "2 corrupt image, 1 missing image" in caplog.text
    for name in ("1f431.png", "1f680.png", "1f400.png"):
        _fixtures.write_corrupt(images / name)
    only = [c for c in CONCEPTS if c[0] in ("1F431", "1F680", "1F400")]
    (root / "emoji-datasource-google" / "emoji.json").write_text(
        json.dumps([_entry(*c) for c in only])
    )
    with pytest.raises(DataError, match="Every record was skipped"):
        emoji_records(styles="google", source=root, on_error="skip")


def test_bad_metadata(npm, tmp_path):
    root = tmp_path / "node_modules"
    shutil.copytree(npm, root)
    metadata = root / "emoji-datasource-google" / "emoji.json"
    entries = json.loads(metadata.read_text())
    metadata.write_text(json.dumps({"emoji": entries}))
    with pytest.raises(DataError, match="top level is not a list"):
        emoji_records(styles="google", source=root)
    entries[5]["unified"] = "1F431"
    metadata.write_text(json.dumps(entries))
    with pytest.raises(DataError, match="unified code '1F431' is given twice"):
        emoji_records(styles="google", source=root)
    entries[5] = {**entries[0], "unified": "1F4FF", "image": "1f402.png"}
    metadata.write_text(json.dumps(entries))
    with pytest.raises(
        DataError, match="canonical caption 'cat face: cat' is given twice"
    ):
        emoji_records(styles="google", source=root)
    del entries[5]["name"]
    metadata.write_text(json.dumps(entries))
    with pytest.raises(DataError, match=r"emoji.json\[5\].*no field 'name'"):
        emoji_records(styles="google", source=root)
    (root / "emojibase-data" / "en" / "data.json").unlink()
    with pytest.raises(DataError, match="npm install emojibase-data"):
        emoji_records(styles="google", source=root)
    shutil.rmtree(root / "emoji-datasource-twitter")
    with pytest.raises(DataError, match="npm install emoji-datasource-twitt"):
        emoji_records(styles="twitter", source=root)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"styles": ["google", "emojione"]}, "Unknown emoji style 'emojione'"),
        ({"styles": []}, "styles must be None, a style name"),
        ({"styles": ["google", "google"]}, "names a style twice"),
        ({"split": "test"}, "split must be one of 'train', 'validation'"),
        ({"split_by": "color"}, "split_by must be one of 'style', 'concept'"),
        ({"captions": "some"}, "captions must be one of"),
        ({"held_out_fraction": 1.0}, r"held_out_fraction must be.*\(0, 1\)"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"held_out_style": "fb"}, r"held_out_style must be one of the styl"),
        ({"styles": "google", "held_out_style": "google"}, "two styles or"),
        ({"batch_size": 64}, "'train' split by style has 23 examples, fewe"),
        (
            {
                "split": "validation",
                "split_by": "concept",
                "held_out_fraction": 0.001,
            },
            "'validation' split by concept has 0 examples",
        ),
    ],
)
def test_bad_arguments(npm, kwargs, message):
    with pytest.raises(ValueError, match=message):
        emoji(**{"source": npm, "batch_size": 4, **kwargs})


def test_bad_source(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="is not a directory"):
        emoji_records(source=tmp_path / "nowhere")
    with pytest.raises(DataError, match="none of emoji-datasource-google"):
        emoji_records(source=tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 0}')
    with pytest.raises(DataError, match="not an emoji manifest of format 1"):
        emoji_records(source=tmp_path)
    monkeypatch.setattr(_emoji_shipped, "DIRECTORY", str(tmp_path / "gone"))
    with pytest.raises(DataError, match="shipped with mmkeras is missing"):
        emoji_records()


def _held_out(unified, seed, fraction=0.2):
    digest = hashlib.sha256(f"{seed}/{unified}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def _elements(dataset):
    batches = list(dataset.as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_splits(npm, records):
    concepts = sorted({r.unified for r in records})
    by_style = _elements(emoji("validation", source=npm, batch_size=5))
    twitter = [r for r in records if r.style == "twitter"]
    assert by_style["caption"].tolist() == [
        emoji_caption(r).encode() for r in twitter
    ]
    assert by_style["concept"].tolist() == [
        concepts.index(r.unified) for r in twitter
    ]
    train = _elements(emoji("train", source=npm, batch_size=5, seed=3))
    assert len(train["concept"]) == 20  # 23 examples, whole batches
    held = {u for u in concepts if _held_out(u, seed=0)}
    # Pinned: the rule must not drift.
    assert held == {"1F680", "1F401", "1F405", "1F407"}
    validation = emoji("validation", split_by="concept", source=npm)
    concept_ids = _elements(validation)["concept"].tolist()
    # Every style of a held-out concept (1F407 has no fluent drawing).
    assert concept_ids == [
        concepts.index(r.unified) for r in records if r.unified in held
    ]
    assert len(concept_ids) == 11
    train = _elements(emoji(split_by="concept", source=npm, batch_size=1))
    assert len(train["concept"]) == len(records) - 11
    assert not held & {concepts[i] for i in train["concept"]}


def test_images_composited_on_white(npm):
    batch = next(iter(emoji("validation", source=npm, batch_size=2)))
    image = batch["image"].numpy()
    assert (image.dtype, image.shape) == (np.uint8, (2, 64, 64, 3))
    np.testing.assert_array_equal(image[:, :, :32], 255)
    assert (image[:, :, 33:40] == [0, 0, 200]).all()
    # alpha 128 over white: 200 * 128/255 + 255 * 127/255, rounded
    np.testing.assert_array_equal(image[0, 7, 40], [127, 127, 227])
    small = next(iter(emoji("validation", image_size=16, source=npm)))
    assert small["image"].shape == (11, 16, 16, 3)
    assert small["image"].dtype == tf.uint8
    np.testing.assert_array_equal(small["image"][:, :, :7], 255)


def test_all_captions_drawn_per_epoch(npm, records):
    train = emoji(
        source=npm,
        styles=["google", "fluent"],
        held_out_style="google",
        captions="all",
        batch_size=1,
        seed=0,
    )
    variants = {emoji_captions(r)[0]: emoji_captions(r) for r in records}
    epochs = [_elements(train) for _ in range(4)]
    cat_id = sorted({r.unified for r in records}).index("1F431")
    cat = set()
    for epoch in epochs:
        for caption in epoch["caption"].tolist():
            owner = [v for v in variants.values() if caption.decode() in v]
            assert owner, caption
        cat |= {
            c.decode()
            for c, i in zip(epoch["caption"], epoch["concept"], strict=True)
            if i == cat_id
        }
    assert cat <= set(variants["cat face: cat"]) and len(cat) > 1


def test_registered_dataset(npm):
    spec = {"name": "emoji_caption_pairs", "kwargs": {"source": npm}}
    train, validation = mmkeras.data.DATASETS.call(spec, batch_size=4)
    assert train.element_spec["image"].shape.as_list() == [4, 64, 64, 3]
    assert validation.element_spec["image"].shape.as_list() == [None, 64, 64, 3]
    alone = mmkeras.data.build_splits(spec, split="validation")
    assert len(_elements(alone)["concept"]) == 11


def test_long_caption_is_truncated_by_the_preprocessor(npm):
    words = "[PAD] [UNK] man in tuxedo : person".split()
    preprocessor = mmkeras.models.DualEncoderPreprocessor(
        tokenizer=mmkeras.text.WordPieceTokenizer(words, sequence_length=4)
    )
    validation = emoji(
        "validation",
        styles=["google", "twitter"],
        held_out_style="google",
        source=npm,
    )
    batch = next(iter(validation))
    index = (
        batch["caption"]
        .numpy()
        .tolist()
        .index(b"man in tuxedo: person in tuxedo")
    )
    ids = preprocessor(batch)["token_ids"].numpy()[index]
    assert ids.tolist() == [2, 3, 4, 5]  # 7 tokens cut to the first 4
