import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

import mmkeras
from mmkeras import explain as drawing
from mmkeras.cli.main import cli
from mmkeras.models.captioner import CaptionerPreprocessor
from mmkeras.models.captioner import ImageCaptioner
from mmkeras.testing import run_generation_test
from mmkeras.testing import run_task_test

LENGTH = 12  # start token and the longest caption, 10 words
RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
SIZE = 75  # the shapes scenes' size


def _captions(num_images=8):
    elements = list(
        mmkeras.data.shapes_captions(
            num_images, seed=0, split="train", captions_per_image=1
        ).as_numpy_iterator()
    )
    images = np.stack([e["image"] for e in elements])
    return images, [e["caption"].decode() for e in elements]


def _tokenizer(captions):
    words = sorted({w for c in captions for w in c.split()})
    return mmkeras.text.WordPieceTokenizer(
        RESERVED + words, sequence_length=LENGTH + 1, add_start_end=True
    )


def _preprocessor(tokenizer, image_size=(SIZE, SIZE)):
    return CaptionerPreprocessor(
        mmkeras.layers.ImageConverter(image_size), tokenizer, LENGTH
    )


def _captioner(preprocessor=None, **kwargs):
    encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16, 16, 16), hidden_dim=16, normalization="layer"
    )
    tokenizer = getattr(preprocessor, "tokenizer", None)
    kwargs = {
        "vocabulary_size": tokenizer.vocabulary_size() if tokenizer else 30,
        "sequence_length": LENGTH,
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 32,
        "intermediate_dim": 64,
        "preprocessor": preprocessor,
        "xla": False,  # compiling the blocks would double the time
        **kwargs,
    }
    if tokenizer is None:
        kwargs.setdefault("start_token_id", 2)
        kwargs.setdefault("end_token_id", 3)
    return ImageCaptioner(encoder, **kwargs)


def _raw(images, captions, batch_size=4):
    data = {"image": images, "caption": captions}
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


@pytest.fixture(scope="module")
def data():
    return _captions()


@pytest.fixture(scope="module")
def model(data):
    """A captioner overfitted to the 8 captions, so decoding is varied."""
    images, captions = data
    keras.utils.set_random_seed(0)
    captioner = _captioner(_preprocessor(_tokenizer(captions)))
    captioner.compile(optimizer=keras.optimizers.Adam(3e-3))
    raw = _raw(images, captions, batch_size=8)
    captioner.fit(raw.cache().repeat(), steps_per_epoch=150, verbose=0)
    return captioner


def _pixels(model, images):
    return model.preprocessor.generate_preprocess(images).numpy()


def test_basics(data):
    images, captions = data
    # Equal caption lengths per replica: the masked loss is a mean over
    # each replica's real tokens, so mirrored parity needs equal counts.
    alternating = [captions[i % 2] for i in range(len(captions))]
    tokenizer = _tokenizer(captions)
    model = run_task_test(
        lambda: _captioner(_preprocessor(tokenizer)),
        _raw(images, alternating),
    )
    logits = model.predict(_raw(images, captions), verbose=0)
    assert logits.shape == (8, LENGTH, model.vocabulary_size)
    config = model.get_config()
    assert ImageCaptioner.from_config(config).get_config() == config


def test_generation(model, data):
    ids = run_generation_test(model, _pixels(model, data[0]))
    assert len({tuple(row) for row in ids}) > 1, "decoding is degenerate"
    assert np.all(ids[:, 0] == model.start_token_id)


def test_round_trip_keeps_the_preprocessor_and_the_captions(model, data):
    images = data[0]
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "captioner.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.preprocessor, CaptionerPreprocessor)
    assert reloaded.input_shapes() == {
        "image": (None, SIZE, SIZE, 3),
        "token_ids": (None, LENGTH),
    }
    assert reloaded.generate(images) == model.generate(images)


