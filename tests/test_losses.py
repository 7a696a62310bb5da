import keras
import numpy as np
import pytest

from mmkeras import losses

RNG = np.random.default_rng(0)


def _log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _masked_ce(labels, logits, pad_id, smoothing=0.0):
    log_probs = _log_softmax(logits.astype("float64"))
    vocabulary = logits.shape[-1]
    target = np.eye(vocabulary)[np.where(labels == pad_id, 0, labels)]
    target = target * (1 - smoothing) + smoothing / vocabulary
    token_losses = -(target * log_probs).sum(-1)
    real = labels != pad_id
    return token_losses[real].mean()


@pytest.mark.parametrize(
    "loss",
    [
        losses.MaskedSparseCategoricalCrossentropy(
            from_logits=True, pad_id=-100, label_smoothing=0.1
        ),
        losses.InfoNCE(),
        losses.TripletLoss(margin=0.5, negatives="all"),
    ],
)
def test_basics(loss):
    cls = type(loss)
    assert keras.saving.get_registered_object(f"mmkeras>{cls.__name__}") is cls
    config = loss.get_config()
    assert cls.from_config(config).get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is cls and restored.get_config() == config


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_masked_ce_is_the_mean_over_real_tokens(smoothing):
    labels = np.array([[3, 1, 4, 0, 0], [2, 0, 0, 0, 0]])
    logits = RNG.standard_normal((2, 5, 6)).astype("float32")
    loss = losses.MaskedSparseCategoricalCrossentropy(
        from_logits=True, pad_id=0, label_smoothing=smoothing
    )
    expected = _masked_ce(labels, logits, 0, smoothing)
    assert abs(float(loss(labels, logits)) - expected) < 1e-5
    # Anything at padded positions leaves the loss unchanged.
    noisy = logits.copy()
    noisy[labels == 0] = 100 * RNG.standard_normal(((labels == 0).sum(), 6))
    assert abs(float(loss(labels, noisy)) - expected) < 1e-5


def test_masked_ce_probabilities_pad_outside_vocabulary_and_keras_mask():
    labels = np.array([[3, 1, -100], [2, 5, 4]])
    logits = RNG.standard_normal((2, 3, 6)).astype("float32")
    expected = _masked_ce(labels, logits, -100)
    probabilities = keras.ops.softmax(logits)
    loss = losses.MaskedSparseCategoricalCrossentropy(pad_id=-100)
    assert abs(float(loss(labels, probabilities)) - expected) < 1e-5
    # A Keras mask on y_pred is ignored too, with pad_id=None.
    masked = keras.ops.convert_to_tensor(logits)
    masked._keras_mask = keras.ops.convert_to_tensor(labels != -100)
    loss = losses.MaskedSparseCategoricalCrossentropy(
        from_logits=True, pad_id=None
    )
    assert abs(float(loss(np.maximum(labels, 0), masked)) - expected) < 1e-5


def test_masked_ce_trains_in_fit_and_stays_float32():
    labels = RNG.integers(1, 9, (8, 6))
    labels[:, 4:] = 0
    model = keras.Sequential(
        [keras.Input((6,), dtype="int32"), keras.layers.Embedding(9, 9)]
    )
    loss = losses.MaskedSparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="sgd", loss=loss)
    logits = keras.ops.convert_to_numpy(model(labels))
    evaluated = model.evaluate(labels, labels, verbose=0)
    assert abs(evaluated - _masked_ce(labels, logits, 0)) < 1e-5
    assert np.isfinite(model.fit(labels, labels, verbose=0).history["loss"])
    half = keras.ops.cast(logits, "float16")
    assert keras.ops.convert_to_numpy(loss(labels, half)).dtype == "float32"


def test_info_nce_is_log_batch_for_uniform_logits():
    loss = losses.InfoNCE()
    for batch in (2, 5):
        logits = np.full((batch, batch), 3.0, "float32")
        value = float(loss(np.zeros(batch), logits))
        assert abs(value - np.log(batch)) < 1e-6


def test_info_nce_is_symmetric_and_matches_numpy():
    logits = (4 * RNG.standard_normal((6, 6))).astype("float32")
    rows = -np.diag(_log_softmax(logits.astype("float64"), axis=1))
    columns = -np.diag(_log_softmax(logits.astype("float64"), axis=0))
    expected = np.mean((rows + columns) / 2)
    loss = losses.InfoNCE()
    assert abs(float(loss(np.zeros(6), logits)) - expected) < 1e-5
    assert abs(float(loss(np.zeros(6), logits.T)) - expected) < 1e-5
    half = keras.ops.cast(logits, "float16")
    assert (
        keras.ops.convert_to_numpy(loss(np.zeros(6), half)).dtype == "float32"
    )


