import re

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mmkeras")
class HubEncoder(keras.layers.Layer):
    """A TF Hub handle or a reusable SavedModel folder as a Keras 3 layer.

    `hub.KerasLayer` is a Keras 2 layer, and Keras 3's `TFSMLayer` tracks
    the module's raw `tf.Variable`s, whose `:0` names break the slot
    variables of Adam and other optimizers. HubEncoder wraps each of the
    module's variables in a Keras variable with a clean name and the same
    storage, so every built-in optimizer trains them, `.keras` files save
    their values, and a module loaded under a `tf.distribute` strategy
    scope (as `build` is when the model is) gets distributed variables.

    Args:
        handle: a TF Hub handle or URL (resolved with
            `tensorflow_hub.resolve`, cached in `TFHUB_CACHE_DIR`) or a
            local SavedModel folder, e.g. written by
            `mmkeras.export.hub.export_hub_module`.
        output_key: for modules returning a dict, the entry to return;
            `None` returns the whole dict.
        trainable: whether fine-tuning updates the module's variables.

    Example:

    >>> encoder = mmkeras.layers.HubEncoder("exports/image_encoder_hub",
    ...                                     output_key="pooled")
    >>> encoder(np.zeros((2, 32, 32, 3), "float32")).shape
    TensorShape([2, 64])
    """

    def __init__(self, handle, output_key=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(handle, str) or not handle:
            raise ValueError(
                "handle must be a TF Hub handle or a SavedModel folder. "
                f"Received: handle={handle!r}"
            )
        self.handle = handle
        self.output_key = output_key
        self._module = None

    def _load(self):
        if self._module is None:
            # Imported here: it adds about 0.4 s to `import mmkeras`.
            import tensorflow_hub as hub

            try:
                path = hub.resolve(self.handle)
                self._module = tf.saved_model.load(path)
            except (OSError, ValueError, tf.errors.OpError) as error:
                raise ValueError(
                    f"Cannot load the TF Hub module {self.handle!r}: give a "
                    "SavedModel folder or a reachable hub handle (set "
                    f"TFHUB_CACHE_DIR for a local cache). {error}"
                ) from None
            if not callable(self._module):
                raise ValueError(
                    f"{self.handle!r} is a SavedModel without __call__; "
                    "HubEncoder needs a reusable one (tensorflow.org/hub/"
                    "reusable_saved_models)."
                )
        return self._module

    def build(self, input_shape):
        module = self._load()
        trainable = getattr(module, "trainable_variables", module.variables)
        trainable_ids = {id(v) for v in trainable}
        self.module_variables = [
            keras.Variable(
                variable,
                trainable=self.trainable and id(variable) in trainable_ids,
                name=re.sub(r"[^A-Za-z0-9_.-]", "_", variable.name),
            )
            for variable in module.variables
        ]

    def call(self, inputs, training=None):
        outputs = self._module(inputs, training=bool(training))
        if self.output_key is not None:
            return outputs[self.output_key]
        return outputs

    def compute_output_spec(self, inputs):
        spec = tf.TensorSpec(inputs.shape, inputs.dtype)
        traced = self._load().__call__.get_concrete_function(spec, False)
        outputs = tf.nest.map_structure(
            lambda t: keras.KerasTensor(t.shape, t.dtype.name),
            traced.structured_outputs,
        )
        if self.output_key is not None:
            return outputs[self.output_key]
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({"handle": self.handle, "output_key": self.output_key})
        return config
