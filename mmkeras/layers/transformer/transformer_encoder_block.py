import keras

from mmkeras import _checks
from mmkeras.layers import _masking
from mmkeras.layers._residual import built_norm
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward


@keras.saving.register_keras_serializable(package="mmkeras")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention + MLP, each in a residual with layer normalization.

    Pre-LN by default (stable to train from scratch); `norm_first=False`
    gives the post-LN block of BERT and its descendants.

    Args:
        num_heads: number of attention heads; must divide the feature size.
        intermediate_dim: width of the MLP.
        dropout: dropout rate on attention probabilities and residuals.
        activation: MLP activation.
        layer_norm_epsilon: epsilon of the layer normalizations.
        norm_first: pre-LN (`True`) or post-LN (`False`).
        xla: run the block (attention, MLP and norms) as one XLA
            computation: `True`, `False` or `"auto"` (the default)
            compiles on a GPU or TPU only.
        kernel_initializer: initializer for all kernels.

    Example:

    >>> block = mmkeras.layers.TransformerEncoderBlock(2, intermediate_dim=32)
    >>> block(np.ones((2, 5, 16), "float32")).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        norm_first=True,
        xla="auto",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_heads", num_heads)
        _checks.positive_int("intermediate_dim", intermediate_dim)
        _checks.rate("dropout", dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.xla = _core.check_xla(xla)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True
        self._forward_fn = (
            _core.compiled_block(self._forward, self) if xla else self._forward
        )

    def build(self, inputs_shape):
        _checks.rank("inputs", inputs_shape, 3)
        features = inputs_shape[-1]
        _checks.divisible("features", features, "num_heads", self.num_heads)
        self.attention = MultiHeadAttention(
            self.num_heads,
            features // self.num_heads,
            dropout=self.dropout,
            xla=self.xla,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(inputs_shape, inputs_shape)
        self.attention_norm = built_norm(
            self.layer_norm_epsilon,
            self.dtype_policy,
            "attention_norm",
            inputs_shape,
        )
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm = built_norm(
            self.layer_norm_epsilon,
            self.dtype_policy,
            "feed_forward_norm",
            inputs_shape,
        )
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
    ):
        # Read here: Keras masks do not cross into a compiled function.
        padding_mask = _masking.padding_mask(inputs, padding_mask)
        return self._forward_fn(
            inputs, padding_mask, attention_mask, use_causal_mask, training
        )

    def _forward(
        self, inputs, padding_mask, attention_mask, use_causal_mask, training
    ):
        def attend(x):
            return self.attention(
                x,
                x,
                value_mask=padding_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                training=training,
            )

        x = residual(
            inputs,
            attend,
            self.attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )
        return residual(
            x,
            lambda y: self.feed_forward(y, training=training),
            self.feed_forward_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "norm_first": self.norm_first,
                "xla": self.xla,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