def test_raw_images_go_through_the_preprocessor_only(model, data):
    images = data[0]
    # uint8 and [0, 1] floats convert alike; a model input must be float.
    assert model.generate(images) == model.generate(images / 255.0)
    token_ids = np.ones((2, LENGTH), "int32")
    with pytest.raises(TypeError, match="not uint8 images.*preprocessor"):
        model({"image": images[:2], "token_ids": token_ids})
    detached = _captioner(None, vocabulary_size=model.vocabulary_size)
    detached.build({"image": images.shape})
    with pytest.raises(TypeError, match="Received: dtype uint8"):
        detached.generate(images)
    pixels = _pixels(model, images)
    detached.set_weights(model.get_weights())
    np.testing.assert_array_equal(
        detached.generate(pixels), model.generate(images, return_strings=False)
    )


def test_cache_spec_declares_the_cache(model, data):
    spec = model.cache_spec(7)
    cache = model.build_cache(_pixels(model, data[0][:3]), 7)
    tf.nest.assert_same_structure(cache, spec)
    # 75 px through four stride-2 convs: a 5x5 grid of image tokens.
    shapes = {k: [s.shape.as_list() for s in v] for k, v in spec.items()}
    assert shapes == {
        "cross": [[None, 2, 25, 2, 16]] * 2,
        "self": [[None, 2, 7, 2, 16]] * 2,
    }
    for entry, entry_spec in zip(
        tf.nest.flatten(cache), tf.nest.flatten(spec), strict=True
    ):
        assert entry.shape[0] == 3 and entry_spec.is_compatible_with(entry)


def test_generate_returns_strings(model, data):
    images = data[0][:3]
    ids = model.generate(images, return_strings=False)
    strings = model.generate(images)
    vocabulary = model.tokenizer.get_vocabulary()
    for row, text in zip(ids, strings, strict=True):
        words = [vocabulary[i] for i in row[1:] if i > 3]
        assert text == " ".join(words)
    assert isinstance(strings[0], str)


def test_overfits_eight_captions(model, data):
    images, captions = data
    assert model.generate(images) == captions


