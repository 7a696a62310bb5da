import keras
from keras import ops

from mmkeras import _checks

# Keeps the power normalisation's gradient finite at 0, where XLA would
# give 0 / 0 = NaN; float32 only, as float16 would flush it to zero.
_POWER_EPSILON = 1e-12
_NORM_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="mmkeras")
class BilinearFusion(keras.layers.Layer):
    """Low-rank bilinear pooling of two inputs: MFB or MUTAN.

    A full bilinear map `z_k = x^T W_k y` has `d_x * d_y * output_dim`
    parameters; both modes factorise it.

    - `mode="mfb"`, Multi-modal Factorized Bilinear pooling (Yu et al.,
      2017): `z = SumPool_factor((U x) * (V y))` where `U`, `V` project to
      `output_dim * factor` and the sum pools consecutive groups of
      `factor`, followed by power normalisation `sign(z) sqrt(|z|)` and L2
      normalisation, so each output row has unit norm.
    - `mode="mutan"`, MUTAN's Tucker decomposition (Ben-younes et al.,
      2017): `x~ = tanh(W_x x)`, `y~ = tanh(W_y y)` of size `hidden_dim`,
      `z = sum_{r=1..rank} (x~ W_r) * (y~ V_r)`, then a linear projection
      of `z` to `output_dim`.

    Args:
        output_dim: size of the output.
        factor: MFB's factor `k` (`mode="mfb"` only).
        mode: `"mfb"` or `"mutan"`.
        rank: MUTAN's rank `R` (`mode="mutan"` only).
        hidden_dim: MUTAN's `x~`, `y~` and `z` size (`mode="mutan"`
            only); defaults to `output_dim`.
        dropout: dropout rate on the product, before MFB's sum pooling or
            MUTAN's output projection.
        kernel_initializer: initializer for the kernels.

    Example:

    >>> fusion = mmkeras.layers.BilinearFusion(output_dim=16, factor=4)
    >>> image, text = np.ones((2, 24), "float32"), np.ones((2, 16), "float32")
    >>> fusion([image, text]).shape
    TensorShape([2, 16])
    """

    def __init__(
        self,
        output_dim,
        factor=5,
        mode="mfb",
        rank=5,
        hidden_dim=None,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("output_dim", output_dim)
        _checks.positive_int("factor", factor)
        _checks.one_of("mode", mode, ("mfb", "mutan"))
        _checks.positive_int("rank", rank)
        _checks.optional_positive_int("hidden_dim", hidden_dim)
        _checks.rate("dropout", dropout)
        self.output_dim = output_dim
        self.factor = factor
        self.mode = mode
        self.rank = rank
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2, 2)
        _checks.ranks("inputs", inputs_shape, (2,))
        x_shape, y_shape = inputs_shape
        if self.mode == "mfb":
            size = self.output_dim * self.factor
            self.x_dense = self._dense(size, None, "x_projection", x_shape)
            self.y_dense = self._dense(size, None, "y_projection", y_shape)
        else:
            hidden = self.hidden_dim or self.output_dim
            self.x_dense = self._dense(hidden, "tanh", "x_projection", x_shape)
            self.y_dense = self._dense(hidden, "tanh", "y_projection", y_shape)
            core_size, hidden_shape = self.rank * hidden, (None, hidden)
            self.x_core = self._dense(core_size, None, "x_core", hidden_shape)
            self.y_core = self._dense(core_size, None, "y_core", hidden_shape)
            self.output_dense = self._dense(
                self.output_dim, None, "output", hidden_shape
            )
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def _dense(self, units, activation, name, input_shape):
        dense = keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        dense.build(input_shape)
        return dense

    def call(self, inputs, training=None):
        x, y = self.x_dense(inputs[0]), self.y_dense(inputs[1])
        if self.mode == "mfb":
            product = self.dropout_layer(x * y, training=training)
            pooled = ops.sum(
                ops.reshape(product, (-1, self.output_dim, self.factor)), -1
            )
            return ops.cast(_normalize(pooled), self.compute_dtype)
        rank_shape = (-1, self.rank, ops.shape(x)[-1])
        product = ops.reshape(self.x_core(x), rank_shape) * ops.reshape(
            self.y_core(y), rank_shape
        )
        fused = self.dropout_layer(ops.sum(product, axis=1), training=training)
        return self.output_dense(fused)

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_dim": self.output_dim,
                "factor": self.factor,
                "mode": self.mode,
                "rank": self.rank,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


def _normalize(z):
    """MFB's power then L2 normalisation, in float32 for small epsilons."""
    z = ops.cast(z, "float32")
    root = ops.sqrt(ops.abs(z) + _POWER_EPSILON) - _POWER_EPSILON**0.5
    z = ops.sign(z) * root
    norm_sq = ops.sum(ops.square(z), axis=-1, keepdims=True)
    return z * ops.rsqrt(ops.maximum(norm_sq, _NORM_EPSILON**2))
