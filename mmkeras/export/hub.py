"""Encoders as TF Hub-style reusable SavedModels (tensorflow.org/hub/
reusable_saved_models): `__call__(inputs, training)`, `variables`,
`trainable_variables`, `regularization_losses`, and a `serving_default`
signature. Load one with `mmkeras.layers.HubEncoder(path)` or plain
`tf.saved_model.load`."""

import os
import shutil

import tensorflow as tf

from mmkeras import _files
from mmkeras.export._plain import plain_clone


def export_hub_module(encoder, path, input_shape, input_dtype="float32"):
    """Writes `encoder` (an `mmkeras.encoders` layer, or any Keras layer)
    as a reusable SavedModel at `path`, atomically.

    Args:
        encoder: a built Keras layer; its attention runs the plain path in
            the module (consumers without XLA can run it).
        path: the SavedModel folder to write; replaced if it exists.
        input_shape: the input shape with `None` for the batch axis, e.g.
            `(None, 224, 224, 3)` or `(None, None)` for token ids.
        input_dtype: `"float32"` for images, `"int32"` for token ids.
    """
    layer = plain_clone(encoder)
    spec = tf.TensorSpec(input_shape, input_dtype, name="inputs")
    # A Checkpoint takes any attributes; tf.Module's `variables` is fixed.
    module = tf.train.Checkpoint()
    # `variables`, not `weights`: dropout seed states are captured too.
    module.variables = [v.value for v in layer.variables]
    module.trainable_variables = [v.value for v in layer.trainable_weights]
    module.regularization_losses = []

    @tf.function(autograph=False)
    def call(inputs, training=False):
        return layer(inputs, training=training)

    for training in (False, True):
        call.get_concrete_function(spec, training)
    module.__call__ = call
    serving = tf.function(
        lambda inputs: layer(inputs, training=False),
        input_signature=[spec],
        autograph=False,
    )
    target = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = _files.staging_directory(parent, ".hub.")
    try:
        tf.saved_model.save(
            module, staging, signatures={"serving_default": serving}
        )
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
