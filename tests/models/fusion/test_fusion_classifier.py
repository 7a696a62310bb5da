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


# One of each fusion head of `mmkeras.layers`, by its VQAModel shortcut.
HEADS = {
    "co_attention": lambda: mmkeras.layers.CoAttentionFusionHead(
        16, 2, xla=False
    ),
    "concat": lambda: mmkeras.layers.ConcatFusionHead(),
    "bilinear": lambda: mmkeras.layers.BilinearFusionHead(16, 2, xla=False),
    "attention": lambda: mmkeras.layers.AttentionFusionHead(16, 2, xla=False),
    "relation": lambda: mmkeras.layers.RelationFusionHead(16),
    "transformer": lambda: mmkeras.layers.TransformerFusionHead(
        16, 2, num_layers=1, xla=False
    ),
    "film": lambda: mmkeras.layers.FiLMFusionHead(16, num_layers=2),
}


def colour_task(count=12, seed=0):
    """A learnable toy: the label is the image's brightest channel."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % CLASSES
    images = rng.random((count, SIZE, SIZE, 3)).astype("float32") * 0.3
    images[np.arange(count), :, :, labels] += 0.7
    inputs = make_inputs(seed, batch=count)
    return {**inputs, "image": images}, labels


def test_a_head_object_passes_the_task_test():
    # Mirrored parity and a mixed_float16 fit, with a head the caller made
    # (under the policy in force when `build_model` is called).
    raw = tf.data.Dataset.from_tensor_slices(raw_examples()).batch(4)
    model = run_task_test(
        lambda: make_model(
            HEADS["co_attention"](), preprocessor=make_preprocessor()
        ),
        raw,
    )
    assert isinstance(model.fusion, mmkeras.layers.CoAttentionFusionHead)


@pytest.mark.parametrize("head", ["co_attention", "film"])
def test_a_head_object_trains_and_round_trips(head):
    keras.utils.set_random_seed(0)
    layer = HEADS[head]()
    model = make_model(layer)
    assert model.fusion is layer and model.fusion_layer is layer
    inputs, labels = colour_task()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(
        inputs, labels, batch_size=4, epochs=8, shuffle=False, verbose=0
    )
    loss = history.history["loss"]
    assert np.all(np.isfinite(loss))
    assert loss[-1] < 0.5 * loss[0], loss
    trained = {id(w) for w in model.trainable_weights}
    assert layer.trainable_weights
    assert all(id(w) in trained for w in layer.trainable_weights)
    predictions = model.predict(inputs, verbose=0)
    assert predictions.dtype == np.float32

    config = model.get_config()
    assert config["fusion"]["class_name"] == type(layer).__name__
    assert FusionClassifier.from_config(config).get_config() == config
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert type(reloaded.fusion) is type(layer)
    assert reloaded.fusion.get_config() == layer.get_config()
    assert reloaded.compiled
    np.testing.assert_array_equal(
        reloaded.predict(inputs, verbose=0), predictions
    )


@pytest.mark.parametrize("head", list(HEADS))
def test_a_head_fuses_as_in_a_vqa_model(head):
    """One head and one pair of encoders in a VQAModel and a
    FusionClassifier: the classifier's logits are its head on the fused
    vector the VQA model's head makes (padding masked the same way)."""
    keras.utils.set_random_seed(0)
    layer = HEADS[head]()
    classifier = make_model(layer)
    inputs = make_inputs()
    vqa = mmkeras.models.VQAModel(
        classifier.image_encoder,
        classifier.text_encoder,
        num_answers=5,
        fusion=layer,
        hidden_dim=16,
        num_heads=2,
        xla=False,
    )
    vqa({"image": inputs["image"], "question_ids": inputs["token_ids"]})
    assert vqa.head is layer
    head_inputs = vqa._encode(
        {"image": inputs["image"], "question_ids": inputs["token_ids"]},
        training=False,
    )
    fused = layer(*head_inputs)
    np.testing.assert_allclose(
        classifier(inputs), classifier.head(fused), atol=1e-6
    )
    # Both modalities reach the logits.
    other = make_inputs(seed=1)
    for key in ("image", "token_ids"):
        changed = classifier({**inputs, key: other[key]}).numpy()
        assert np.abs(changed - classifier(inputs)).max() > 1e-5, key


@pytest.mark.parametrize("head", list(HEADS))
def test_a_head_gets_the_padding_mask(head):
    keras.utils.set_random_seed(0)
    model = make_model(HEADS[head]())
    inputs = make_inputs()  # the last two tokens are padding
    expected = model(inputs).numpy()
    short = {**inputs, "token_ids": inputs["token_ids"][:, : LENGTH - 2]}
    np.testing.assert_allclose(model(short), expected, atol=1e-5)


def test_a_model_with_a_head_object_exports(tmp_path):
    from mmkeras.export import uses_xla
    from mmkeras.export import with_xla
    from mmkeras.models import _tiny
    from mmkeras.testing import run_export_test

    keras.utils.set_random_seed(0)
    head = mmkeras.layers.CoAttentionFusionHead(16, 2, xla=True)
    model = FusionClassifier(
        _tiny.image_encoder(),
        _tiny.text_encoder(_tiny.tokenizer().vocabulary_size()),
        num_classes=3,
        fusion=head,
        hidden_dim=16,
        xla=False,
        preprocessor=_tiny.preprocessor(FusionPreprocessor, True),
        class_names=["no", "yes", "maybe"],
    )
    model({"image": _tiny.images(), "token_ids": _tiny.token_ids()})
    # The head's own `xla` is what the export switches off and on.
    assert uses_xla(model)
    assert with_xla(model, False).fusion.xla is False
    written = run_export_test(model, tmp_path, "all")
    assert {"saved_model", "saved_model_xla", "onnx"} <= set(written)


@pytest.mark.parametrize(
    "fusion, received",
    [
        (keras.layers.Dense(3), "a layer called as call(inputs"),
        (mmkeras.layers.ConcatFusion(), "a layer called as call(inputs"),
        (mmkeras.layers.CoAttentionFusionHead, "fusion=<class"),
        (None, "fusion=None"),
    ],
)
def test_a_fusion_that_is_not_a_head_is_refused(fusion, received):
    accepted = (
        "fusion must be one of 'concat', 'gated', 'bilinear', 'attention', "
        "'late', 'image_only', 'text_only' or a fusion head layer called "
        "as head(image_tokens, question_tokens, question_mask, "
        "question_pooled)"
    )
    with pytest.raises(TypeError, match=re.escape(accepted)) as error:
        make_model(fusion)
    assert received in str(error.value)
