import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class ConcatFusion(keras.layers.Layer):
    """Early fusion: concatenates the modalities' features.

    The inputs are concatenated on the last axis, then optionally projected
    by a `Dense(projection_dim, activation)`; dropout applies to the result.
    Inputs are either all `(batch, features_i)` or all `(batch, tokens,
    features_i)` with the same number of tokens.

    Args:
        projection_dim: size of the optional projection after the
            concatenation; `None` returns the concatenation itself.
        activation: activation of the projection; needs `projection_dim`.
        dropout: dropout rate on the output.
        kernel_initializer: initializer for the projection kernel.

    Example:

    >>> fusion = mmkeras.layers.ConcatFusion(projection_dim=32)
    >>> image, text = np.ones((2, 24), "float32"), np.ones((2, 16), "float32")
    >>> fusion([image, text]).shape
    TensorShape([2, 32])
    """

    def __init__(
        self,
        projection_dim=None,
        activation=None,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.optional_positive_int("projection_dim", projection_dim)
        _checks.rate("dropout", dropout)
        if activation is not None and projection_dim is None:
            raise ValueError(
                "activation applies to the projection, so it needs "
                f"projection_dim. Received: activation={activation!r}, "
                "projection_dim=None"
            )
        self.projection_dim = projection_dim
        # None stays None so the config round-trips through the check above.
        self.activation = (
            None if activation is None else keras.activations.get(activation)
        )
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2)
        _checks.ranks("inputs", inputs_shape, (2, 3))
        _checks.same_shapes("inputs", inputs_shape, ignore_last_axis=True)
        self.projection = None
        if self.projection_dim is not None:
            self.projection = keras.layers.Dense(
                self.projection_dim,
                activation=self.activation,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name="projection",
            )
            self.projection.build(_concat_shape(inputs_shape))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def call(self, inputs, training=None):
        fused = ops.concatenate(list(inputs), axis=-1)
        if self.projection is not None:
            fused = self.projection(fused)
        return self.dropout_layer(fused, training=training)

    def compute_output_shape(self, inputs_shape):
        shape = _concat_shape(inputs_shape)
        if self.projection_dim is not None:
            shape = shape[:-1] + (self.projection_dim,)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "projection_dim": self.projection_dim,
                "activation": None
                if self.activation is None
                else keras.activations.serialize(self.activation),
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


def _concat_shape(shapes):
    """The shape of the inputs concatenated on the last axis."""
    last = [shape[-1] for shape in shapes]
    total = None if None in last else sum(last)
    return tuple(shapes[0][:-1]) + (total,)
