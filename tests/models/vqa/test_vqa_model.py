import json
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import mmkeras
from mmkeras.models.serving import RequestError
from mmkeras.models.vqa import FUSIONS
from mmkeras.models.vqa import VQAModel
from mmkeras.models.vqa import VQAPreprocessor
from mmkeras.testing import run_task_test
from mmkeras.testing import tiny_models as tiny

SIZE, LENGTH, ANSWERS = 16, 8, 5
WORDS = ["what", "shape", "colour", "is", "the", "red", "blue", "circle"]
VOCABULARY_SIZE = 20


def make_preprocessor():
    reserved = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return VQAPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(SIZE, SIZE)),
        mmkeras.text.WordPieceTokenizer(
            reserved + WORDS, sequence_length=LENGTH
        ),
    )


def raw_examples(count=8, seed=0):
    """What the preprocessor takes: uint8 images of another size,
    questions and answer ids."""
    rng = np.random.default_rng(seed)
    questions = [" ".join(rng.choice(WORDS, 4)) for _ in range(count)]
    return {
        "image": rng.integers(0, 256, (count, 20, 18, 3), "uint8"),
        "question": np.array(questions),
        "answer_id": (np.arange(count) % ANSWERS).astype("int32"),
    }


def _encoders(normalization="batch", question_input="tokens"):
    image_encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16), hidden_dim=16, normalization=normalization
    )
    if question_input == "encoding":
        return image_encoder, None
    text_encoder = mmkeras.encoders.TransformerTextEncoder(
        vocabulary_size=VOCABULARY_SIZE,
        sequence_length=12,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
        xla=False,
    )
    return image_encoder, text_encoder


def _model(fusion="co_attention", xla=False, **kwargs):
    encoders = _encoders(
        kwargs.pop("normalization", "batch"),
        kwargs.get("question_input", "tokens"),
    )
    return VQAModel(
        *encoders,
        num_answers=ANSWERS,
        fusion=fusion,
        hidden_dim=16,
        num_heads=2,
        xla=xla,
        **kwargs,
    )


def _data(count=8, length=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCABULARY_SIZE, (count, length)).astype("int32")
    ids[::2, length - 2 :] = 0  # every other question is padded
    inputs = {
        "image": rng.random((count, SIZE, SIZE, 3)).astype("float32"),
        "question_ids": ids,
        "question_encoding": rng.random((count, 11)).astype("float32"),
    }
    return inputs, rng.integers(0, ANSWERS, count).astype("int32")


def _json(config):
    # Build shapes come back from JSON as lists, not tuples.
    return json.loads(json.dumps(config))


def _check_fit_and_round_trip(model, inputs, labels):
    model.compile()
    history = model.fit(inputs, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert set(history.history) == {"loss", "accuracy"}
    expected = model.predict(inputs, verbose=0)
    assert expected.shape == (len(labels), ANSWERS)
    assert expected.dtype == np.float32
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "vqa.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert _json(reloaded.get_config()) == _json(model.get_config())
    assert reloaded.compiled
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), expected)
    return reloaded


def test_basics():
    raw = tf.data.Dataset.from_tensor_slices(raw_examples()).batch(4)
    model = run_task_test(
        lambda: _model(normalization="layer", preprocessor=make_preprocessor()),
        raw,
    )
    assert model.predict(raw, verbose=0).shape == (8, ANSWERS)


def test_xla_cores_fit_and_round_trip():
    keras.utils.set_random_seed(0)
    inputs, labels = _data()
    model = _model(xla=True)
    _check_fit_and_round_trip(model, inputs, labels)
    assert model.optimizer.iterations.numpy() == 2


@pytest.mark.parametrize(
    "fusion, question_input",
    [
        ("concat", "tokens"),
        ("bilinear", "tokens"),
        ("attention", "tokens"),
        ("relation", "tokens"),
        ("relation", "encoding"),
        ("transformer", "tokens"),
        ("transformer", "encoding"),
        ("film", "tokens"),
        ("film", "encoding"),
    ],
)
def test_fusion_trains_and_round_trips(fusion, question_input):
    keras.utils.set_random_seed(0)
    inputs, labels = _data()
    model = _model(fusion, question_input=question_input)
    _check_fit_and_round_trip(model, inputs, labels)


