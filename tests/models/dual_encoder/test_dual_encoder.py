import math
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from PIL import Image

import mmkeras
from mmkeras import explain
from mmkeras.data import shapes
from mmkeras.models.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder import DualEncoderPreprocessor
from mmkeras.models.serving import RequestError
from mmkeras.testing import run_task_test

WORDS = sorted(
    {"a", "an", "there", "is", *shapes.COLORS, *shapes.SHAPES}
    | {w for relation in shapes.RELATIONS for w in relation.split()}
)
VOCABULARY = ["[PAD]", "[UNK]", *WORDS]


def make_model(normalization="batch", projection_dim=8, **kwargs):
    # Max pooling: with mean pooling the few object pixels barely move the
    # pooled vector and short runs collapse to constant embeddings.
    image_encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16),
        hidden_dim=16,
        normalization=normalization,
        pooling="max",
    )
    text_encoder = mmkeras.encoders.TransformerTextEncoder(
        len(VOCABULARY),
        sequence_length=12,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
        xla=False,
    )
    return DualEncoder(image_encoder, text_encoder, projection_dim, **kwargs)


def make_preprocessor(size=16):
    """Scenes resized to `size` (None: kept 75x75) and the vocabulary."""
    return DualEncoderPreprocessor(
        mmkeras.layers.ImageConverter(image_size=size and (size, size)),
        mmkeras.text.WordPieceTokenizer(VOCABULARY, sequence_length=12),
    )


def raw_pairs(num_images, batch_size, seed=0):
    """Raw `{"image", "caption", "scene"}` pairs, 75x75 uint8 scenes."""
    return shapes.shapes_captions(
        num_images, seed=seed, captions_per_image=1, batch_size=batch_size
    )


def caption_dataset(num_images, batch_size, seed=0):
    """Model inputs: the raw pairs through the preprocessor."""
    return raw_pairs(num_images, batch_size, seed).map(make_preprocessor())


def random_inputs(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.random((batch, 16, 16, 3)).astype("float32"),
        "token_ids": rng.integers(1, len(VOCABULARY), (batch, 6)).astype(
            "int32"
        ),
    }


def test_basics():
    # Not mirrored here: test_global_batch.py trains a DualEncoder mirrored.
    raw = raw_pairs(8, batch_size=4)
    model = run_task_test(
        lambda: make_model(preprocessor=make_preprocessor()),
        raw,
        run_mirrored=False,
    )
    assert model.predict(raw, verbose=0).shape == (8, 4)


def test_fit_takes_inputs_alone_or_with_labels():
    model = make_model()
    inputs = random_inputs()
    assert tuple(model(inputs).shape) == (4, 4)
    model.compile()
    inputs_only = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    history = model.fit(inputs_only, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with_dummy = tf.data.Dataset.from_tensor_slices((inputs, np.zeros(4)))
    model.fit(with_dummy.batch(2), epochs=1, verbose=0)
    expected = model.predict(inputs, batch_size=4, verbose=0)
    config = model.get_config()
    assert DualEncoder.from_config(config).get_config() == config
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), expected)
    np.testing.assert_allclose(
        reloaded.encode_text(inputs["token_ids"]),
        model.encode_text(inputs["token_ids"]),
    )


def test_integer_images_are_refused():
    model = make_model()
    inputs = random_inputs()
    model(inputs)
    uint8 = {**inputs, "image": (inputs["image"] * 255).astype("uint8")}
    with pytest.raises(TypeError, match="takes float pixels.*uint8"):
        model(uint8)
    with pytest.raises(TypeError, match="takes float pixels.*uint8"):
        model.encode_image(uint8["image"])


