import keras

from mmkeras import _checks
from mmkeras.layers import _masking
from mmkeras.layers._residual import built_norm
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward


@keras.saving.register_keras_serializable(package="mmkeras")
class CoAttention(keras.layers.Layer):
    """Bidirectional cross-attention between two token sets.

    Each stream attends to the other (ViLBERT's co-attention layer): `x`
    queries `y` and `y` queries `x`, both from the inputs as given, then each
    passes its own MLP; every sublayer is a pre-LN residual. With
    `self_attention=True` each stream first attends to itself, giving
    MCAN's self-attention + guided-attention unit in both directions.
    With `return_attention_scores=True` the call also returns each
    stream's attention probabilities over the other, `(batch, num_heads,
    T_x, T_y)` for `x` and `(batch, num_heads, T_y, T_x)` for `y`.

    The two streams may have different feature sizes (image regions and
    word embeddings); each keeps its own.

    Args:
        num_heads: attention heads; must divide both feature sizes.
        intermediate_dim: width of each stream's MLP.
        dropout: dropout rate on attention probabilities and residuals.
        activation: MLP activation.
        layer_norm_epsilon: epsilon of the layer normalizations.
        self_attention: add a self-attention sublayer to each stream first.
        xla: run the attention cores under XLA: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.
        kernel_initializer: initializer for all kernels.

    Example:

    >>> layer = mmkeras.layers.CoAttention(num_heads=2, intermediate_dim=32)
    >>> image, text = np.ones((2, 9, 24), "float32"), np.ones((2, 5, 16))
    >>> [t.shape for t in layer(image, text)]
    [TensorShape([2, 9, 24]), TensorShape([2, 5, 16])]
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        self_attention=False,
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
        self.self_attention = self_attention
        self.xla = _core.check_xla(xla)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, x_shape, y_shape):
        _checks.rank("x", x_shape, 3)
        _checks.rank("y", y_shape, 3)
        self.x_stream = self._stream("x_stream", x_shape, y_shape)
        self.y_stream = self._stream("y_stream", y_shape, x_shape)

    def _stream(self, name, own_shape, other_shape):
        stream = _GuidedAttentionStream(
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            self_attention=self.self_attention,
            xla=self.xla,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        stream.build(own_shape, other_shape)
        return stream

    def call(
        self,
        x,
        y,
        x_mask=None,
        y_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        x_mask = _masking.padding_mask(x, x_mask)
        y_mask = _masking.padding_mask(y, y_mask)
        x_out = self.x_stream(
            x,
            y,
            own_mask=x_mask,
            other_mask=y_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        y_out = self.y_stream(
            y,
            x,
            own_mask=y_mask,
            other_mask=x_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        scores = ()
        if return_attention_scores:
            (x_out, x_scores), (y_out, y_scores) = x_out, y_out
            scores = (x_scores, y_scores)
        # Keras infers only the first output's mask; give both theirs.
        return (
            _masking.attach(x_out, x_mask),
            _masking.attach(y_out, y_mask),
            *scores,
        )

    def compute_output_shape(self, x_shape, y_shape):
        return x_shape, y_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "self_attention": self.self_attention,
                "xla": self.xla,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


class _GuidedAttentionStream(keras.layers.Layer):
    """One stream: [self-attention], attention to the other stream, MLP;
    with `return_attention_scores`, also the guided attention's
    probabilities.

    Private: built and serialized only as part of `CoAttention`.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout,
        activation,
        layer_norm_epsilon,
        self_attention,
        xla,
        kernel_initializer,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_self_attention = self_attention
        self.xla = xla
        self.kernel_initializer = kernel_initializer
        self.supports_masking = True

    def build(self, own_shape, other_shape):
        features = own_shape[-1]
        _checks.divisible("features", features, "num_heads", self.num_heads)
        key_dim = features // self.num_heads
        self.self_attention = None
        if self.use_self_attention:
            self.self_attention = self._attention("self_attention", key_dim)
            self.self_attention.build(own_shape, own_shape)
            self.self_attention_norm = built_norm(
                self.layer_norm_epsilon,
                self.dtype_policy,
                "self_attention_norm",
                own_shape,
            )
        self.guided_attention = self._attention("guided_attention", key_dim)
        self.guided_attention.build(own_shape, other_shape)
        self.guided_attention_norm = built_norm(
            self.layer_norm_epsilon,
            self.dtype_policy,
            "guided_attention_norm",
            own_shape,
        )
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(own_shape)
        self.feed_forward_norm = built_norm(
            self.layer_norm_epsilon,
            self.dtype_policy,
            "feed_forward_norm",
            own_shape,
        )
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def _attention(self, name, key_dim):
        return MultiHeadAttention(
            self.num_heads,
            key_dim,
            dropout=self.dropout,
            xla=self.xla,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def call(
        self,
        own,
        other,
        own_mask=None,
        other_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        def sublayer(x, fn, norm):
            return residual(x, fn, norm, self.residual_dropout, True, training)

        if self.self_attention is not None:
            own = sublayer(
                own,
                lambda x: self.self_attention(
                    x, x, value_mask=own_mask, training=training
                ),
                self.self_attention_norm,
            )
        own = sublayer(
            own,
            lambda x: self.guided_attention(
                x,
                other,
                value_mask=other_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            ),
            self.guided_attention_norm,
        )
        scores = ()
        if return_attention_scores:
            own, *scores = own
        own = sublayer(
            own,
            lambda x: self.feed_forward(x, training=training),
            self.feed_forward_norm,
        )
        return (own, *scores) if scores else own