HEAD_SHORTCUTS = {
    "co_attention": lambda: mmkeras.layers.CoAttentionFusionHead(
        16, 2, xla=False
    ),
    "concat": mmkeras.layers.ConcatFusionHead,
    "bilinear": lambda: mmkeras.layers.BilinearFusionHead(16, 2, xla=False),
    "attention": lambda: mmkeras.layers.AttentionFusionHead(16, 2, xla=False),
    "relation": lambda: mmkeras.layers.RelationFusionHead(16),
    "transformer": lambda: mmkeras.layers.TransformerFusionHead(
        16, 2, num_layers=2, xla=False
    ),
    "film": lambda: mmkeras.layers.FiLMFusionHead(16, num_layers=2),
}


@pytest.mark.parametrize("fusion", FUSIONS)
def test_a_shortcut_is_its_head_object(fusion):
    inputs, _ = _data(count=4)
    shortcut = _model(fusion)
    head = HEAD_SHORTCUTS[fusion]()
    model = _model(head)
    expected = shortcut(inputs)
    model(inputs)
    # The same weights, in the same order, give the same logits.
    model.set_weights(shortcut.get_weights())
    np.testing.assert_allclose(model(inputs), expected, atol=1e-5)
    assert model.head is head
    assert type(shortcut.head) is type(head)


def test_a_head_object_is_saved_with_the_model():
    keras.utils.set_random_seed(0)
    inputs, labels = _data()
    head = mmkeras.layers.FiLMFusionHead(8, num_layers=3, name="my_film")
    reloaded = _check_fit_and_round_trip(
        _model(head, question_input="encoding"), inputs, labels
    )
    assert isinstance(reloaded.head, mmkeras.layers.FiLMFusionHead)
    assert reloaded.head.name == "my_film"
    assert reloaded.head.get_config() == head.get_config()


@pytest.mark.parametrize("fusion", FUSIONS)
def test_question_padding_does_not_change_logits(fusion):
    keras.utils.set_random_seed(0)
    inputs, _ = _data(count=4, length=5)
    model = _model(fusion)
    short = model(inputs).numpy()
    padded = dict(
        inputs, question_ids=np.pad(inputs["question_ids"], [(0, 0), (0, 7)])
    )
    np.testing.assert_allclose(model(padded).numpy(), short, atol=1e-5)
    # The question matters: other words give other logits.
    other = dict(inputs, question_ids=inputs["question_ids"][::-1])
    assert not np.allclose(model(other).numpy(), short, atol=1e-4)


@pytest.mark.parametrize("fusion", ["co_attention", "bilinear", "attention"])
def test_image_attention_maps_weigh_the_image_tokens(fusion):
    keras.utils.set_random_seed(0)
    inputs, _ = _data(count=4, length=5)
    model = _model(fusion)
    maps = np.asarray(model.image_attention_maps(inputs))
    assert maps.shape == (4, 16)  # 16 px through two stride-2 convs: 4x4
    assert np.all(maps >= 0.0)
    total = maps.sum(-1)
    if fusion == "attention":  # the query also weighs the question tokens
        assert np.all((total > 0.0) & (total < 1.0))
    else:
        np.testing.assert_allclose(total, 1.0, atol=1e-5)
    padded = dict(
        inputs, question_ids=np.pad(inputs["question_ids"], [(0, 0), (0, 3)])
    )
    np.testing.assert_allclose(
        model.image_attention_maps(padded), maps, atol=1e-5
    )
    other = dict(inputs, question_ids=inputs["question_ids"][::-1])
    assert not np.allclose(model.image_attention_maps(other), maps)


@pytest.mark.parametrize(
    "fusion, head",
    [
        ("concat", "ConcatFusionHead"),
        ("relation", "RelationFusionHead"),
        ("transformer", "TransformerFusionHead"),
        ("film", "FiLMFusionHead"),
    ],
)
def test_fusions_without_a_question_to_image_attention_say_so(fusion, head):
    inputs, _ = _data(count=2)
    model = _model(fusion)
    with pytest.raises(ValueError, match=f"{head} has no attention"):
        model.image_attention_maps(inputs)