def test_info_nce_of_embeddings_is_info_nce_of_their_logits():
    images = RNG.standard_normal((5, 3)).astype("float32")
    texts = RNG.standard_normal((5, 3)).astype("float32")
    logits = 2.5 * images.astype("float64") @ texts.astype("float64").T
    rows = -np.diag(_log_softmax(logits, axis=1))
    columns = -np.diag(_log_softmax(logits, axis=0))
    values = losses.info_nce(images, texts, 2.5)
    assert keras.ops.convert_to_numpy(values).dtype == "float32"
    np.testing.assert_allclose(values, (rows + columns) / 2, atol=1e-5)
    loss = losses.InfoNCE()(np.zeros(5), logits.astype("float32"))
    assert abs(float(loss) - float(np.mean(values))) < 1e-5
    # One device: all_gather returns its input.
    assert losses.all_gather(images) is images


def _triplet(similarity, margin, negatives):
    positive = np.diag(similarity)
    off = 1 - np.eye(len(similarity))
    i2t = np.maximum(0, margin - positive[:, None] + similarity) * off
    t2i = np.maximum(0, margin - positive[None, :] + similarity) * off
    if negatives == "hardest":
        return np.mean(i2t.max(1) + t2i.max(0))
    return np.mean(i2t.sum(1) + t2i.sum(0))


@pytest.mark.parametrize("negatives", ["hardest", "all"])
def test_triplet_matches_numpy(negatives):
    similarity = RNG.uniform(-1, 1, (5, 5)).astype("float32")
    loss = losses.TripletLoss(margin=0.3, negatives=negatives)
    expected = _triplet(similarity.astype("float64"), 0.3, negatives)
    assert abs(float(loss(np.zeros(5), similarity)) - expected) < 1e-5


def test_triplet_margin_behaviour():
    # Positives beat every negative by 0.5 (exact in binary).
    similarity = 0.25 + 0.5 * np.eye(3, dtype="float32")
    assert float(losses.TripletLoss(margin=0.5)(np.zeros(3), similarity)) == 0
    # A margin of 0.75 leaves 0.25 per direction for the hardest negative.
    value = float(losses.TripletLoss(margin=0.75)(np.zeros(3), similarity))
    assert abs(value - 0.5) < 1e-6
    # "all" sums the two negatives of each direction.
    loss = losses.TripletLoss(margin=0.75, negatives="all")
    assert abs(float(loss(np.zeros(3), similarity)) - 1.0) < 1e-6


def test_errors():
    with pytest.raises(ValueError, match="label_smoothing=1.0"):
        losses.MaskedSparseCategoricalCrossentropy(label_smoothing=1.0)
    with pytest.raises(ValueError, match="pad_id='0'"):
        losses.MaskedSparseCategoricalCrossentropy(pad_id="0")
    with pytest.raises(ValueError, match="negatives='semi'"):
        losses.TripletLoss(negatives="semi")
    with pytest.raises(ValueError, match="margin=None"):
        losses.TripletLoss(margin=None)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        losses.InfoNCE()(np.zeros(2), np.zeros((2, 3), "float32"))
    with pytest.raises(
        ValueError, match=r"text_embeddings with shape \(3, 4\)"
    ):
        losses.info_nce(np.ones((2, 4)), np.ones((3, 4)), 1.0)
    with pytest.raises(ValueError, match="image_embeddings must have rank 2"):
        losses.info_nce(np.ones(4), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="logit_scale must have rank 0"):
        losses.info_nce(np.ones((2, 4)), np.ones((2, 4)), [1.0, 2.0])


def test_masked_ce_is_the_global_token_mean_under_mirrored_strategy():
    # The MLM loss: positions not masked are labelled -100.
    import mmkeras

    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 9, (4, 6)).astype("int32")
    labels = rng.integers(0, 9, (4, 6)).astype("int32")
    # Replica 0 gets rows 0-1 (11 masked tokens), replica 1 rows 2-3 (3).
    labels[0, 5:] = -100
    labels[2, 2:] = -100
    labels[3, 1:] = -100

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((6,), dtype="int32")
            hidden = keras.layers.Embedding(9, 8)(inputs)
            model = keras.Model(inputs, keras.layers.Dense(9)(hidden))
            model.compile(
                optimizer=keras.optimizers.SGD(0.5),
                loss=losses.MaskedSparseCategoricalCrossentropy(
                    from_logits=True, pad_id=-100
                ),
            )
        history = model.fit(
            tokens, labels, batch_size=4, epochs=2, shuffle=False, verbose=0
        )
        return history.history["loss"], model.get_weights()

    import tensorflow as tf

    single_loss, single_weights = run(tf.distribute.get_strategy())
    mirrored = mmkeras.training.strategy(devices=["/cpu:0", "/cpu:1"])
    mirrored_loss, mirrored_weights = run(mirrored)
    np.testing.assert_allclose(mirrored_loss, single_loss, atol=1e-5)
    for a, b in zip(mirrored_weights, single_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
