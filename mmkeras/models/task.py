import keras
import tensorflow as tf

from mmkeras import _checks

# The zoo's core imports no model: `from_preset` and `mmkeras.zoo.load`
# share its one loading path.
from mmkeras.zoo import loading


class Task(keras.Model):
    """Base of the task models: preprocessing, a default `compile()`,
    serving and explanation found through the class, reloads compiled.

    A family's task class names what the rest of mmkeras needs, so that
    export, the CLI, explain and the shared tests never ask which family a
    model is:

    - `preprocessor_cls`: its `mmkeras.models.Preprocessor` subclass.
    - `serving_cls`: its `mmkeras.models.Serving` subclass (the exported
      signatures, the ONNX graphs and `mmkeras predict`).
    - `explain(image, path, question=None, texts=())`: draws where the
      model looked.

    With a `preprocessor`, `fit`, `evaluate` and `predict` take raw
    examples (uint8 or [0, 1] images, strings) and map the preprocessor
    over them; without one they take model inputs, as `keras.Model` does.

    `model.compile()` with no arguments uses the subclass's
    `default_compile_arguments()`; any argument given (or `"auto"` for the
    default) replaces one default. `jit_compile` is off by default: whole
    step XLA fails under `MirroredStrategy`, and the transformer blocks and
    attention cores are XLA-compiled on their own anyway.

    Example:

    >>> model.compile()                       # the task's defaults
    >>> model.compile(optimizer="sgd")        # keep the default loss
    >>> model.fit(raw_dataset)                # the preprocessor maps it
    """

    preprocessor_cls = None
    serving_cls = None
    # Every concrete task class, by name: the registry that parametrised
    # tests, export and the CLI iterate over (filled by __init_subclass__).
    families = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.preprocessor_cls is not None:
            Task.families[cls.__name__] = cls

    def __init__(self, preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        if preprocessor is not None and self.preprocessor_cls is not None:
            if not isinstance(preprocessor, self.preprocessor_cls):
                raise TypeError(
                    f"{type(self).__name__} takes a "
                    f"{self.preprocessor_cls.__name__} as preprocessor. "
                    f"Received: a {type(preprocessor).__name__}"
                )
        self.preprocessor = preprocessor

    @classmethod
    def from_preset(cls, name, load_weights=True, **overrides):
        """The task of the zoo entry `name`, with its weights, as in
        KerasHub; `load_weights=False` gives the architecture alone, and
        `overrides` replace constructor arguments (the weights are copied
        into the changed model).

        Example:

        >>> model = mmkeras.models.FusionClassifier.from_preset(
        ...     "fusion_gated.color_match")
        """
        return loading.from_preset(cls, name, load_weights, **overrides)

    @property
    def tokenizer(self):
        """The preprocessor's tokenizer, or None."""
        return getattr(self.preprocessor, "tokenizer", None)

    def serving(self, **options):
        """The `serving_cls` of this model: what it exports and serves."""
        if self.serving_cls is None:
            raise ValueError(
                f"{type(self).__name__} declares no serving_cls, so it "
                "cannot be exported or served"
            )
        return self.serving_cls(self, **options)

    def explain(self, image, path, question=None, texts=()):
        """Draws where the model looked for `image` into the PNG `path`;
        returns the model's answer. A family takes the `question` or
        `texts` it needs and refuses the others (`refuse_unused`), as
        `Serving.request` does. Families that can, override it."""
        able = sorted(
            name
            for name, family in Task.families.items()
            if family.explain is not Task.explain
        )
        raise ValueError(
            f"{type(self).__name__} has no explain(); these families have "
            f"one: {', '.join(able)}"
        )

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

    def fit(self, x=None, y=None, batch_size=None, shuffle=True, **kwargs):
        # Arrays become a dataset here, so shuffle them here as Keras
        # would (Keras ignores `shuffle` for datasets and warns).
        raw_arrays = not isinstance(x, tf.data.Dataset)
        x, y, batch_size = self._preprocessed(
            x, y, batch_size, shuffle and raw_arrays
        )
        validation = kwargs.get("validation_data")
        if validation is not None and self.preprocessor is not None:
            kwargs["validation_data"] = self._preprocessed_validation(
                validation, batch_size
            )
        if isinstance(x, tf.data.Dataset):
            shuffle = False
        return super().fit(
            x, y, batch_size=batch_size, shuffle=shuffle, **kwargs
        )

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        # `fit` evaluates its validation data, which it has preprocessed
        # already, through a cached iterator: map the preprocessor once.
        if not kwargs.get("_use_cached_eval_dataset"):
            x, y, batch_size = self._preprocessed(x, y, batch_size)
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        x, _, batch_size = self._preprocessed(x, None, batch_size)
        return super().predict(x, batch_size=batch_size, **kwargs)

    def _preprocessed(self, x, y, batch_size, shuffle=False):
        """`(x, y, batch_size)`: raw data mapped through the preprocessor,
        as a dataset (whose batch size Keras must not be given); arrays are
        batched (and shuffled every epoch if `shuffle`) first."""
        if isinstance(x, tf.data.Dataset):
            batch_size = None
        if self.preprocessor is None or x is None:
            return x, y, batch_size
        if not isinstance(x, tf.data.Dataset):
            data = x if y is None else (x, y)
            x = tf.data.Dataset.from_tensor_slices(data)
            if shuffle:
                x = x.shuffle(x.cardinality(), reshuffle_each_iteration=True)
            x = x.batch(batch_size or 32)
            y, batch_size = None, None
        elif y is not None:
            raise ValueError(
                "y must be None when x is a tf.data.Dataset (the labels "
                "come from the dataset). Received: y of type "
                f"{type(y).__name__}"
            )
        mapped = x.map(self.preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
        return mapped, None, batch_size

    def _preprocessed_validation(self, validation, batch_size):
        if isinstance(validation, tuple) and len(validation) == 2:
            return self._preprocessed(*validation, batch_size)[0]
        return self._preprocessed(validation, None, batch_size)[0]

    def input_shapes(self):
        """The input shapes the model was built for, by input key, with the
        batch axis `None` (what an export's tensor signatures take)."""
        shapes = self.get_build_config() if self.built else None
        if not shapes:
            raise ValueError(
                f"{type(self).__name__} is not built, so its input shapes "
                "are unknown; call it on a batch of inputs first."
            )
        return {
            key: (None, *shape[1:]) for key, shape in shapes["inputs"].items()
        }

    def get_build_config(self):
        """`{"inputs": {key: shape}}` of the batch the model was built on:
        a public record of what `input_shapes` and exports read."""
        shapes = getattr(self, "_input_shapes", None)
        return {"inputs": shapes} if shapes else None

    def build_from_config(self, config):
        self.build(config["inputs"])

    def _record_input_shapes(self, inputs_shape):
        """Called by subclasses' `build` with its `{key: shape}`."""
        self._input_shapes = {
            key: list(shape) for key, shape in inputs_shape.items()
        }

    def _check_pixels(self, images):
        """Model inputs are converted pixels: raw uint8 must go through
        the preprocessor first, never be cast silently."""
        _checks.float_images(
            type(self).__name__,
            images,
            fix="pass them through model.preprocessor, or fit/predict/"
            "generate with a preprocessor attached",
        )

    def _build_encoder(self, encoder, shape, dtype="float32"):
        """Builds `encoder` for inputs of `shape` (unless loading a `.keras`
        file already did); returns its output shapes by key."""
        shape = tuple(shape)
        if not encoder.built:
            encoder.build(shape)
        if not encoder.trainable:
            freeze_variables(encoder)
        spec = encoder.compute_output_spec(keras.KerasTensor(shape, dtype))
        return {key: tuple(value.shape) for key, value in spec.items()}

    def get_config(self):
        config = super().get_config()
        config["preprocessor"] = keras.saving.serialize_keras_object(
            self.preprocessor
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Sub-objects (encoders, preprocessors) are stored as Keras configs.
        return cls(**{key: _deserialize(v) for key, v in config.items()})

    def compile_from_config(self, config):
        # Keras' own version refuses models that override `compile`; ours
        # takes the same arguments, so a `.keras` file reloads compiled.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def freeze_variables(layer):
    """Marks every variable of a frozen `layer` non-trainable. A layer
    rebuilt from a config (a reloaded `.keras`) gets `trainable=False`
    before it makes its sublayers, whose variables then train; setting
    the flag again does not reach them, setting each variable's does."""
    for variable in layer.weights:
        variable.trainable = False


def _deserialize(value):
    if isinstance(value, dict) and {"class_name", "config"} <= set(value):
        return keras.saving.deserialize_keras_object(value)
    return value


def _is_auto(value):
    return isinstance(value, str) and value == "auto"
