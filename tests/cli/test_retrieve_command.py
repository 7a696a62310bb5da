import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from mmkeras import data
from mmkeras.cli.main import cli
from mmkeras.export.signatures import decode_images
from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex
from mmkeras.testing import tiny_models as tiny
from tests.export import consumer_modules
from tests.models.dual_encoder.test_retrieval_index import TEXTS as INDEXED
from tests.models.dual_encoder.test_retrieval_index import indexed_catalogue

TEXTS = ["the red circle", "what colour", "blue"]


@pytest.fixture(scope="module")
def model():
    return tiny.model("dual_encoder")


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "dual.keras")
    model.save(path)
    return path


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gallery")
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.jpg", "c.PNG"):
        pixels = rng.integers(0, 256, (20, 28, 3), "uint8")
        Image.fromarray(pixels).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _retrieve(*args):
    return CliRunner().invoke(cli, ["retrieve", *args])


def test_texts_rank_the_images_of_a_folder(model, saved, gallery, tmp_path):
    result = _retrieve(
        saved,
        "--text",
        "the red circle",
        "--text",
        "blue",
        "--images",
        str(gallery),
        "--json",
        "--out",
        str(tmp_path / "grid.png"),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    hits = [json.loads(line) for line in lines[:-1]]
    files = sorted(str(p) for p in gallery.iterdir() if p.suffix != ".txt")
    index = RetrievalIndex.from_images(model, files)
    keys, scores = index.search(["the red circle", "blue"], k=3)
    assert [h["key"] for h in hits] == keys.ravel().tolist()
    assert [h["rank"] for h in hits] == [1, 2, 3, 1, 2, 3]
    assert hits[3]["query"] == "blue"
    np.testing.assert_allclose(
        [h["score"] for h in hits], scores.ravel(), atol=1e-5
    )
    # The grid: the 3 images hit (rows) by the 2 texts (columns).
    assert lines[-1] == str(tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size == (3 * 160, 4 * 160)


def test_an_image_ranks_the_texts_of_a_file(model, saved, gallery, tmp_path):
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(TEXTS + ["", "blue"]) + "\n")
    image = str(gallery / "a.png")
    result = _retrieve(saved, "--image", image, "--texts", str(texts_file))
    assert result.exit_code == 0, result.output
    # Fewer candidates (3, one repeat dropped) than the default k of 5.
    keys, scores = RetrievalIndex.from_texts(model, TEXTS).search(
        data.load_image(image).numpy(), k=3
    )
    assert result.output.splitlines() == [
        f"{rank}\t{score:.4f}\t{key}"
        for rank, (key, score) in enumerate(
            zip(keys[0], scores[0], strict=True), 1
        )
    ]
    # The same from the index it saves.
    index_path = str(tmp_path / "texts.npz")
    args = ["--texts", str(texts_file), "--save-index", index_path]
    assert _retrieve(saved, "--image", image, *args).output == result.output
    again = _retrieve(saved, "--image", image, "--index", index_path)
    assert again.output == result.output


def test_an_image_ranks_every_emoji_name_by_default(
    model, saved, gallery, monkeypatch
):
    # 40 concepts in two styles: each caption once.
    records = data.emoji_records(styles=["google", "twitter"])[:80]
    monkeypatch.setattr(data, "emoji_records", lambda: records)
    image = str(gallery / "a.png")
    result = _retrieve(saved, "--image", image, "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    captions = [data.emoji_caption(r) for r in records[::2]]
    assert len(set(captions)) == 40
    keys, scores = RetrievalIndex.from_texts(model, captions).search(
        data.load_image(image).numpy(), k=2
    )
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert [h["key"] for h in hits] == keys[0].tolist()
    np.testing.assert_allclose([h["score"] for h in hits], scores[0], atol=1e-5)


def test_unreadable_images_are_named_or_skipped_and_counted(
    saved, gallery, tmp_path
):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "good.png").write_bytes((gallery / "a.png").read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    args = [saved, "--text", "blue", "--images", str(folder)]
    result = _retrieve(*args)
    assert result.exit_code == 1
    assert "broken.png" in result.output and "Traceback" not in result.output
    result = _retrieve(*args, "--on-error", "skip")
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable images" in result.output
    assert (
        "broken.png" in result.output and "function_node" not in result.output
    )
    assert result.output.splitlines()[-1].endswith("\tgood.png")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "a"], "--text needs --images DIR"),
        (["--text", "a", "--image", "{image}"], "give --text (with --images)"),
        ([], "give --text (with --images) or --image"),
        (["--image", "{image}", "--images", "{empty}"], "--texts goes with"),
        (["--text", "a", "--images", "{empty}"], "holds no image files (no"),
        (["--text", "a", "--images", "{texts}"], "holds no image files (1"),
        (["--image", "{image}", "--texts", "{blank}"], "holds no texts"),
        (["--image", "{image}", "--texts", "{latin}"], "is not UTF-8 text"),
        (["--text", "a", "--images", "{gallery}", "-k", "4"], "-k 4 is more"),
    ],
)
def test_bad_requests_are_usage_errors(saved, gallery, tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "captions.txt").write_text("a cat\n")
    (tmp_path / "blank.txt").write_text("\n  \n")
    (tmp_path / "latin.txt").write_bytes("café\n".encode("latin-1"))
    values = {
        "image": str(gallery / "a.png"),
        "gallery": str(gallery),
        "empty": str(empty),
        "texts": str(texts),
        "blank": str(tmp_path / "blank.txt"),
        "latin": str(tmp_path / "latin.txt"),
    }
    result = _retrieve(saved, *[arg.format(**values) for arg in args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_model_that_is_not_a_dual_encoder_is_refused(gallery, tmp_path):
    path = str(tmp_path / "dense.keras")
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    dense.save(path)
    result = _retrieve(path, "--text", "a", "--images", str(gallery))
    assert result.exit_code == 2
    assert "is a Sequential, not a dual encoder" in result.output


def test_the_grid_marks_the_right_and_the_best_wrong_text(model, tmp_path):
    from mmkeras.models.dual_encoder import _pictures

    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (24, 24, 3), "uint8") for _ in range(2)]
    path = tmp_path / "grid.png"
    scores = model.draw_similarity(images, TEXTS, path, matches=[1, None])
    expected = model.score(
        np.concatenate(
            [model.preprocessor.convert_images(i[None]) for i in images]
        ),
        model.tokenizer(TEXTS),
    )
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    picture = np.asarray(Image.open(path))
    assert picture.shape == (3 * 160, 4 * 160, 3)

    def corner(row, column):  # a cell's fill, inside its frame
        return tuple(picture[row * 160 + 8, column * 160 + 8])

    wrong = 1 + max((0, 2), key=lambda j: scores[0, j])
    assert corner(1, 2) == _pictures._RIGHT
    assert corner(1, wrong) == _pictures._WRONG
    assert corner(2, 1) == corner(2, 3) == (255, 255, 255)
    with pytest.raises(ValueError, match=r"index of its right text in \[0"):
        model.draw_similarity(images, TEXTS, path, matches=[3, 0])
    with pytest.raises(ValueError, match="at least one image and one text"):
        model.draw_similarity(images, [], path)