def test_film_needs_a_square_grid_of_image_tokens():
    vit = mmkeras.encoders.ViTImageEncoder(
        patch_size=8,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
    )
    model = VQAModel(vit, None, 5, fusion="film", question_input="encoding")
    inputs, _ = _data(count=2)
    with pytest.raises(ValueError, match="square grid.*Received: 5 image"):
        model({k: inputs[k] for k in ("image", "question_encoding")})


def test_integer_images_are_refused_not_cast():
    inputs, _ = _data(count=2)
    model = _model()
    model(inputs)
    pixels = (inputs["image"] * 255).astype("uint8")
    with pytest.raises(TypeError, match="Received: dtype uint8"):
        model(dict(inputs, image=pixels))


def test_raw_fit_equals_a_fit_on_preprocessed_inputs():
    raw = tf.data.Dataset.from_tensor_slices(raw_examples()).batch(4)
    preprocessor = make_preprocessor()
    weights = []
    for attached in (True, False):
        keras.utils.set_random_seed(0)
        model = _model(
            normalization="layer",
            preprocessor=preprocessor if attached else None,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        data = raw if attached else raw.map(preprocessor)
        model.fit(data, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for one, two in zip(*weights, strict=True):
        np.testing.assert_allclose(one, two, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_vqa():
    return tiny.model("vqa")


def _image():
    return np.random.default_rng(0).integers(0, 256, (40, 30, 3), "uint8")


def test_explain_answers_and_draws_the_question_map(tiny_vqa, tmp_path):
    path = tmp_path / "answer.png"
    question = "what shape is the small object left of the big red circle?"
    answer = tiny_vqa.explain(_image(), str(path), question=question)
    inputs = tiny_vqa.preprocessor(
        {"image": _image()[None], "question": [question]}
    )
    expected = tiny_vqa.answers[int(np.argmax(tiny_vqa(inputs)[0]))]
    assert answer == expected
    sheet = np.asarray(Image.open(path))
    panel = mmkeras.explain.PANEL
    assert sheet.shape[1] == 2 * panel
    # The second panel is the image, dimmed where the question did not look.
    first = sheet[:panel, :panel].astype(int)
    second = sheet[:panel, panel:].astype(int)
    assert np.all(second <= first + 1) and np.any(second < first - 10)
    short = tmp_path / "short.png"
    tiny_vqa.explain(_image(), str(short), question="what shape?")
    # The long question wraps onto more lines under its panel.
    assert sheet.shape[0] > np.asarray(Image.open(short)).shape[0]


def test_explain_needs_a_question_and_words(tiny_vqa, tmp_path):
    with pytest.raises(RequestError, match="needs --question"):
        tiny_vqa.explain(_image(), str(tmp_path / "a.png"))
    no_words = tiny.model("vqa", strings=False)
    with pytest.raises(ValueError, match="tokenizer=None, answers=None"):
        no_words.explain(_image(), str(tmp_path / "a.png"), question="what")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_answers=0), "num_answers=0"),
        (dict(fusion="mlp"), "fusion='mlp'"),
        (dict(question_input="text"), "question_input='text'"),
        (dict(hidden_dim=15), "hidden_dim=15"),
        (dict(num_heads=0), "num_heads=0"),
        (dict(dropout=1.5), "dropout=1.5"),
        (dict(fusion_layers=0), "fusion_layers=0"),
        (dict(text_encoder=None), "text_encoder=None"),
        (dict(image_encoder=None), "image_encoder=None"),
        (dict(question_input="encoding"), "text_encoder=<"),
        (
            dict(
                text_encoder=None,
                question_input="encoding",
                preprocessor=make_preprocessor(),
            ),
            "question_input='tokens'",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    image_encoder, text_encoder = _encoders()
    arguments = dict(
        image_encoder=image_encoder, text_encoder=text_encoder, num_answers=5
    )
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as error:
        VQAModel(**{**arguments, **kwargs})
    name = message.split("=")[0]
    assert name in str(error.value)


def test_another_familys_preprocessor_is_refused():
    image_encoder, text_encoder = _encoders()
    wrong = mmkeras.models.FusionPreprocessor(
        tokenizer=make_preprocessor().tokenizer
    )
    with pytest.raises(TypeError, match="VQAPreprocessor as preprocessor"):
        VQAModel(image_encoder, text_encoder, 5, preprocessor=wrong)
