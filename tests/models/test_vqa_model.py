import json
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.vqa_model import VQAModel
from mmkeras.models.vqa_model import vqa_preprocessor

FUSIONS = (
    "co_attention",
    "concat",
    "bilinear",
    "attention",
    "relation",
    "transformer",
    "film",
)
VOCABULARY_SIZE = 20


def _encoders(normalization="batch", xla=False):
    image_encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16), hidden_dim=16, normalization=normalization
    )
    text_encoder = mmkeras.encoders.TransformerTextEncoder(
        vocabulary_size=VOCABULARY_SIZE,
        sequence_length=12,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
        xla=xla,
    )
    return image_encoder, text_encoder


def _model(fusion="co_attention", xla=False, **kwargs):
    image_encoder, text_encoder = _encoders(
        kwargs.pop("normalization", "batch")
    )
    if kwargs.get("question_input") == "encoding":
        text_encoder = None
    return VQAModel(
        image_encoder,
        text_encoder,
        num_answers=5,
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
        "image": rng.random((count, 16, 16, 3)).astype("float32"),
        "question_ids": ids,
        "question_encoding": rng.random((count, 11)).astype("float32"),
    }
    return inputs, rng.integers(0, 5, count).astype("int32")


def _check_fit_and_round_trip(model, inputs, labels):
    model.compile()
    history = model.fit(inputs, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert set(history.history) == {"loss", "accuracy"}
    expected = model.predict(inputs, verbose=0)
    assert expected.shape == (len(labels), 5)
    assert expected.dtype == np.float32
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "vqa.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert _json(reloaded.get_config()) == _json(model.get_config())
    assert reloaded.compiled
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), expected)


def _json(config):
    # Build shapes come back from JSON as lists, not tuples.
    return json.loads(json.dumps(config))


def test_basics():
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
    "fusion", ["concat", "relation", "transformer", "film"]
)
def test_fusions_without_a_question_to_image_attention_say_so(fusion):
    inputs, _ = _data(count=2)
    model = _model(fusion)
    model(inputs)
    with pytest.raises(ValueError, match=f'fusion="{fusion}" has no'):
        model.image_attention_maps(inputs)


@pytest.mark.parametrize("fusion", ["relation", "transformer", "film"])
def test_object_fusions_know_where_each_image_token_is(fusion):
    keras.utils.set_random_seed(0)
    inputs, _ = _data(count=2)
    model = _model(fusion)
    model(inputs)
    rng = np.random.default_rng(0)
    image = rng.standard_normal((2, 16, 16)).astype("float32")
    question = rng.standard_normal((2, 6, 16)).astype("float32")
    mask, pooled = np.ones((2, 6), bool), question[:, 0]
    before = model.head(image, question, mask, pooled)
    # The same tokens in another order are other positions of the objects.
    after = model.head(image[:, ::-1], question, mask, pooled)
    assert not np.allclose(after, before, atol=1e-4)


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


def test_film_question_steers_the_features_before_pooling():
    """Two questions over one image give different fused vectors although
    FiLM's pooled question never reaches the output directly."""
    keras.utils.set_random_seed(0)
    inputs, _ = _data(count=2)
    model = _model("film", question_input="encoding")
    model(inputs)
    rng = np.random.default_rng(1)
    image = rng.standard_normal((1, 16, 16)).astype("float32")
    question = np.zeros((1, 1, 16), "float32")
    mask = np.ones((1, 1), bool)
    first, second = (
        model.head(image, question, mask, pooled)
        for pooled in rng.standard_normal((2, 1, 16)).astype("float32")
    )
    assert not np.allclose(first, second, atol=1e-4)


def test_film_blocks_dilate_to_see_the_whole_grid():
    from mmkeras.models import _vqa

    head = _vqa.FiLMHead(16, 2, 0.0, False, 5, name="film")
    head.build((None, 19 * 19, 8), (None, 1, 16), (None, 1), (None, 16))
    dilations = [conv.dilation_rate[0] for _, conv, _, _ in head.blocks]
    # A 3x3 conv dilated by d reaches d cells away; 1+2+4+8 covers 19.
    assert dilations == [1, 2, 4, 8, 9]


def test_relation_coordinates_tag_a_square_grid():
    from mmkeras.models import _grid

    coordinates = _grid.grid_coordinates(9)
    np.testing.assert_allclose(
        coordinates[[0, 1, 3, 8]], [[-1, -1], [-1, 0], [0, -1], [1, 1]]
    )
    np.testing.assert_allclose(_grid.grid_coordinates(3)[:, 0], [-1, 0, 1])


def _mirrored_run(initial_weights, strategy, dataset):
    with strategy.scope():
        model = _model("co_attention", normalization="layer")
        model(next(iter(dataset))[0])
        model.set_weights(initial_weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    return model.get_weights(), history.history["loss"][0]


def test_mirrored_training_matches_single_device():
    inputs, labels = _data(count=12)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    keras.utils.set_random_seed(0)
    model = _model("co_attention", normalization="layer")
    model(inputs)
    initial = model.get_weights()
    single, single_loss = _mirrored_run(
        initial, tf.distribute.get_strategy(), dataset
    )
    mirrored, mirrored_loss = _mirrored_run(
        initial,
        mmkeras.training.strategy(devices=["/cpu:0", "/cpu:1"]),
        dataset,
    )
    assert any(
        not np.allclose(a, b) for a, b in zip(single, initial, strict=True)
    )
    np.testing.assert_allclose(mirrored_loss, single_loss, atol=1e-4)
    for a, b in zip(mirrored, single, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_preprocessor_maps_sort_of_clevr_to_inputs():
    raw = mmkeras.data.sort_of_clevr(2, seed=0, batch_size=40)
    questions = [q.decode() for q in next(iter(raw))["question"].numpy()]
    tokenizer = mmkeras.text.WordPieceTokenizer(
        mmkeras.text.build_vocabulary(questions, 60), sequence_length=24
    )
    inputs, labels = next(iter(raw.map(vqa_preprocessor(tokenizer))))
    assert inputs["image"].dtype == tf.float32
    assert inputs["image"].shape == (40, 75, 75, 3)
    assert 0.0 <= np.min(inputs["image"]) and np.max(inputs["image"]) == 1.0
    ids = inputs["question_ids"].numpy()
    assert ids.shape == (40, 24) and ids.dtype == np.int32
    assert tokenizer.unknown_token_id not in ids
    text = tokenizer.detokenize(ids[:1]).numpy()[0].decode()
    assert text == questions[0].replace("?", " ?")
    np.testing.assert_array_equal(labels, next(iter(raw))["answer_id"])
    encoded, _ = next(
        iter(raw.map(vqa_preprocessor(question_input="encoding")))
    )
    assert sorted(encoded) == ["image", "question_encoding"]


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


def test_preprocessor_needs_a_tokenizer():
    with pytest.raises(ValueError, match="tokenizer=None"):
        vqa_preprocessor()
