import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class FeedForward(keras.layers.Layer):
    """The position-wise MLP of a transformer block.

    `Dense(intermediate_dim, activation) -> Dropout -> Dense(features)`,
    where `features` is the input's last axis. Under a 16-bit compute
    dtype (mixed precision) the activation runs in float32: GELU's `erfc`
    in bfloat16 ran 4x slower than in float32 on this CPU (2 cores,
    AVX512_BF16), and float32 is the more precise.

    With `gated=True` the hidden layer is a gated linear unit (Shazeer
    2020): `activation(x W_gate) * (x W_hidden)`. SwiGLU, the MLP of Llama,
    Mistral and SmolLM2, is `activation="silu", gated=True,
    use_bias=False` (as KerasHub's Llama, which names the activation
    `"silu"` and always gates); GeGLU is `activation="gelu", gated=True`.

    Args:
        intermediate_dim: width of the hidden layer.
        activation: activation of the hidden layer (of the gate, when
            `gated`).
        dropout: dropout rate after the activation.
        kernel_initializer: initializer for the kernels.
        gated: multiply the activation by a second projection (a
            sublayer `gate` holds the activated one).
        use_bias: whether the projections have biases.

    Example:

    >>> mlp = mmkeras.layers.FeedForward(intermediate_dim=64)
    >>> mlp(np.ones((2, 5, 16), "float32")).shape
    TensorShape([2, 5, 16])
    >>> swiglu = mmkeras.layers.FeedForward(
    ...     64, activation="silu", gated=True, use_bias=False
    ... )
    >>> swiglu(np.ones((2, 5, 16), "float32")).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        intermediate_dim,
        activation="gelu",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        gated=False,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("intermediate_dim", intermediate_dim)
        _checks.rate("dropout", dropout)
        self.intermediate_dim = intermediate_dim
        self.activation = keras.activations.get(activation)
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gated = _boolean("gated", gated)
        self.use_bias = _boolean("use_bias", use_bias)
        self.supports_masking = True

    def build(self, inputs_shape):
        self.hidden_dense = self._dense(self.intermediate_dim, "hidden")
        self.hidden_dense.build(inputs_shape)
        self.gate_dense = None
        if self.gated:
            self.gate_dense = self._dense(self.intermediate_dim, "gate")
            self.gate_dense.build(inputs_shape)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.output_dense = self._dense(inputs_shape[-1], "output")
        self.output_dense.build(
            tuple(inputs_shape[:-1]) + (self.intermediate_dim,)
        )

    def _dense(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def call(self, inputs, training=None):
        hidden = self.hidden_dense(inputs)
        dtype = keras.backend.standardize_dtype(hidden.dtype)
        activated = self.gate_dense(inputs) if self.gated else hidden
        if dtype in ("float16", "bfloat16"):
            hidden = ops.cast(hidden, "float32")
            activated = ops.cast(activated, "float32")
        activated = self.activation(activated)
        hidden = activated * hidden if self.gated else activated
        hidden = ops.cast(hidden, dtype)
        hidden = self.dropout_layer(hidden, training=training)
        return self.output_dense(hidden)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "gated": self.gated,
                "use_bias": self.use_bias,
            }
        )
        return config


def _boolean(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"{name} must be True or False. Received: {name}={value!r}"
        )
    return value
