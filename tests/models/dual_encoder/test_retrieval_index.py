import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.export import ExportError
from mmkeras.models.dual_encoder import retrieval_index
from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex
from mmkeras.models.dual_encoder.retrieval_index import fingerprint
from mmkeras.testing import tiny_models as tiny

TEXTS = ["the red circle", "what colour", "blue", "is the shape red"]


@pytest.fixture(scope="module")
def model():
    return tiny.model("dual_encoder")


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(3)
    return [
        rng.integers(0, 256, (20 + 5 * i, 30, 3), "uint8") for i in range(3)
    ]


@pytest.fixture(scope="module")
def text_index(model):
    return RetrievalIndex.from_texts(model, TEXTS, batch_size=3)


def _pixels(model, images):
    return np.concatenate(
        [model.preprocessor.convert_images(image[None]) for image in images]
    )


def test_search_ranks_the_texts_by_the_models_cosine(model, photos, text_index):
    keys, scores = text_index.search(photos, k=4)
    expected = np.asarray(
        model.score(_pixels(model, photos), model.tokenizer(TEXTS))
    )
    order = np.argsort(-expected, axis=1, kind="stable")
    assert keys.tolist() == np.array(TEXTS)[order].tolist()
    np.testing.assert_allclose(
        scores, np.take_along_axis(expected, order, 1), atol=1e-5
    )
    # One image alone, and k below the size.
    keys_one, _ = text_index.search(photos[1], k=2)
    assert keys_one.tolist() == [keys[1, :2].tolist()]


def test_an_image_index_answers_texts_with_file_names(model, photos, tmp_path):
    paths = []
    for i, photo in enumerate(photos):
        paths.append(str(tmp_path / f"photo{i}.png"))
        with open(paths[-1], "wb") as file:
            file.write(tf.io.encode_png(photo).numpy())
    index = RetrievalIndex.from_images(model, paths, batch_size=2)
    assert index.side == "image" and index.skipped == []
    keys, scores = index.search(["the red circle", "blue"], k=3)
    expected = np.asarray(
        model.score(_pixels(model, photos), model.tokenizer(["blue"]))
    )[:, 0]
    order = np.argsort(-expected, kind="stable")
    assert keys[1].tolist() == [f"photo{i}.png" for i in order]
    np.testing.assert_allclose(scores[1], expected[order], atol=1e-5)
    # A corrupt file: an error naming it, or skipped and listed.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png"):
        RetrievalIndex.from_images(model, [paths[0], str(broken)])
    index = RetrievalIndex.from_images(
        model, [str(broken), paths[0]], on_error="skip"
    )
    assert index.keys.tolist() == ["photo0.png"]
    assert [path for path, _ in index.skipped] == [str(broken)]
    with pytest.raises(ValueError, match="none of the 1 images could be read"):
        RetrievalIndex.from_images(model, [str(broken)], on_error="skip")


def test_save_and_load_give_the_same_search(
    model, photos, text_index, tmp_path
):
    path = tmp_path / "texts.npz"
    text_index.save(path)
    loaded = RetrievalIndex.load(path, model)
    assert loaded.side == "text" and len(loaded) == 4
    for got, expected in zip(
        loaded.search(photos, 3), text_index.search(photos, 3), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    # A damaged file: one embedding changed, the recorded checksum kept.
    with np.load(path) as data:
        arrays = dict(data)
    arrays["embeddings"][0, 0] += 0.5
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(ValueError, match=r"damaged.npz is damaged: its chec"):
        RetrievalIndex.load(tmp_path / "damaged.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz is not a retrieval index"):
        RetrievalIndex.load(tmp_path / "junk.npz")
    del arrays["checksum"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match="it lacks checksum"):
        RetrievalIndex.load(tmp_path / "partial.npz")
    with pytest.raises(FileNotFoundError, match="No retrieval index at"):
        RetrievalIndex.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="has no model to embed the queries"):
        RetrievalIndex.load(path).search(photos, 1)


