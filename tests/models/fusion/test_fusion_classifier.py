import os
import re
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.fusion import FUSIONS
from mmkeras.models.fusion import FusionClassifier
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.testing import run_task_test

BATCH, SIZE, LENGTH, CLASSES = 4, 8, 6, 3
WORDS = ["[PAD]", "[UNK]", "a", "the", "red", "blue", "green", "shape"]
VOCABULARY = 20


def make_preprocessor():
    return FusionPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(SIZE, SIZE)),
        mmkeras.text.WordPieceTokenizer(WORDS, sequence_length=LENGTH),
    )


def raw_examples(count=8, seed=0):
    """What the preprocessor takes: uint8 images of another size, texts
    and labels."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS[2:], 3)) for _ in range(count)]
    return {
        "image": rng.integers(0, 256, (count, 12, 10, 3), "uint8"),
        "text": np.array(texts),
        "label": np.arange(count) % CLASSES,
    }


def make_model(fusion="concat", **kwargs):
    # Layer norm, not batch norm: replicas would see different batch stats.
    image_encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8,), hidden_dim=16, normalization="layer"
    )
    text_encoder = mmkeras.encoders.TransformerTextEncoder(
        VOCABULARY,
        sequence_length=LENGTH,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
        xla=False,
    )
    kwargs = {"hidden_dim": 16, "num_heads": 2, "xla": False, **kwargs}
    return FusionClassifier(
        image_encoder, text_encoder, CLASSES, fusion, **kwargs
    )


def make_inputs(seed=0, batch=BATCH):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, VOCABULARY, (batch, LENGTH)).astype("int32")
    token_ids[:, LENGTH - 2 :] = 0  # padding
    images = rng.random((batch, SIZE, SIZE, 3)).astype("float32")
    return {"image": images, "token_ids": token_ids}


def test_basics():
    raw = tf.data.Dataset.from_tensor_slices(raw_examples()).batch(4)
    model = run_task_test(
        lambda: make_model("attention", preprocessor=make_preprocessor()),
        raw,
    )
    assert model.predict(raw, verbose=0).shape == (8, CLASSES)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_trains_and_round_trips(fusion):
    keras.utils.set_random_seed(0)
    model = make_model(fusion)
    inputs = make_inputs()
    labels = np.array([0, 1, 2, 1])
    model.compile()
    model(inputs)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(inputs, labels, batch_size=2, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert np.isfinite(history.history["loss"][0])
    assert model.optimizer.iterations.numpy() == 2
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, model.trainable_weights, strict=True)
    ]
    assert all(changed), "a trainable weight got no update"
    predictions = model.predict(inputs, verbose=0)
    assert predictions.shape == (BATCH, CLASSES)
    assert predictions.dtype == np.float32

    config = model.get_config()
    assert FusionClassifier.from_config(config).get_config() == config
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, FusionClassifier)
    assert reloaded.fusion == fusion and reloaded.compiled
    np.testing.assert_allclose(reloaded(inputs), predictions, atol=1e-6)


@pytest.mark.parametrize(
    "fusion, ignored, used",
    [("image_only", "token_ids", "image"), ("text_only", "image", "token_ids")],
)
def test_unimodal_baselines_ignore_the_other_modality(fusion, ignored, used):
    model = make_model(fusion)
    inputs = make_inputs(seed=0)
    other = make_inputs(seed=1)
    expected = model(inputs).numpy()
    changed_ignored = model({**inputs, ignored: other[ignored]}).numpy()
    np.testing.assert_array_equal(changed_ignored, expected)
    # The modality it does read changes the output.
    changed_used = model({**inputs, used: other[used]}).numpy()
    assert np.abs(changed_used - expected).max() > 1e-4
    frozen = (
        model.text_encoder if ignored == "token_ids" else model.image_encoder
    )
    trainable = {id(w) for w in model.trainable_weights}
    assert frozen.weights and not any(
        id(w) in trainable for w in frozen.weights
    )


@pytest.mark.parametrize("fusion", ["concat", "gated", "bilinear", "attention"])
def test_fusions_read_both_modalities(fusion):
    model = make_model(fusion)
    inputs, other = make_inputs(seed=0), make_inputs(seed=1)
    expected = model(inputs).numpy()
    for key in ("image", "token_ids"):
        changed = model({**inputs, key: other[key]}).numpy()
        assert np.abs(changed - expected).max() > 1e-5, key


def test_late_fusion_combines_the_per_modality_heads():
    model = make_model("late")
    inputs = make_inputs()
    model(inputs)
    model.fusion_layer.modality_logits.assign([0.7, -0.4])
    image = model.image_encoder(inputs["image"])["pooled"]
    text = model.text_encoder(inputs["token_ids"])["pooled"]
    image_logits = model.image_head(image).numpy()
    text_logits = model.text_head(text).numpy()
    weights = np.exp([0.7, -0.4]) / np.exp([0.7, -0.4]).sum()
    expected = weights[0] * image_logits + weights[1] * text_logits
    np.testing.assert_allclose(model(inputs), expected, atol=1e-5)
    assert np.abs(image_logits - text_logits).max() > 1e-3


def test_attention_fusion_ignores_padded_tokens():
    model = make_model("attention")
    inputs = make_inputs()
    expected = model(inputs).numpy()
    # Padded tokens still get encoder outputs; only the mask hides them.
    tokens = model.text_encoder(inputs["token_ids"])["tokens"].numpy()
    tokens[:, LENGTH - 2 :] = 100.0
    image_tokens = model.image_encoder(inputs["image"])["tokens"]
    mask = inputs["token_ids"] != 0
    fused = model.fusion_layer([image_tokens, tokens], mask=[None, mask])
    np.testing.assert_allclose(model.head(fused), expected, atol=1e-5)


def test_mirrored_strategy_matches_single_device():
    inputs = make_inputs(batch=8)
    labels = np.arange(8) % CLASSES

    def train(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = make_model("attention")
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        data = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
        history = model.fit(data, epochs=2, shuffle=False, verbose=0)
        return history.history["loss"], model.get_weights()

    single_loss, single_weights = train(tf.distribute.get_strategy())
    devices = ["/cpu:0", "/cpu:1"]
    loss, weights = train(mmkeras.training.strategy(devices=devices))
    np.testing.assert_allclose(loss, single_loss, atol=1e-4)
    for actual, expected in zip(weights, single_weights, strict=True):
        np.testing.assert_allclose(actual, expected, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"fusion": "early"},
            ValueError,
            "fusion must be one of 'concat', 'gated', 'bilinear', "
            "'attention', 'late', 'image_only', 'text_only'. "
            "Received: fusion='early'",
        ),
        ({"num_classes": 0}, ValueError, "Received: num_classes=0"),
        ({"hidden_dim": -2}, ValueError, "Received: hidden_dim=-2"),
        ({"dropout": 1.0}, ValueError, "Received: dropout=1.0"),
        (
            {"fusion": "attention", "num_heads": 3},
            ValueError,
            "hidden_dim=16, num_heads=3",
        ),
        ({"image_encoder": "conv"}, TypeError, "image_encoder='conv'"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    arguments = {
        "image_encoder": mmkeras.encoders.ConvImageEncoder(filters=(8,)),
        "text_encoder": mmkeras.encoders.TransformerTextEncoder(VOCABULARY),
        "num_classes": CLASSES,
        "hidden_dim": 16,
        **kwargs,
    }
    with pytest.raises(error, match=re.escape(message)):
        FusionClassifier(**arguments)


def test_a_raw_fit_equals_a_fit_on_preprocessed_inputs():
    raw = raw_examples()
    preprocessor = make_preprocessor()
    inputs, labels = preprocessor(raw)

    def fitted(with_preprocessor):
        keras.utils.set_random_seed(0)
        preprocessor = make_preprocessor() if with_preprocessor else None
        model = make_model("gated", preprocessor=preprocessor)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        if with_preprocessor:
            model.fit(raw, batch_size=4, epochs=1, shuffle=False, verbose=0)
        else:
            model.fit(
                inputs, labels, batch_size=4, epochs=1, shuffle=False, verbose=0
            )
        return model

    attached, detached = fitted(True), fitted(False)
    for a, b in zip(attached.weights, detached.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    np.testing.assert_allclose(
        attached.predict(raw, verbose=0), detached(inputs), atol=1e-6
    )


def test_integer_images_are_refused():
    model = make_model()
    inputs = make_inputs()
    model(inputs)
    uint8 = {**inputs, "image": (inputs["image"] * 255).astype("uint8")}
    with pytest.raises(TypeError, match="takes float pixels.*uint8"):
        model(uint8)


def test_a_preprocessor_of_another_family_is_refused():
    other = mmkeras.models.DualEncoderPreprocessor()
    with pytest.raises(TypeError, match="takes a FusionPreprocessor"):
        make_model(preprocessor=other)
