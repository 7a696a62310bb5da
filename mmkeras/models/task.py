import keras


class Task(keras.Model):
    """Base of the task models: a default `compile()`, reloads compiled.

    `model.compile()` with no arguments uses the subclass's
    `default_compile_arguments()`; any argument given (or `"auto"` for the
    default) replaces one default. `jit_compile` is off by default: whole
    step XLA fails under `MirroredStrategy`, and the transformer blocks and
    attention cores are XLA-compiled on their own anyway.

    Example:

    >>> model.compile()                       # the task's defaults
    >>> model.compile(optimizer="sgd")        # keep the default loss
    """

    def default_compile_arguments(self):
        """Adam(1e-3), sparse cross-entropy on logits and accuracy."""
        return {
            "optimizer": keras.optimizers.Adam(1e-3),
            "loss": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            ),
            "metrics": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
        }

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        jit_compile=False,
        **kwargs,
    ):
        given = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
        defaults = self.default_compile_arguments()
        arguments = {
            key: defaults[key] if _is_auto(value) else value
            for key, value in given.items()
        }
        super().compile(**arguments, jit_compile=jit_compile, **kwargs)

    def input_shapes(self):
        """The input shapes the model was built for, by input key, with the
        batch axis `None` (what an export's tensor signatures take)."""
        if not self.built or not self._build_shapes_dict:
            raise ValueError(
                f"{type(self).__name__} is not built, so its input shapes "
                "are unknown; call it on a batch of inputs first."
            )
        (shapes,) = self._build_shapes_dict.values()
        return {key: (None, *shape[1:]) for key, shape in shapes.items()}

    def _build_encoder(self, encoder, shape, dtype="float32"):
        """Builds `encoder` for inputs of `shape` (unless loading a `.keras`
        file already did); returns its output shapes by key."""
        shape = tuple(shape)
        if not encoder.built:
            encoder.build(shape)
        if not encoder.trainable:
            # A frozen encoder from a config (a reloaded `.keras`) made its
            # sublayers in `build`, trainable: freeze their variables too.
            for variable in encoder.weights:
                variable.trainable = False
        spec = encoder.compute_output_spec(keras.KerasTensor(shape, dtype))
        return {key: tuple(value.shape) for key, value in spec.items()}

    @classmethod
    def from_config(cls, config):
        # Sub-objects (encoders, tokenizers) are stored as Keras configs.
        return cls(**{key: _deserialize(v) for key, v in config.items()})

    def compile_from_config(self, config):
        # Keras' own version refuses models that override `compile`; ours
        # takes the same arguments, so a `.keras` file reloads compiled.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def _deserialize(value):
    if isinstance(value, dict) and {"class_name", "config"} <= set(value):
        return keras.saving.deserialize_keras_object(value)
    return value


def _is_auto(value):
    return isinstance(value, str) and value == "auto"
