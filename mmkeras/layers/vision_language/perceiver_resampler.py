import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import _masking
from mmkeras.layers._residual import built_norm
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward
from mmkeras.layers.vision_language import _checks as _vl_checks


@keras.saving.register_keras_serializable(package="mmkeras")
class PerceiverResampler(keras.layers.Layer):
    """Flamingo's Perceiver resampler: any number of image tokens in, a
    fixed number of latents out.

    `num_latents` learned latents (initialised from a unit normal, as
    Flamingo's) attend to the image tokens. Each of the `num_layers`
    layers does `latents + attention(norm(latents), keys and values =
    concat(norm(tokens), norm(latents)))`, then `latents +
    mlp(norm(latents))` (pre-LN, GELU MLP, no biases, as Flamingo); a
    final layer norm closes the stack. Tokens are projected to `hidden_dim`
    first when their width differs. `padding_mask` `(batch, n)` marks the
    real image tokens: padded ones (whatever they hold, inf and NaN
    included) are zeroed and get exactly zero attention, so they never
    change the latents. `return_attention_scores=True` returns `(latents,
    scores)`: each layer's attention probabilities `(batch, num_layers,
    num_heads, num_latents, n + num_latents)`, keys the image tokens then
    the latents.

    Args:
        num_latents: number of output tokens.
        num_layers: number of attention + MLP layers.
        num_heads: attention heads; must divide the width.
        hidden_dim: width of the latents and the output; defaults to the
            image tokens' width.
        intermediate_dim: width of the MLP; defaults to `4 * hidden_dim`.
        layer_norm_epsilon: epsilon of the layer normalizations.
        dropout: dropout rate on attention probabilities and residuals.
        xla: run the whole resampler as one XLA computation: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> resampler = mmkeras.layers.PerceiverResampler(
    ...     num_latents=4, num_layers=2, num_heads=2, hidden_dim=16
    ... )
    >>> resampler(np.ones((2, 49, 32), "float32")).shape
    TensorShape([2, 4, 16])
    """

    def __init__(
        self,
        num_latents,
        num_layers,
        num_heads,
        hidden_dim=None,
        intermediate_dim=None,
        layer_norm_epsilon=1e-5,
        dropout=0.0,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_latents", num_latents)
        _checks.positive_int("num_layers", num_layers)
        _checks.positive_int("num_heads", num_heads)
        _checks.optional_positive_int("hidden_dim", hidden_dim)
        _checks.optional_positive_int("intermediate_dim", intermediate_dim)
        _vl_checks.epsilon(layer_norm_epsilon)
        _checks.rate("dropout", dropout)
        if hidden_dim is not None:
            _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        self.num_latents = num_latents
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.xla = _core.check_xla(xla)
        self.supports_masking = True
        self._forward_fn = (
            _core.compiled_block(self._forward, self) if xla else self._forward
        )

    def build(self, image_tokens_shape):
        _checks.rank("image_tokens", image_tokens_shape, 3)
        features = image_tokens_shape[-1]
        _checks.positive_int("the last axis of image_tokens", features)
        width = self.hidden_dim or features
        _checks.divisible("features", width, "num_heads", self.num_heads)
        self.input_projection = None
        if width != features:
            self.input_projection = keras.layers.Dense(
                width,
                use_bias=False,
                dtype=self.dtype_policy,
                name="input_projection",
            )
            self.input_projection.build(image_tokens_shape)
        self.latents = self.add_weight(
            name="latents",
            shape=(self.num_latents, width),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        tokens_shape = (None, None, width)
        self._width = width
        self.token_norms, self.latent_norms, self.attentions = [], [], []
        self.feed_forward_norms, self.feed_forwards = [], []
        for i in range(self.num_layers):
            self.token_norms.append(self._norm(f"token_norm_{i}"))
            self.latent_norms.append(self._norm(f"latent_norm_{i}"))
            attention = MultiHeadAttention(
                self.num_heads,
                width // self.num_heads,
                dropout=self.dropout,
                use_bias=False,
                xla=self.xla,
                dtype=self.dtype_policy,
                name=f"attention_{i}",
            )
            attention.build(tokens_shape, tokens_shape)
            self.attentions.append(attention)
            self.feed_forward_norms.append(self._norm(f"feed_forward_norm_{i}"))
            feed_forward = FeedForward(
                self.intermediate_dim or 4 * width,
                dropout=self.dropout,
                use_bias=False,
                dtype=self.dtype_policy,
                name=f"feed_forward_{i}",
            )
            feed_forward.build(tokens_shape)
            self.feed_forwards.append(feed_forward)
        self.output_norm = self._norm("output_norm")
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def _norm(self, name):
        return built_norm(
            self.layer_norm_epsilon,
            self.dtype_policy,
            name,
            (None, None, self._width),
        )

    def call(
        self,
        image_tokens,
        padding_mask=None,
        training=None,
        return_attention_scores=False,
    ):
        _checks.rank("image_tokens", image_tokens.shape, 3)
        self._check_width(image_tokens)
        padding_mask = _masking.padding_mask(image_tokens, padding_mask)
        if padding_mask is not None:
            _checks.rank("padding_mask", padding_mask.shape, 2)
            _vl_checks.leading_dims(
                "padding_mask",
                padding_mask.shape,
                "image_tokens",
                image_tokens.shape,
                2,
            )
            padding_mask = ops.cast(padding_mask, "bool")
        # Read above: Keras masks do not cross into a compiled function.
        return self._forward_fn(
            image_tokens, padding_mask, training, return_attention_scores
        )

    def _forward(self, image_tokens, padding_mask, training, scores=False):
        if self.input_projection is not None:
            image_tokens = self.input_projection(image_tokens)
        batch = ops.shape(image_tokens)[0]
        latents = ops.broadcast_to(
            ops.cast(self.latents, image_tokens.dtype)[None],
            (batch, *self.latents.shape),
        )
        if padding_mask is not None:
            # Zero weights times an inf or NaN pad would still be NaN.
            image_tokens = ops.where(padding_mask[..., None], image_tokens, 0)
            # The latents are keys too, and always real.
            padding_mask = ops.concatenate(
                [padding_mask, ops.ones((batch, self.num_latents), "bool")], 1
            )
        layers = zip(
            self.token_norms,
            self.latent_norms,
            self.attentions,
            self.feed_forward_norms,
            self.feed_forwards,
            strict=True,
        )
        found = []
        for token_norm, latent_norm, attention, mlp_norm, mlp in layers:
            tokens = token_norm(image_tokens)

            def attend(normed, tokens=tokens, attention=attention):
                keys = ops.concatenate([tokens, normed], axis=1)
                return attention(
                    normed,
                    keys,
                    value_mask=padding_mask,
                    return_attention_scores=scores,
                    training=training,
                )

            latents = self._residual(latents, attend, latent_norm, training)
            if scores:
                latents, probabilities = latents
                found.append(probabilities)
            latents = self._residual(
                latents,
                lambda y, mlp=mlp: mlp(y, training=training),
                mlp_norm,
                training,
            )
        latents = self.output_norm(latents)
        return (latents, ops.stack(found, axis=1)) if scores else latents

    def _residual(self, x, sublayer, norm, training):
        dropout = self.residual_dropout
        return residual(x, sublayer, norm, dropout, True, training)

    def _check_width(self, image_tokens):
        if self.built:
            expected = self._features()
            _vl_checks.width(self, "image_tokens", image_tokens.shape, expected)

    def _features(self):
        """The image tokens' width the built layer takes."""
        if self.input_projection is not None:
            return self.input_projection.kernel.shape[0]
        return self.latents.shape[1]

    def compute_mask(self, image_tokens, previous_mask=None):
        # Every latent is real, whatever the input's padding.
        return None

    def compute_output_shape(self, image_tokens_shape):
        width = self.hidden_dim or image_tokens_shape[-1]
        return (image_tokens_shape[0], self.num_latents, width)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_latents": self.num_latents,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
                "xla": self.xla,
            }
        )
        return config