def test_bad_searches_and_indexes_are_clear_errors(model, photos, text_index):
    with pytest.raises(ValueError, match="needs at least one key.*0 texts"):
        RetrievalIndex.from_texts(model, [])
    with pytest.raises(ValueError, match=r"at most the index's size \(4 t"):
        text_index.search(photos, k=5)
    with pytest.raises(ValueError, match="holds texts, so it answers image"):
        text_index.search("a red circle")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        RetrievalIndex.from_texts(model, ["blue", " "])
    with pytest.raises(ValueError, match=r"queries\[0\] is empty"):
        RetrievalIndex.from_images(model, photos, keys="abc").search("", 1)
    with pytest.raises(TypeError, match=r"Received: texts\[0\]=b'red'"):
        RetrievalIndex.from_texts(model, [b"red"])
    with pytest.raises(TypeError, match=r"strings. Received: keys\[1\]=2"):
        RetrievalIndex(["a", 2], [[1, 0], [0, 1]], "text", "hash")
    with pytest.raises(ValueError, match="the first of key 'b'"):
        RetrievalIndex(["a", "b"], [[1, 0], [np.nan, 0]], "text", "hash")
    with pytest.raises(ValueError, match="'blue' twice"):
        RetrievalIndex.from_texts(model, ["blue", "red", "blue"])
    with pytest.raises(TypeError, match="Received: a VQAModel"):
        RetrievalIndex.from_texts(tiny.model("vqa"), ["blue"])
    with pytest.raises(ValueError, match=r"\(queries, 8\). Received: shape"):
        text_index.search_embeddings(np.zeros((2, 3)), k=2)


def test_the_index_of_another_model_is_refused(model, text_index):
    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    assert fingerprint(other) == text_index.fingerprint
    kernel = other.text_projection.kernel
    kernel.assign(kernel * 1.5)
    with pytest.raises(ValueError, match="built by another model"):
        text_index.check_model(other)
    with pytest.raises(ValueError, match="built by another model"):
        mmkeras.export.export(other, "unused", index=text_index)


def test_export_options_are_checked(model, text_index):
    with pytest.raises(ExportError, match="give index= too"):
        mmkeras.export.export(model, "unused", top_k=3)
    with pytest.raises(ExportError, match=r"at most the index's size \(4"):
        mmkeras.export.export(model, "unused", index=text_index, top_k=5)
    with pytest.raises(TypeError, match="index must be a RetrievalIndex"):
        mmkeras.export.export(model, "unused", index="texts.npz")


def write_indexed_entry(catalogue, name, model_file, index):
    """A zoo entry `name` in `catalogue` of the model saved in `model_file`
    that ships `index` (`index.npz`), as `mmkeras zoo make` lays one out;
    returns its folder."""
    index_path = catalogue / f"{name}.npz"
    index.save(index_path)
    manifest = {
        "name": name,
        "version": "1",
        "family": "DualEncoder",
        "description": "a tiny dual encoder with its retrieval index",
        "metrics": {},
        "license": "Apache-2.0",
        "source": "tests",
        "command": "tests",
    }
    files = [
        {"name": "model.keras", "path": str(model_file)},
        {"name": "index.npz", "path": str(index_path)},
    ]
    mmkeras.zoo.write_entry(str(catalogue), manifest, files)
    return catalogue / name


def indexed_catalogue(model, folder):
    """Zoo entries of the tiny model: `indexed_dual.test` ships the index
    of TEXTS, `stale_dual.test` one built with another text tower (the
    projections agree, the embeddings do not), `damaged_dual.test` one
    changed after the manifest recorded its sha256."""
    model_file = folder / "model.keras"
    model.save(model_file)
    index = RetrievalIndex.from_texts(model, TEXTS)
    write_indexed_entry(folder, "indexed_dual.test", model_file, index)
    other = keras.models.clone_model(model)
    other.set_weights(model.get_weights())
    embedding = other.text_encoder.weights[0]
    embedding.assign(embedding * 2.0)
    stale = RetrievalIndex.from_texts(other, TEXTS)
    write_indexed_entry(folder, "stale_dual.test", model_file, stale)
    damaged = write_indexed_entry(
        folder, "damaged_dual.test", model_file, index
    )
    with open(damaged / "index.npz", "r+b") as file:
        file.seek(100)
        file.write(b"\0")
    return folder