def test_export_embeds_an_index_in_a_verified_retrieve_signature(
    model, saved, gallery, tmp_path, capsys
):
    index_path = str(tmp_path / "texts.npz")
    RetrievalIndex.from_texts(model, TEXTS).save(index_path)
    out = tmp_path / "out"
    args = ["export", saved, "--out", str(out), "--no-xla"]
    result = CliRunner().invoke(
        cli, [*args, "--index", index_path, "--top-k", "2"]
    )
    assert result.exit_code == 0, result.output
    path = out / "saved_model" / "1"
    assert (
        "`retrieve(image_bytes: string[N])` -> `keys: string[N, 2], "
        "scores: float32[N, 2]`" in (path / "README.md").read_text()
    )
    # Verified in a fresh process without mmkeras, as every signature.
    report = json.loads((path / "verify.json").read_text())
    assert report["retrieve/keys"] == {"mismatches": 0}
    assert report["retrieve/scores"]["max_abs_diff"] <= 1e-4
    # The consumer script's command line, in this process.
    image = gallery / "a.png"
    serve = consumer_modules.serve_saved_model()
    serve.main(
        [str(path), "--signature=retrieve", f"--input=image_bytes=@{image}"]
    )
    served = json.loads(capsys.readouterr().out.splitlines()[-1])
    pixels = decode_images(
        tf.constant([image.read_bytes()]), model.preprocessor
    )
    index = RetrievalIndex.load(index_path, model)
    keys, scores = index.search_embeddings(model.encode_image(pixels), k=2)
    assert served["keys"] == keys.tolist()
    np.testing.assert_allclose(served["scores"], scores, atol=1e-4)
    result = CliRunner().invoke(cli, [*args, "--top-k", "2"])
    assert result.exit_code == 1
    assert "which needs an index: give index= too" in result.output


@pytest.fixture(scope="module")
def catalogue(model, tmp_path_factory):
    return indexed_catalogue(model, tmp_path_factory.mktemp("catalogue"))


@pytest.fixture()
def indexed_entry(catalogue, monkeypatch):
    """A zoo entry of the tiny model that ships an index of INDEXED."""
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(catalogue))
    return "indexed_dual.test"


def test_an_image_ranks_the_index_an_entry_ships(model, indexed_entry, gallery):
    image = str(gallery / "b.jpg")
    result = _retrieve(indexed_entry, "--image", image, "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    # INDEXED, not the emoji names of a model without an index.
    keys, scores = RetrievalIndex.from_texts(model, INDEXED).search(
        data.load_image(image).numpy(), k=2
    )
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert [h["key"] for h in hits] == keys[0].tolist()
    np.testing.assert_allclose([h["score"] for h in hits], scores[0], atol=1e-5)
    # An index the entry's model did not build: one line, exit 1.
    stale = _retrieve("stale_dual.test", "--image", image)
    assert stale.exit_code == 1
    assert "the index was built by another model" in stale.output
    assert "Traceback" not in stale.output


def test_export_of_an_entry_embeds_its_index_unless_told(
    model, indexed_entry, tmp_path, monkeypatch
):
    from mmkeras import export

    calls = []
    monkeypatch.setattr(
        export, "export", lambda *a, **kw: calls.append(kw) or {}
    )
    args = ["export", indexed_entry, "--out", str(tmp_path / "out")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert calls[-1]["index"].keys.tolist() == INDEXED
    # The shipped index was built by the entry's model.
    calls[-1]["index"].check_model(model)
    other = str(tmp_path / "other.npz")
    RetrievalIndex.from_texts(model, ["blue"]).save(other)
    assert CliRunner().invoke(cli, [*args, "--index", other]).exit_code == 0
    assert calls[-1]["index"].keys.tolist() == ["blue"]
