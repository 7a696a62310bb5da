"""Layers train under MirroredStrategy exactly as on one device.

Two virtual CPU devices (set up in tests/conftest.py) stand in for GPUs.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras

GLOBAL_BATCH = 8
STEPS = 3


def _model():
    image = keras.Input((6, 16), name="image")
    text = keras.Input((4, 12), name="text")
    image_tokens = mmkeras.layers.TransformerEncoderBlock(
        num_heads=2, intermediate_dim=32, xla=True
    )(image)
    image_tokens, text_tokens = mmkeras.layers.CoAttention(
        num_heads=2, intermediate_dim=24, xla=True
    )(image_tokens, text)
    pooled = keras.layers.Concatenate()(
        [
            keras.layers.GlobalAveragePooling1D()(image_tokens),
            keras.layers.GlobalAveragePooling1D()(text_tokens),
        ]
    )
    logits = keras.layers.Dense(3)(pooled)
    return keras.Model({"image": image, "text": text}, logits)


def _data():
    rng = np.random.default_rng(0)
    count = GLOBAL_BATCH * STEPS
    features = {
        "image": rng.standard_normal((count, 6, 16)).astype("float32"),
        "text": rng.standard_normal((count, 4, 12)).astype("float32"),
    }
    labels = rng.integers(0, 3, count)
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(
        GLOBAL_BATCH
    )


def _train(initial_weights, strategy, jit_compile=False):
    with strategy.scope():
        model = _model()
        model.set_weights(initial_weights)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
    history = model.fit(_data(), epochs=1, shuffle=False, verbose=0)
    return model.get_weights(), history.history["loss"][0]


@pytest.fixture(scope="module")
def initial_weights():
    keras.utils.set_random_seed(0)
    return _model().get_weights()


@pytest.fixture(scope="module")
def single_device_run(initial_weights):
    return _train(initial_weights, tf.distribute.get_strategy())


def test_mirrored_training_matches_single_device(
    initial_weights, single_device_run
):
    devices = ["/cpu:0", "/cpu:1"]
    strategy = mmkeras.training.strategy(devices=devices)
    assert strategy.num_replicas_in_sync == 2
    mirrored_weights, mirrored_loss = _train(initial_weights, strategy)
    single_weights, single_loss = single_device_run
    moved = zip(single_weights, initial_weights, strict=True)
    assert any(not np.allclose(a, b) for a, b in moved), (
        "training did not move the weights"
    )
    np.testing.assert_allclose(mirrored_loss, single_loss, atol=1e-4)
    for mirrored, single in zip(mirrored_weights, single_weights, strict=True):
        np.testing.assert_allclose(mirrored, single, atol=1e-4)


def test_whole_step_xla_matches_single_device(
    initial_weights, single_device_run
):
    weights, loss = _train(
        initial_weights, tf.distribute.get_strategy(), jit_compile=True
    )
    np.testing.assert_allclose(loss, single_device_run[1], atol=1e-4)
    for compiled, plain in zip(weights, single_device_run[0], strict=True):
        np.testing.assert_allclose(compiled, plain, atol=1e-4)


def test_compiled_blocks_with_dropout_train_mirrored_and_run_outside():
    strategy = mmkeras.training.strategy(devices=["/cpu:0", "/cpu:1"])
    with strategy.scope():
        tokens = keras.Input((6, 16))
        block = mmkeras.layers.TransformerEncoderBlock(
            num_heads=2, intermediate_dim=32, dropout=0.3, xla=True
        )
        pooled = keras.layers.GlobalAveragePooling1D()(block(tokens))
        model = keras.Model(tokens, keras.layers.Dense(3)(pooled))
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    rng = np.random.default_rng(0)
    features = rng.standard_normal((16, 6, 16)).astype("float32")
    history = model.fit(
        features, rng.integers(0, 3, 16), batch_size=8, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    assert block._forward_fn.compiled.experimental_get_tracing_count() > 0
    # Outside strategy.run XLA cannot update every replica's dropout seeds,
    # so the block runs its plain path there, in graphs too.
    run = tf.function(lambda x: block(x, training=True))
    with strategy.scope():
        assert run(features[:2]).shape == (2, 6, 16)
    assert run(features[:2]).shape == (2, 6, 16)