@pytest.fixture(scope="module")
def catalogue(model, tmp_path_factory):
    return indexed_catalogue(model, tmp_path_factory.mktemp("catalogue"))


@pytest.fixture()
def entries(catalogue, monkeypatch):
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(catalogue))
    return catalogue


def test_an_entry_s_shipped_index_loads_with_its_model(
    model, photos, text_index, entries
):
    assert "indexed_dual.test" in retrieval_index.preset_names()
    index = RetrievalIndex.from_preset("indexed_dual.test")
    assert index.keys.tolist() == TEXTS
    # The entry's own model, loaded: it embeds the queries.
    assert fingerprint(index.model) == text_index.fingerprint
    keys, scores = index.search(photos, 2)
    expected_keys, expected_scores = text_index.search(photos, 2)
    assert keys.tolist() == expected_keys.tolist()
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)
    # The golden hits an entry records, here of two pixel queries.
    inputs = {"image": _pixels(model, photos[:2])}
    golden = retrieval_index.golden_arrays(index, inputs, k=3)
    keys, scores = text_index.search(photos[:2], 3)
    assert golden["retrieval/keys"].tolist() == keys.tolist()
    np.testing.assert_allclose(golden["retrieval/scores"], scores, atol=1e-6)
    unattached = RetrievalIndex.load(entries / "indexed_dual.test/index.npz")
    with pytest.raises(ValueError, match="has no model to embed"):
        retrieval_index.golden_arrays(unattached, inputs)


def test_a_shipped_index_that_does_not_fit_is_refused(model, entries):
    with pytest.raises(ValueError, match="the index was built by another"):
        RetrievalIndex.from_preset("stale_dual.test", model)
    # A model of another width, given for the entry's index.
    wide = mmkeras.models.DualEncoder(
        model.image_encoder,
        model.text_encoder,
        projection_dim=16,
        preprocessor=model.preprocessor,
    )
    shapes = model.input_shapes()
    wide(
        {
            "image": np.zeros((1, *shapes["image"][1:]), "float32"),
            "token_ids": np.ones((1, *shapes["token_ids"][1:]), "int32"),
        }
    )
    with pytest.raises(ValueError, match="holds 8-dimensional embeddings but"):
        RetrievalIndex.from_preset("indexed_dual.test", wide)
    with pytest.raises(mmkeras.zoo.ChecksumError, match="index.npz"):
        RetrievalIndex.from_preset("damaged_dual.test", model)
    with pytest.raises(ValueError, match="'test_fusion.tiny' ships no retr"):
        RetrievalIndex.from_preset("test_fusion.tiny")


def test_old_empty_or_non_float_index_files_are_refused(text_index, tmp_path):
    path = tmp_path / "texts.npz"
    text_index.save(path)
    with np.load(path) as data:
        arrays = dict(data)

    def written(name, **changes):
        changed = {**arrays, **changes}
        changed["checksum"] = np.array(retrieval_index._checksum(changed))
        np.savez(tmp_path / name, **changed)
        return tmp_path / name

    with pytest.raises(ValueError, match="format 1; this mmkeras reads fo"):
        RetrievalIndex.load(written("old.npz", format=np.array(1)))
    empty = written(
        "empty.npz",
        keys=np.array([], str),
        embeddings=np.zeros((0, 8), "float32"),
    )
    with pytest.raises(ValueError, match="at least one key.*0 texts"):
        RetrievalIndex.load(empty)
    ints = written("ints.npz", embeddings=np.ones((4, 8), "int64"))
    with pytest.raises(ValueError, match="embeddings of dtype int64; a ret"):
        RetrievalIndex.load(ints)
