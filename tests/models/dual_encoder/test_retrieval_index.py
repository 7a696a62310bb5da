import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.export import ExportError
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
