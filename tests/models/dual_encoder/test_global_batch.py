"""InfoNCE under MirroredStrategy sees the global batch: two virtual CPU
devices (tests/conftest.py) give what one device gives on the global batch,
loss and gradients, also for uneven and empty replica batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras import losses

DEVICES = ("/cpu:0", "/cpu:1")
# Global batches of one fit: even, then uneven (2 + 1 examples).
BATCHES = (8, 3)


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _reference(images, texts, scale):
    """Float64 symmetric InfoNCE per example on one device."""
    logits = scale * images.astype("float64") @ texts.astype("float64").T
    rows = -np.diag(_log_softmax(logits, 1))
    columns = -np.diag(_log_softmax(logits, 0))
    return (rows + columns) / 2


def _model():
    # Layer norm: batch norm's statistics differ per replica by design.
    return mmkeras.models.DualEncoder(
        mmkeras.encoders.ConvImageEncoder(
            filters=(4,), hidden_dim=8, normalization="layer"
        ),
        mmkeras.encoders.TransformerTextEncoder(
            20,
            sequence_length=5,
            hidden_dim=8,
            num_layers=1,
            num_heads=2,
            intermediate_dim=8,
            dropout=0.0,
            xla=False,
        ),
        projection_dim=8,
        temperature=0.5,
    )


def _inputs(count, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.random((count, 8, 8, 3)).astype("float32"),
        "token_ids": rng.integers(1, 20, (count, 5)).astype("int32"),
    }


def _dataset():
    inputs = _inputs(sum(BATCHES))
    parts, start = [], 0
    for size in BATCHES:
        part = {
            key: value[start : start + size] for key, value in inputs.items()
        }
        parts.append(tf.data.Dataset.from_tensors(part))
        start += size
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.concatenate(part)
    return dataset


def _fit(strategy, weights):
    with strategy.scope():
        model = _model()
        model(_inputs(2))
        model.set_weights(weights)
        # SGD: Adam's normalisation would magnify float noise.
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(_dataset(), shuffle=False, verbose=0)
    return history.history["loss"][0], model


@pytest.fixture(scope="module")
def weights():
    keras.utils.set_random_seed(0)
    model = _model()
    model(_inputs(2))
    return model.get_weights()


def test_mirrored_fit_equals_one_device_on_the_global_batch(weights):
    single_loss, single = _fit(tf.distribute.get_strategy(), weights)
    strategy = mmkeras.training.strategy(devices=DEVICES)
    mirrored_loss, mirrored = _fit(strategy, weights)
    np.testing.assert_allclose(mirrored_loss, single_loss, atol=1e-5)
    names = [weight.path for weight in single.weights]
    for name, a, b in zip(
        names, mirrored.get_weights(), single.get_weights(), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)
    moved = [
        name
        for name, a, b in zip(names, weights, single.get_weights(), strict=True)
        if not np.allclose(a, b, atol=1e-4)
    ]
    assert any(name.endswith("/log_logit_scale") for name in moved), moved
    assert len(moved) > len(weights) // 2, moved
    # Mirrored evaluate and predict score against the global batch, as a
    # call on one device does.
    expected = [
        (len(batch["image"]), losses.InfoNCE()(np.zeros(1), mirrored(batch)))
        for batch in _dataset().as_numpy_iterator()
    ]
    np.testing.assert_allclose(
        mirrored.evaluate(_dataset(), verbose=0),
        sum(size * loss for size, loss in expected) / sum(BATCHES),
        atol=1e-5,
    )
    inputs = _inputs(6, seed=1)
    np.testing.assert_allclose(
        mirrored.predict(inputs, batch_size=6, verbose=0),
        mirrored(inputs),
        atol=1e-5,
    )


def _per_replica(strategy, array, sizes):
    starts = np.cumsum((0, *sizes))

    def local(context):
        replica = context.replica_id_in_sync_group
        return tf.constant(array[starts[replica] : starts[replica + 1]])

    return strategy.experimental_distribute_values_from_function(local)


def _class_form(images, texts, scale):
    logits = scale * tf.matmul(images, losses.all_gather(texts), False, True)
    return losses.InfoNCE(reduction=None)(
        tf.zeros(tf.shape(logits)[:1]), logits
    )


def _mean_loss_and_gradients(form, images, texts, scale):
    with tf.GradientTape() as tape:
        tape.watch([images, texts, scale])
        values = form(images, texts, scale)
        # How Keras reduces a loss: the mean, divided by the replicas.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = tf.math.divide_no_nan(
            tf.reduce_sum(values), tf.cast(tf.size(values), "float32")
        ) / float(replicas)
    return values, loss, tape.gradient(loss, [images, texts, scale])


# (2, 0): a replica without examples (with three replicas a global batch
# of two leaves one empty; one example alone has no negatives).
@pytest.mark.parametrize(
    "form, sizes", [(losses.info_nce, (3, 2)), (_class_form, (2, 0))]
)
def test_loss_and_gradients_match_one_device(form, sizes):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((sum(sizes), 4)).astype("float32")
    texts = rng.standard_normal((sum(sizes), 4)).astype("float32")
    scale = tf.constant(2.5)
    expected = _mean_loss_and_gradients(
        form, tf.constant(images), tf.constant(texts), scale
    )
    np.testing.assert_allclose(
        expected[0], _reference(images, texts, 2.5), atol=1e-5
    )
    strategy = mmkeras.training.strategy(devices=DEVICES)
    step = tf.function(lambda *args: _mean_loss_and_gradients(form, *args))
    with strategy.scope():
        result = strategy.run(
            step,
            args=(
                _per_replica(strategy, images, sizes),
                _per_replica(strategy, texts, sizes),
                scale,
            ),
        )
    replicas = tf.nest.map_structure(
        strategy.experimental_local_results, result
    )
    values, loss, (image_grads, text_grads, scale_grads) = replicas
    # Each replica gets its examples' losses and its embeddings' whole
    # gradients; the logit scale's gradients add up, as the optimizer sums
    # the replicas' gradients. Keras reports the replicas' losses times
    # the replicas, weighted by their examples: the global-batch mean.
    np.testing.assert_allclose(np.concatenate(values), expected[0], atol=1e-5)
    reported = sum(
        2 * size * value for size, value in zip(sizes, loss, strict=True)
    )
    np.testing.assert_allclose(reported / sum(sizes), expected[1], atol=1e-5)
    np.testing.assert_allclose(
        np.concatenate(image_grads), expected[2][0], atol=1e-5
    )
    np.testing.assert_allclose(
        np.concatenate(text_grads), expected[2][1], atol=1e-5
    )
    np.testing.assert_allclose(sum(scale_grads), expected[2][2], atol=1e-5)


def test_info_nce_refuses_per_replica_logits_under_a_strategy():
    # A model that scores only its own replica's texts would silently
    # train on per-replica negatives.
    strategy = mmkeras.training.strategy(devices=DEVICES)
    logits = np.eye(4, dtype="float32")
    step = tf.function(
        lambda logits: losses.InfoNCE()(tf.zeros(tf.shape(logits)[:1]), logits)
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"2 replicas takes \(local_batch, global_batch\) logits",
    ):
        with strategy.scope():
            strategy.run(
                step,
                args=(_per_replica(strategy, logits[:, :2], (2, 2)),),
            )
