import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.models.hybrid_fusion import HybridFusionClassifier
from mmkeras.testing import run_task_test
from mmkeras.testing import tiny_models

BATCH, SIZE, LENGTH, CLASSES = 4, 8, 6, 3
WORDS = ["[PAD]", "[UNK]", "a", "the", "red", "blue", "green", "shape"]


def make_model(**kwargs):
    keras.utils.set_random_seed(0)
    return HybridFusionClassifier(
        # Layer norm: batch norm statistics are per replica when mirrored.
        mmkeras.encoders.ConvImageEncoder(
            filters=(4, 8), hidden_dim=8, normalization="layer"
        ),
        mmkeras.encoders.TransformerTextEncoder(
            vocabulary_size=len(WORDS),
            sequence_length=LENGTH,
            hidden_dim=8,
            num_layers=1,
            num_heads=2,
            intermediate_dim=16,
            dropout=0.0,  # the mirrored check compares exact steps
        ),
        num_classes=CLASSES,
        hidden_dim=8,
        preprocessor=FusionPreprocessor(
            mmkeras.layers.ImageConverter(image_size=(SIZE, SIZE)),
            mmkeras.text.WordPieceTokenizer(WORDS, sequence_length=LENGTH),
        ),
        **kwargs,
    )


def raw_dataset(count=8, seed=0):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS[2:], 3)) for _ in range(count)]
    examples = {
        "image": rng.integers(0, 256, (count, 12, 10, 3), "uint8"),
        "text": np.array(texts),
        "label": np.arange(count) % CLASSES,
    }
    return tf.data.Dataset.from_tensor_slices(examples).batch(BATCH)


def test_basics():
    run_task_test(make_model, raw_dataset())


def _branch_logits(model, inputs):
    image = model.image_encoder(inputs["image"])["pooled"]
    text = model.text_encoder(inputs["token_ids"])["pooled"]
    features = [model.early_fusion([image, text]), image, text]
    return [
        np.asarray(head(branch))
        for head, branch in zip(model.heads, features, strict=True)
    ]


def test_logits_weigh_the_early_image_and_text_branches():
    model = make_model()
    inputs, _ = model.preprocessor(next(iter(raw_dataset().unbatch().batch(8))))
    logits = np.asarray(model(inputs))
    branches = _branch_logits(model, inputs)
    # Learned weights start equal: the mean of the three branches.
    assert model.branch_weights() == pytest.approx(
        {"early": 1 / 3, "image": 1 / 3, "text": 1 / 3}
    )
    np.testing.assert_allclose(logits, np.mean(branches, axis=0), atol=1e-5)
    model.late_fusion.weights[0].assign([2.0, 0.0, -1.0])
    weights = np.exp([2.0, 0.0, -1.0]) / np.sum(np.exp([2.0, 0.0, -1.0]))
    expected = np.tensordot(weights, np.stack(branches), axes=1)
    np.testing.assert_allclose(np.asarray(model(inputs)), expected, atol=1e-5)
    assert sum(model.branch_weights().values()) == pytest.approx(1.0)


def test_the_early_branch_sees_both_modalities():
    model = make_model()
    model(model.preprocessor(next(iter(raw_dataset())))[0])
    widths = [head.layers[0].kernel.shape[0] for head in model.heads]
    early, image, text = widths
    assert early == image + text


def test_exports_labels_through_the_fusion_serving(tmp_path):
    model = tiny_models.model("hybrid_fusion")
    written = mmkeras.testing.run_export_test(model, tmp_path, "saved_model")
    served = tf.saved_model.load(written["saved_model"])
    png = tf.io.encode_png(np.zeros((30, 20, 3), "uint8")).numpy()
    outputs = served.signatures["classify"](
        image_bytes=tf.constant([png]), text=tf.constant(["red circle"])
    )
    assert outputs["label"].numpy()[0].decode() in model.class_names
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(), 1.0)


def test_integer_images_are_refused_without_the_preprocessor():
    model = make_model()
    inputs, _ = model.preprocessor(next(iter(raw_dataset())))
    with pytest.raises(TypeError, match="preprocessor"):
        model({**inputs, "image": np.zeros((BATCH, SIZE, SIZE, 3), "uint8")})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(hidden_dim=-1), "hidden_dim"),
        (dict(dropout=1.5), "dropout"),
        (dict(class_names=["a"]), "class_names"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = dict(num_classes=CLASSES, hidden_dim=8)
    arguments.update(kwargs)
    image = mmkeras.encoders.ConvImageEncoder.from_preset("tiny")
    text = mmkeras.encoders.TransformerTextEncoder.from_preset(
        "tiny", vocabulary_size=10
    )
    with pytest.raises(ValueError, match=message):
        HybridFusionClassifier(image, text, **arguments)