def test_evaluate_retrieval_maps_raw_pairs_through_the_preprocessor():
    keras.utils.set_random_seed(0)
    model = make_model(preprocessor=make_preprocessor())
    raw = raw_pairs(12, batch_size=4)
    model(next(iter(raw.map(model.preprocessor))))
    detached = DualEncoder.from_config(
        {**model.get_config(), "preprocessor": None}
    )
    detached(next(iter(caption_dataset(4, batch_size=4))))
    detached.set_weights(model.get_weights())
    relevant = np.eye(12, dtype=bool)
    expected = detached.evaluate_retrieval(
        caption_dataset(12, batch_size=4), (1, 5), relevant=relevant
    )
    actual = model.evaluate_retrieval(raw, (1, 5), relevant=relevant)
    assert actual == expected
    assert set(actual) == {
        f"{kind}_{direction}"
        for kind in ("recall_at_1", "recall_at_5", "true_at_1")
        for direction in ("image_to_text", "text_to_image")
    }


def test_logits_are_logit_scale_times_numpy_cosine():
    model = make_model(temperature=0.25)
    inputs = random_inputs(batch=5)
    logits = ops.convert_to_numpy(model(inputs))
    images = ops.convert_to_numpy(model.encode_image(inputs["image"]))
    texts = ops.convert_to_numpy(model.encode_text(inputs["token_ids"]))
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-6)
    cosine = images @ texts.T
    np.testing.assert_allclose(float(model.logit_scale), 4.0, rtol=1e-6)
    np.testing.assert_allclose(logits, 4.0 * cosine, atol=1e-5)
    score = model.score(inputs["image"], inputs["token_ids"][:3])
    np.testing.assert_allclose(score, cosine[:, :3], atol=1e-6)


