"""`run_task_test`: the checks every task model (family) must pass."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from mmkeras.training import strategy as make_strategy

# Devices of the mirrored check: tests/conftest.py makes two virtual CPUs.
MIRRORED_DEVICES = ("/cpu:0", "/cpu:1")


def run_task_test(
    build_model,
    raw_data,
    run_mirrored=True,
    run_mixed_precision=True,
    atol=1e-5,
):
    """Fits, predicts, detaches the preprocessor, saves and reloads a task,
    and trains it mirrored and in mixed precision; asserts each step.

    `fit`, `predict` and the mirrored `fit` run traced, as users run them;
    the other checks run eagerly (the same ops, without tracing the model
    again: each trace costs seconds, more than a tiny model's steps).

    Args:
        build_model: a function of no arguments returning a new, unbuilt
            task with a preprocessor (fresh sublayers each call, so the
            mixed-precision check builds under its policy).
        raw_data: a batched `tf.data.Dataset` of raw examples, what the
            task's preprocessor takes (labels included); at least two
            batches of an even size for the mirrored check.
        run_mirrored: train under `MirroredStrategy` on two virtual
            devices and compare with one device (1e-4).
        run_mixed_precision: fit under `mixed_float16`; the loss must be
            finite.
        atol: tolerance of the attached/detached and reload comparisons.

    Returns:
        The fitted model.
    """
    model = build_model()
    assert model.preprocessor is not None, "build_model gave no preprocessor"
    assert isinstance(model.preprocessor, type(model).preprocessor_cls)
    model.compile()
    history = model.fit(raw_data, epochs=1, verbose=0)
    _assert_finite_loss(history, "fit")
    attached = model.predict(raw_data, verbose=0)
    _assert_batched(attached, _count(raw_data))
    _check_detached(model, raw_data, attached, atol)
    _check_round_trip(model, raw_data, attached, atol)
    if run_mirrored:
        _check_mirrored(build_model, raw_data)
    if run_mixed_precision:
        _check_mixed_precision(build_model, raw_data)
    return model


def _check_detached(model, raw_data, attached, atol):
    """The same model without its preprocessor takes the preprocessed
    data and gives the same outputs."""
    config = model.get_config()
    config["preprocessor"] = None
    detached = type(model).from_config(config)
    preprocessed = raw_data.map(model.preprocessor)
    detached(_first_inputs(preprocessed))
    detached.set_weights(model.get_weights())
    assert detached.preprocessor is None
    outputs = _call_eagerly(detached, preprocessed)
    _assert_close(outputs, attached, atol, "detached preprocessor")


def _check_round_trip(model, raw_data, attached, atol):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "task.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model)
    assert type(reloaded.preprocessor) is type(model.preprocessor)
    # Frozen parts stay frozen: a reloaded model must train what the
    # original trained.
    assert _trainable_shapes(reloaded) == _trainable_shapes(model), (
        "the .keras round trip changed which weights train"
    )
    outputs = _call_eagerly(reloaded, raw_data.map(reloaded.preprocessor))
    _assert_close(outputs, attached, atol, ".keras round trip")


def _trainable_shapes(model):
    # Shapes, not paths: a reloaded model's layer names may differ.
    return sorted(tuple(variable.shape) for variable in model.trainable_weights)


def _call_eagerly(model, preprocessed):
    """The model's outputs over a preprocessed dataset, batch by batch,
    concatenated as `predict` concatenates them."""
    outputs = [
        model(_inputs_of(element), training=False) for element in preprocessed
    ]
    return keras.tree.map_structure(
        lambda *parts: np.concatenate([np.asarray(part) for part in parts]),
        *outputs,
    )


def _check_mirrored(build_model, raw_data):
    reference = build_model()
    # Builds every copy: mapping a tokenizer in tf.data traces it (seconds
    # for byte-level BPE), and each copy's preprocessor is the same.
    inputs = _first_inputs(raw_data.map(reference.preprocessor))
    reference(inputs)
    initial = reference.get_weights()
    one_device = tf.distribute.get_strategy()
    single = _train(
        build_model, raw_data, inputs, initial, one_device, eagerly=True
    )
    mirrored = _train(
        build_model,
        raw_data,
        inputs,
        initial,
        make_strategy(MIRRORED_DEVICES),
    )
    for index, (one, two) in enumerate(zip(single, mirrored, strict=True)):
        np.testing.assert_allclose(
            two, one, atol=1e-4, err_msg=f"weight {index} after mirrored fit"
        )


def _train(build_model, raw_data, inputs, initial, strategy, eagerly=False):
    with strategy.scope():
        model = build_model()
        model(inputs)
        model.set_weights(initial)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), run_eagerly=eagerly
        )
    model.fit(raw_data, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def _check_mixed_precision(build_model, raw_data):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_model()
        model.compile(run_eagerly=True)
        history = model.fit(raw_data, epochs=1, verbose=0)
    finally:
        keras.config.set_dtype_policy(previous)
    _assert_finite_loss(history, "mixed_float16 fit")


def _first_inputs(preprocessed):
    return _inputs_of(next(iter(preprocessed)))


def _inputs_of(element):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(
        element if isinstance(element, tuple) else (element,)
    )
    return x


def _count(dataset):
    return sum(
        int(tf.shape(tf.nest.flatten(element)[0])[0]) for element in dataset
    )


def _assert_finite_loss(history, what):
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), f"{what}: loss {losses}"


def _assert_batched(outputs, count):
    for output in keras.tree.flatten(outputs):
        assert output.shape[0] == count, (output.shape, count)
        assert np.all(np.isfinite(output)), "non-finite predictions"


def _assert_close(actual, expected, atol, what):
    pairs = zip(
        keras.tree.flatten(actual), keras.tree.flatten(expected), strict=True
    )
    for one, two in pairs:
        np.testing.assert_allclose(one, two, atol=atol, err_msg=what)
