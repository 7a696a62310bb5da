"""Copies of a model with the attention's XLA core switched on or off."""

import keras


def with_xla(model, enabled):
    """A copy of `model` (a Keras layer or model) whose every `xla` option
    is `enabled`, with the same weights; `model` itself if nothing
    changes. Exports use the plain path where consumers cannot run XLA
    (tf2onnx, TF Serving on GPUs)."""
    config = keras.saving.serialize_keras_object(model)
    switched = _set_xla(config, enabled)
    if switched == config:
        return model
    copy = keras.saving.deserialize_keras_object(switched)
    copy.set_weights(model.get_weights())
    return copy


def plain_clone(model):
    """`with_xla(model, False)`: a copy running no XLA-compiled function."""
    return with_xla(model, False)


def uses_xla(model):
    """Whether any part of `model` has its `xla` option on, or `"auto"`
    (compiled where it pays, a GPU)."""
    config = keras.saving.serialize_keras_object(model)
    return _set_xla(config, False) != config


def _set_xla(value, enabled):
    if isinstance(value, dict):
        return {
            key: enabled
            if key == "xla" and _is_xla_option(item)
            else _set_xla(item, enabled)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_set_xla(item, enabled) for item in value]
    return value


def _is_xla_option(option):
    # True and False are options to set; "auto" too: it compiles on a GPU,
    # where TF Serving refuses XLA.
    return isinstance(option, bool) or option == "auto"
