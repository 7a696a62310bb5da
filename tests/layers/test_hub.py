import http.server
import os
import tarfile
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.layers import HubEncoder
from tests.layers.hub_cases import tiny_encoder
from tests.layers.hub_cases import tiny_hub_module

OPTIMIZERS = [
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Ftrl",
    "Lion",
    "Lamb",
    "Adafactor",
    "Muon",
    "ScheduleFreeAdamW",
]
_rng = np.random.default_rng(0)
_IMAGES = _rng.random((8, 16, 16, 3)).astype("float32")
_LABELS = _rng.integers(0, 2, 8)


def _classifier(handle, optimizer="Adam"):
    inputs = keras.Input((16, 16, 3))
    features = HubEncoder(handle, output_key="pooled")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(features))
    model.compile(
        optimizer=getattr(keras.optimizers, optimizer)(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_outputs_equal_the_exported_encoder(tmp_path):
    encoder = tiny_encoder()
    path = str(tmp_path / "module")
    mmkeras.export.hub.export_hub_module(encoder, path, (None, 16, 16, 3))
    outputs = HubEncoder(path)(_IMAGES)
    expected = encoder(_IMAGES)
    for key in ("tokens", "pooled"):
        np.testing.assert_allclose(outputs[key], expected[key], atol=1e-5)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_fine_tunes_with_every_built_in_optimizer(optimizer):
    model = _classifier(tiny_hub_module(), optimizer)
    hub_layer = model.layers[1]
    before = [w.numpy().copy() for w in hub_layer.trainable_weights]
    history = model.fit(_IMAGES, _LABELS, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [w.numpy() for w in hub_layer.trainable_weights]
    changed = [
        not np.allclose(a, b) for a, b in zip(after, before, strict=True)
    ]
    assert any(changed)


def test_trained_weights_are_saved_in_the_keras_file(tmp_path):
    model = _classifier(tiny_hub_module())
    model.fit(_IMAGES, _LABELS, batch_size=4, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(_IMAGES), model(_IMAGES), atol=1e-6)
    # The module on disk still holds the untrained values.
    fresh = HubEncoder(tiny_hub_module(), output_key="pooled")(_IMAGES)
    trained = model.layers[1](_IMAGES)
    assert not np.allclose(fresh, trained, atol=1e-4)


def test_trains_under_mirrored_strategy():
    strategy = mmkeras.training.strategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = _classifier(tiny_hub_module())
    variable = model.layers[1].trainable_weights[0]
    assert isinstance(variable.value, tf.distribute.DistributedValues)
    history = model.fit(_IMAGES, _LABELS, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    replicas = variable.value.values
    np.testing.assert_allclose(replicas[0].numpy(), replicas[1].numpy())


def test_a_hub_url_is_downloaded_into_tfhub_cache_dir(tmp_path, monkeypatch):
    archive = tmp_path / "served" / "module.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_hub_module(), arcname=".")
    handler = type(
        "Quiet",
        (http.server.SimpleHTTPRequestHandler,),
        {"log_message": lambda *args: None},
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: handler(*a, directory=str(archive.parent)),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    try:
        url = f"http://127.0.0.1:{server.server_port}/module.tar.gz"
        outputs = HubEncoder(url, output_key="pooled")(_IMAGES)
    finally:
        server.shutdown()
    expected = HubEncoder(tiny_hub_module(), output_key="pooled")(_IMAGES)
    np.testing.assert_allclose(outputs, expected, atol=1e-6)
    assert any(p.is_dir() for p in cache.iterdir())


def test_a_missing_module_is_named(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="Cannot load the TF Hub module"):
        HubEncoder(missing)(_IMAGES)
    with pytest.raises(ValueError, match="handle=''"):
        HubEncoder("")


def test_exported_modules_follow_the_reusable_savedmodel_api(tmp_path):
    text = mmkeras.encoders.TransformerTextEncoder.from_preset(
        "tiny", vocabulary_size=30
    )
    ids = np.array([[5, 6, 7, 0], [8, 0, 0, 0]], "int32")
    text(ids)
    path = str(tmp_path / "text")
    mmkeras.export.hub.export_hub_module(text, path, (None, None), "int32")
    module = tf.saved_model.load(path)
    assert len(module.variables) == len(text.variables)
    assert len(module.trainable_variables) == len(text.trainable_weights)
    assert list(module.regularization_losses) == []
    expected = text(ids)["pooled"]
    np.testing.assert_allclose(
        module(ids, training=False)["pooled"], expected, atol=1e-5
    )
    served = module.signatures["serving_default"](inputs=tf.constant(ids))
    np.testing.assert_allclose(served["pooled"], expected, atol=1e-5)
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