def test_temperature_is_learned_and_clipped():
    model = make_model(normalization="layer", temperature=0.2)
    inputs = random_inputs(batch=4)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model(inputs)
    before = float(model.logit_scale)
    assert abs(before - 5.0) < 1e-5
    model.fit(inputs, epochs=1, batch_size=4, verbose=0)
    assert abs(float(model.logit_scale) - before) > 1e-3
    # Beyond the clip: the forward pass and the next step both clip it.
    model.log_logit_scale.assign(math.log(1000.0))
    np.testing.assert_allclose(float(model.logit_scale), 100.0, rtol=1e-6)
    model.fit(inputs, epochs=1, batch_size=4, verbose=0)
    assert float(model.log_logit_scale) <= math.log(100.0) + 1e-6
    frozen = make_model(temperature=0.2, learn_temperature=False)
    frozen.compile(optimizer=keras.optimizers.SGD(0.5))
    frozen.fit(inputs, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_allclose(float(frozen.logit_scale), 5.0, rtol=1e-6)


def test_retrieve_equals_numpy_argsort():
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((6, 8)).astype("float32")
    candidates = rng.standard_normal((10, 8)).astype("float32")
    indices, scores = make_model().retrieve(queries, candidates, k=3)
    expected = np.argsort(-(queries @ candidates.T), axis=1)[:, :3]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(
        scores, np.take_along_axis(queries @ candidates.T, expected, 1), 1e-5
    )
    reverse, _ = make_model().retrieve(candidates, queries, k=2)
    np.testing.assert_array_equal(
        reverse, np.argsort(-(candidates @ queries.T), axis=1)[:, :2]
    )


class OneHotEncoder(keras.layers.Layer):
    """Test tower: its input, flattened, is the pooled embedding."""

    def call(self, inputs, training=None):
        flat = ops.reshape(inputs, (ops.shape(inputs)[0], -1))
        return {"pooled": ops.cast(flat, "float32")}

    def compute_output_shape(self, shape):
        return {"pooled": (shape[0], int(np.prod(shape[1:])))}


def test_evaluate_retrieval_on_known_embeddings():
    model = DualEncoder(OneHotEncoder(), OneHotEncoder(), projection_dim=4)
    images = np.eye(4, dtype="float32").reshape(4, 1, 1, 4)
    texts = np.eye(4, dtype="int32")
    model({"image": images, "token_ids": texts})
    for projection in (model.image_projection, model.text_projection):
        projection.set_weights([np.eye(4, dtype="float32")])
    same = tf.data.Dataset.from_tensor_slices(
        {"image": images, "token_ids": texts}
    ).batch(3)
    assert model.evaluate_retrieval(same, ks=(1,)) == {
        "recall_at_1_image_to_text": 1.0,
        "recall_at_1_text_to_image": 1.0,
    }
    # Pairs 0 and 1 swap texts: each ranks the other's text first.
    swapped = (
        same.unbatch()
        .batch(4)
        .map(
            lambda x: {
                **x,
                "token_ids": tf.gather(x["token_ids"], [1, 0, 2, 3]),
            }
        )
    )
    result = model.evaluate_retrieval(swapped, ks=(1, 2))
    assert result["recall_at_1_image_to_text"] == 0.5
    assert result["recall_at_2_image_to_text"] == 1.0
    assert result["recall_at_1_text_to_image"] == 0.5
    # true@1 counts a top hit as right when it is relevant, paired or not.
    paired_only = model.evaluate_retrieval(swapped, (1,), relevant=np.eye(4))
    assert paired_only["true_at_1_image_to_text"] == 0.5
    assert paired_only["true_at_1_text_to_image"] == 0.5
    relevant = np.eye(4, dtype=bool)
    relevant[0, 1] = relevant[1, 0] = True  # texts 0 and 1 fit both
    both = model.evaluate_retrieval(swapped, (1,), relevant=relevant)
    assert both["true_at_1_image_to_text"] == 1.0
    assert both["true_at_1_text_to_image"] == 1.0
    with pytest.raises(ValueError, match=r"relevant must be \(pairs, pairs\)"):
        model.evaluate_retrieval(swapped, (1,), relevant=np.eye(3))


def test_short_training_on_shapes_captions_beats_chance():
    keras.utils.set_random_seed(0)
    # The whole 75x75 scenes: objects are a few pixels wide.
    preprocessor = make_preprocessor(size=None)
    model = make_model(normalization="layer", preprocessor=preprocessor)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    train = raw_pairs(64, batch_size=16).cache()
    model.fit(train, epochs=20, verbose=0)
    result = model.evaluate_retrieval(train, ks=(5,))
    # Chance is 5 / 64 = 0.08 each way.
    assert result["recall_at_5_image_to_text"] > 0.3, result
    assert result["recall_at_5_text_to_image"] > 0.3, result


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"projection_dim": 0}, "projection_dim=0"),
        ({"temperature": 0.0}, "temperature=0.0"),
        ({"temperature": 0.001}, "temperature=0.001"),
        ({"max_logit_scale": -1}, "max_logit_scale=-1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_model(**kwargs)


@pytest.mark.parametrize("k, message", [(0, "k=0"), (11, "k=11")])
def test_bad_retrieve_k(k, message):
    embeddings = np.ones((10, 8), "float32")
    with pytest.raises(ValueError, match=message):
        make_model().retrieve(embeddings, embeddings, k=k)


def test_reloaded_model_is_compiled_with_its_defaults(tmp_path):
    model = make_model()
    model.compile()
    model(random_inputs())
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert reloaded.compiled
    assert isinstance(reloaded.optimizer, keras.optimizers.AdamW)
    assert isinstance(reloaded.loss, mmkeras.losses.InfoNCE)


def test_a_frozen_tower_stays_frozen_through_a_keras_file(tmp_path):
    from mmkeras.testing import tiny_models

    model = tiny_models.model("dual_encoder")
    model.text_encoder.trainable = False
    path = str(tmp_path / "frozen.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert len(reloaded.trainable_weights) == len(model.trainable_weights)
    before = [w.numpy() for w in reloaded.text_encoder.weights]
    raw = {
        "image": np.random.default_rng(0).integers(0, 256, (4, 24, 24, 3)),
        "caption": np.array(["the red circle", "blue", "what shape", "red"]),
    }
    raw["image"] = raw["image"].astype("uint8")
    reloaded.compile()
    image_before = [w.numpy() for w in reloaded.image_encoder.weights]
    reloaded.fit(raw, epochs=1, verbose=0)
    for a, b in zip(before, reloaded.text_encoder.weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    after = reloaded.image_encoder.weights
    changed = [
        not np.array_equal(a, b.numpy())
        for a, b in zip(image_before, after, strict=True)
    ]
    assert any(changed), "the trainable tower did not train"


@pytest.fixture(scope="module")
def tiny():
    from mmkeras.testing import tiny_models

    return tiny_models.model("dual_encoder")


def _scenes(count, seed=2, size=30):
    rng = np.random.default_rng(seed)
    return list(rng.integers(0, 256, (count, size, size, 3), "uint8"))


def test_explain_ranks_the_texts_for_the_image(tiny, tmp_path):
    image = _scenes(1, size=40)[0]
    texts = ["a red circle", "the blue shape", "what colour is it", "red"]
    path = tmp_path / "ranked.png"
    best = tiny.explain(image, str(path), texts=texts)
    pixels = tiny.preprocessor.convert_images(image[None])
    scores = np.asarray(tiny.score(pixels, tiny.tokenizer(texts)))[0]
    assert best == texts[int(np.argmax(scores))]
    assert len(set(np.round(scores, 6))) == len(texts)  # a strict order
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == (1 + len(texts)) * explain.PANEL
    # The first panel is the image the model saw (24x24, drawn larger).
    drawn = sheet[: explain.PANEL, : explain.PANEL].astype(float)
    seen = explain.panel(np.asarray(pixels[0]) * 255.0)
    assert np.abs(drawn[2:-2, 2:-2] - seen[2:-2, 2:-2]).max() <= 1


def test_explain_needs_texts_and_a_tokenizer(tiny, tmp_path):
    image = _scenes(1)[0]
    with pytest.raises(RequestError, match="--text, repeatable"):
        tiny.explain(image, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="texts must be a list of strings"):
        tiny.explain(image, str(tmp_path / "x.png"), texts=[b"bytes"])
    with pytest.raises(ValueError, match="Received: preprocessor=None"):
        make_model().explain(image, str(tmp_path / "x.png"), texts=["a"])


def test_draw_retrieval_draws_each_texts_best_images_in_order(tiny, tmp_path):
    images = _scenes(5)
    texts = ["a red circle", "a blue square above a green circle"]
    path = tmp_path / "ranked.png"
    indices, scores = tiny.draw_retrieval(texts, images, str(path), k=3)
    pixels = tiny.preprocessor.convert_images(np.stack(images))
    expected = np.asarray(tiny.score(pixels, tiny.tokenizer(texts))).T
    np.testing.assert_array_equal(indices, np.argsort(-expected, 1)[:, :3])
    np.testing.assert_allclose(
        scores, np.sort(expected, 1)[:, ::-1][:, :3], atol=1e-5
    )
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == 4 * explain.PANEL  # the text, then 3 images
    assert sheet.shape[0] > 2 * explain.PANEL  # one row per text
    with pytest.raises(ValueError, match="k must be at most"):
        tiny.draw_retrieval(texts, images, str(path), k=6)


def test_the_explain_command_without_texts_is_a_usage_error(tiny, tmp_path):
    from click.testing import CliRunner

    from mmkeras.cli.main import cli

    model_path = str(tmp_path / "model.keras")
    tiny.save(model_path)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_scenes(1)[0]).save(image_path)
    out = str(tmp_path / "ranked.png")
    result = CliRunner().invoke(
        cli, ["explain", model_path, "--image", str(image_path), "--out", out]
    )
    assert result.exit_code == 2
    assert "a dual encoder ranks texts" in result.output
