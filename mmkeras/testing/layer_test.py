"""`run_layer_test`: the checks every mmkeras layer must pass.

Call arguments are given as `args` (positional) and `kwargs` (keyword);
numpy arrays anywhere in them, nested in lists too, are the tensors, and
everything else is passed through as a constant. A functional model wraps the
layer for the training step and the `.keras` round trip, so the layer is
exercised the way users build models.
"""

import os
import tempfile

import keras
import numpy as np


def run_layer_test(
    layer_cls,
    init_kwargs,
    args,
    kwargs=None,
    expected_output_shape=None,
    expected_num_trainable_weights=None,
    run_training_step=True,
    run_mixed_precision=True,
):
    """Builds, calls, trains, saves and reloads a layer; asserts each step.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        args: tuple of positional call arguments.
        kwargs: dict of keyword call arguments.
        expected_output_shape: a shape, or a structure of shapes matching the
            outputs.
        expected_num_trainable_weights: the number of trainable variables.
        run_training_step: check gradients reach every trainable weight and
            that `fit` runs.
        run_mixed_precision: check the layer under `mixed_float16`.
    """
    kwargs = kwargs or {}
    layer = layer_cls(**init_kwargs)
    outputs = layer(*args, **kwargs)
    _assert_finite(outputs)
    if expected_output_shape is not None:
        actual = [tuple(t.shape) for t in keras.tree.flatten(outputs)]
        expected = _shape_list(expected_output_shape)
        assert actual == expected, f"output shapes {actual} != {expected}"
    if expected_num_trainable_weights is not None:
        actual = len(layer.trainable_weights)
        assert actual == expected_num_trainable_weights, (
            f"{actual} trainable weights, expected "
            f"{expected_num_trainable_weights}"
        )
    run_serialization_test(layer, args, kwargs)
    if run_training_step:
        _run_training_step(layer_cls, init_kwargs, args, kwargs)
    if run_mixed_precision:
        _run_mixed_precision(layer_cls, init_kwargs, args, kwargs)


def run_serialization_test(layer, args, kwargs=None):
    """Asserts a built layer survives `get_config` and a `.keras` file.

    The layer must be registered with Keras under the `mmkeras` package, its
    config must round-trip unchanged, and both the re-created layer (with the
    original weights) and the reloaded model must give identical outputs.
    """
    kwargs = kwargs or {}
    cls = type(layer)
    registered = keras.saving.get_registered_object(f"mmkeras>{cls.__name__}")
    assert registered is cls, (
        f"{cls.__name__} is not registered: decorate it with "
        '@keras.saving.register_keras_serializable(package="mmkeras")'
    )
    expected = _to_numpy(layer(*args, **kwargs))

    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config, "get_config does not round-trip"
    clone(*args, **kwargs)
    clone.set_weights(layer.get_weights())
    _assert_equal(_to_numpy(clone(*args, **kwargs)), expected, "from_config")

    model, inputs = _functional_model(layer, args, kwargs)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    actual = _to_numpy(reloaded(inputs))
    _assert_equal(actual, expected, ".keras save/load")


def _run_training_step(layer_cls, init_kwargs, args, kwargs):
    import tensorflow as tf

    layer = layer_cls(**init_kwargs)
    model, inputs = _functional_model(layer, args, kwargs)
    with tf.GradientTape() as tape:
        loss = _squared_sum(model(inputs, training=True))
    gradients = tape.gradient(loss, layer.trainable_weights)
    weights = layer.trainable_weights
    for weight, gradient in zip(weights, gradients, strict=True):
        assert gradient is not None, f"no gradient reaches {weight.path}"
        # Embeddings get sparse IndexedSlices gradients; densify to check.
        gradient = tf.convert_to_tensor(gradient)
        assert np.all(np.isfinite(gradient)), f"{weight.path}: bad gradient"
    outputs = keras.tree.flatten(model(inputs))
    model.compile(optimizer="adam", loss=["mse"] * len(outputs))
    targets = [np.zeros(o.shape, "float32") for o in outputs]
    history = model.fit(inputs, targets, batch_size=len(inputs[0]), verbose=0)
    assert np.isfinite(history.history["loss"][0]), "fit gave a bad loss"


def _run_mixed_precision(layer_cls, init_kwargs, args, kwargs):
    layer = layer_cls(**init_kwargs, dtype="mixed_float16")
    outputs = layer(*args, **kwargs)
    _assert_finite(outputs)
    for output in keras.tree.flatten(outputs):
        if "float" in str(output.dtype):
            assert output.dtype == "float16", (
                f"mixed_float16 output has dtype {output.dtype}"
            )
    for weight in layer.weights:
        if "float" in weight.dtype:
            assert weight.dtype == "float32", f"{weight.path} is {weight.dtype}"


def _functional_model(layer, args, kwargs):
    """Wraps `layer` in a functional model; returns it and its input list."""
    arrays = []

    def to_input(value):
        if isinstance(value, np.ndarray):
            arrays.append(value)
            # numpy str/bytes/object arrays are text: string tensors.
            dtype = "string" if value.dtype.kind in "OSU" else str(value.dtype)
            return keras.Input(shape=value.shape[1:], dtype=dtype)
        return value

    symbolic_args = keras.tree.map_structure(to_input, list(args))
    symbolic_kwargs = keras.tree.map_structure(to_input, kwargs)
    symbolic_inputs = [
        t
        for t in keras.tree.flatten([symbolic_args, symbolic_kwargs])
        if isinstance(t, keras.KerasTensor)
    ]
    outputs = layer(*symbolic_args, **symbolic_kwargs)
    return keras.Model(symbolic_inputs, outputs), arrays


def _shape_list(shapes):
    """A shape, or a nested structure of shapes, as a flat list."""
    if all(isinstance(d, int) or d is None for d in shapes):
        return [tuple(shapes)]
    return [shape for nested in shapes for shape in _shape_list(nested)]


def _squared_sum(outputs):
    return sum(
        keras.ops.sum(keras.ops.square(keras.ops.cast(o, "float32")))
        for o in keras.tree.flatten(outputs)
    )


def _to_numpy(outputs):
    return [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(outputs)]


def _assert_finite(outputs):
    for output in _to_numpy(outputs):
        if np.issubdtype(output.dtype, np.floating):
            assert np.all(np.isfinite(output)), "layer output is not finite"


def _assert_equal(actual, expected, what):
    assert len(actual) == len(expected), f"{what}: output count differs"
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-6, err_msg=what)