def test_start_and_end_ids_default_from_the_preprocessor(data):
    tokenizer = _tokenizer(data[1])
    model = _captioner(_preprocessor(tokenizer))
    assert model.start_token_id == tokenizer.start_token_id == 2
    assert model.end_token_id == tokenizer.end_token_id == 3
    assert model.tokenizer is tokenizer


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocabulary_size": 0}, "vocabulary_size=0"),
        ({"sequence_length": -1}, "sequence_length=-1"),
        ({"num_layers": 0}, "num_layers=0"),
        ({"num_heads": 3}, "num_heads=3"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"end_token_id": 500}, "end_token_id=500"),
        ({"pad_token_id": -1}, "pad_token_id=-1"),
        ({"vocabulary_size": 5}, "vocabulary_size=5"),
        ({"sequence_length": 4}, "preprocessor.sequence_length=12"),
        ({"preprocessor": None, "start_token_id": None}, "start_token_id=None"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        kwargs = {"preprocessor": _preprocessor(_tokenizer(data[1])), **kwargs}
        _captioner(**kwargs)


def test_a_preprocessor_of_another_family_is_refused():
    other = mmkeras.models.FusionPreprocessor()
    with pytest.raises(TypeError, match="Received: a FusionPreprocessor"):
        _captioner(other)


def test_bad_max_length(model, data):
    with pytest.raises(ValueError, match=f"max_length={LENGTH + 1}"):
        model.generate(data[0], max_length=LENGTH + 1)


def test_coordinates_tag_each_image_token_with_its_grid_position(data):
    images, captions = data
    keras.utils.set_random_seed(0)
    model = _captioner(_preprocessor(_tokenizer(captions)), coordinates=True)
    pixels = (images / 255.0).astype("float32")
    inputs = {"image": pixels, "token_ids": np.ones((8, LENGTH), "int32")}
    logits = model(inputs).numpy()
    tokens = model.image_encoder(pixels)["tokens"].numpy()
    # 75 px through four stride-2 convs: a 5x5 grid, row by row.
    assert tokens.shape[1] == 25
    rows, columns = np.divmod(np.arange(25), 5)
    grid = np.stack([rows, columns], -1) / 2.0 - 1.0
    # Tokens scaled to RMS norm 1 per image, so position weighs as much
    # as content; their relative sizes are kept.
    rms = np.sqrt(np.mean(np.sum(tokens**2, -1), 1))[:, None, None]
    tagged = np.concatenate(
        [tokens / rms, np.broadcast_to(grid, (8, 25, 2))], -1
    )
    np.testing.assert_allclose(
        model.encode_images(pixels),
        model.image_projection(tagged.astype("float32")),
        atol=1e-5,
    )
    assert model.get_config()["coordinates"] is True
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "captioner.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded(inputs).numpy(), logits)


class _PixelTokens(keras.layers.Layer):
    """Every pixel a token: as many tokens as the image has pixels."""

    def call(self, images):
        batch = keras.ops.shape(images)[0]
        return {"tokens": keras.ops.reshape(images, (batch, -1, 3))}


def test_coordinates_need_a_static_number_of_image_tokens():
    model = ImageCaptioner(
        _PixelTokens(),
        vocabulary_size=30,
        sequence_length=LENGTH,
        hidden_dim=16,
        start_token_id=2,
        end_token_id=3,
        coordinates=True,
    )
    with pytest.raises(
        ValueError,
        match=r"ImageCaptioner\(coordinates=True\) tags image tokens .*"
        r"static.*\(None, None, 3\)",
    ):
        model.build({"image": (None, None, None, 3)})


def _image():
    return np.random.default_rng(0).integers(0, 256, (40, 30, 3), "uint8")


def test_explain_draws_one_panel_per_word_after_the_image(model, tmp_path):
    path = tmp_path / "where.png"
    caption = model.explain(_image(), str(path))
    assert caption == model.generate(_image()[None])[0]
    ids = model.generate(_image()[None], return_strings=False)[0]
    words = int(np.sum(~np.isin(ids[1:], [0, model.end_token_id])))
    assert words > 0
    panels = 1 + words
    columns = min(panels, drawing.PANELS_PER_ROW)
    rows = -(-panels // columns)
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == columns * drawing.PANEL
    assert sheet.shape[0] % rows == 0 and sheet.shape[0] > rows * drawing.PANEL
    # A map panel is the image, dimmed where the model did not look.
    first = sheet[: drawing.PANEL, : drawing.PANEL].astype(int)
    second = sheet[: drawing.PANEL, drawing.PANEL : 2 * drawing.PANEL]
    assert np.all(second <= first + 1)
    assert np.any(second < first - 10)
    assert np.abs(second - first).min() <= 1  # the brightest spot


def test_explain_needs_a_tokenizer(model, tmp_path):
    config = model.get_config()
    config["preprocessor"] = None
    detached = ImageCaptioner.from_config(config)
    with pytest.raises(ValueError, match="Received: tokenizer=None"):
        detached.explain(_image(), str(tmp_path / "x.png"))


def test_the_maps_are_distributions_over_image_tokens(model, data):
    pixels = _pixels(model, data[0][:2])
    ids = model.generate(data[0][:2], return_strings=False)
    maps = np.asarray(model.cross_attention_maps(pixels, ids))
    assert maps.shape == (2, ids.shape[1], 25)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)


def test_the_explain_command_prints_the_caption_and_writes_the_png(
    model, tmp_path
):
    model_path = str(tmp_path / "model.keras")
    model.save(model_path)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_image()).save(image_path)
    out = tmp_path / "maps.png"
    result = CliRunner().invoke(
        cli,
        ["explain", model_path, "--image", str(image_path), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    caption, written = result.output.splitlines()[-2:]
    assert caption == model.generate(_image()[None])[0]
    assert written == str(out)
    assert Image.open(out).format == "PNG"
