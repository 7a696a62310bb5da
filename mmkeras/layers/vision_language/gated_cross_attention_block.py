import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention import multi_head_attention
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward
from mmkeras.layers.transformer.rms_normalization import RMSNormalization
from mmkeras.layers.vision_language import _checks as _vl_checks


@keras.saving.register_keras_serializable(package="mmkeras")
class GatedCrossAttentionBlock(keras.layers.Layer):
    """Flamingo's gated cross-attention block, for inserting between the
    blocks of a frozen language model.

    `x + tanh(attention_gate) * cross_attention(rms_norm(x), image_latents)`,
    then `+ tanh(mlp_gate) * mlp(rms_norm(...))` with a SwiGLU MLP; no
    biases (RMSNorm and SwiGLU, as the Llama blocks around it). Both gates
    are scalars initialised at 0, so a new block returns `x` exactly and
    the language model's outputs are unchanged until training opens them.

    `attends_image` `(batch, length)` marks the text tokens that may see
    the image (Flamingo: the tokens after the image); the others keep `x`
    exactly, through both branches, so a text-only row is the language
    model's. Called with neither `image_latents` nor `cache` (no image),
    the block returns `x`. The keys and values of an image need computing
    once: `compute_cache(image_latents)` gives `(batch, 2, m,
    num_key_value_heads, key_dim)`, passed as `cache` at every decoding
    step instead of `image_latents` (never both).
    `return_attention_scores=True` returns `(outputs, scores)`: the
    cross-attention probabilities `(batch, num_heads, length, m)` (None
    without an image), what `VisionLanguageModel.explain` draws.

    Args:
        num_heads: number of query heads.
        intermediate_dim: width of the SwiGLU MLP.
        key_dim: size of each head; defaults to the text width divided by
            `num_heads`.
        num_key_value_heads: key/value heads (the cache holds only these);
            must divide `num_heads`. Defaults to `num_heads`.
        layer_norm_epsilon: epsilon of the RMS normalizations.
        dropout: dropout rate on attention probabilities and residuals.
        xla: run the block (attention, MLP and norms) as one XLA
            computation: `True`, `False` or `"auto"` (the default)
            compiles on a GPU or TPU only.

    Example:

    >>> block = mmkeras.layers.GatedCrossAttentionBlock(
    ...     num_heads=4, intermediate_dim=32, num_key_value_heads=2
    ... )
    >>> text = np.random.rand(2, 5, 16).astype("float32")
    >>> image = np.random.rand(2, 3, 24).astype("float32")
    >>> bool((block(text, image) == text).numpy().all())
    True
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        num_key_value_heads=None,
        layer_norm_epsilon=1e-5,
        dropout=0.0,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_heads", num_heads)
        _checks.positive_int("intermediate_dim", intermediate_dim)
        _checks.optional_positive_int("key_dim", key_dim)
        multi_head_attention.check_grouping(num_heads, num_key_value_heads)
        _vl_checks.epsilon(layer_norm_epsilon)
        _checks.rate("dropout", dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.num_key_value_heads = num_key_value_heads
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.xla = _core.check_xla(xla)
        self.supports_masking = True
        self._forward_fn = (
            _core.compiled_block(self._forward, self) if xla else self._forward
        )

    def build(self, x_shape, image_latents_shape=None):
        _checks.rank("x", x_shape, 3)
        if image_latents_shape is None:
            raise ValueError(
                "GatedCrossAttentionBlock builds its key and value "
                "projections from the image latents' width: call it the "
                "first time with image_latents (batch, m, d_image), not a "
                "cache or no image. Received: image_latents=None"
            )
        _checks.rank("image_latents", image_latents_shape, 3)
        features = x_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            _checks.divisible("features", features, "num_heads", self.num_heads)
            key_dim = features // self.num_heads
        self.cross_attention = MultiHeadAttention(
            self.num_heads,
            key_dim,
            dropout=self.dropout,
            use_bias=False,
            xla=self.xla,
            num_key_value_heads=self.num_key_value_heads,
            dtype=self.dtype_policy,
            name="cross_attention",
        )
        self.cross_attention.build(x_shape, image_latents_shape)
        self.cross_attention_norm = self._norm("cross_attention_norm", x_shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation="silu",
            dropout=self.dropout,
            gated=True,
            use_bias=False,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(x_shape)
        self.feed_forward_norm = self._norm("feed_forward_norm", x_shape)
        self.attention_gate = self.add_weight(
            name="attention_gate", shape=(), initializer="zeros"
        )
        self.mlp_gate = self.add_weight(
            name="mlp_gate", shape=(), initializer="zeros"
        )
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def _norm(self, name, shape):
        norm = RMSNormalization(
            self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(shape)
        return norm

    def call(
        self,
        x,
        image_latents=None,
        attends_image=None,
        cache=None,
        training=None,
        return_attention_scores=False,
    ):
        self._check_inputs(x, image_latents, attends_image, cache)
        if image_latents is None and cache is None:
            # No image: the language model's hidden states.
            return (x, None) if return_attention_scores else x
        if attends_image is not None:
            attends_image = ops.cast(attends_image, "bool")
        # Read above: Keras masks do not cross into a compiled function.
        return self._forward_fn(
            x,
            image_latents,
            attends_image,
            cache,
            training,
            return_attention_scores,
        )

    def _forward(
        self, x, image_latents, attends_image, cache, training, scores=False
    ):
        def attend(y):
            outputs = self.cross_attention(
                y,
                image_latents,
                cache=cache,
                return_attention_scores=scores,
                training=training,
            )
            if not isinstance(outputs, tuple):
                return outputs
            # A precomputed cache comes back unchanged; drop it.
            return outputs[:2] if scores else outputs[0]

        def mlp(y):
            return self.feed_forward(y, training=training)

        def gated(outputs, gate):
            if isinstance(outputs, tuple):
                return (_gated(outputs[0], gate, attends_image), outputs[1])
            return _gated(outputs, gate, attends_image)

        found = ()
        for sublayer, norm, gate in (
            (attend, self.cross_attention_norm, self.attention_gate),
            (mlp, self.feed_forward_norm, self.mlp_gate),
        ):
            x = residual(
                x,
                lambda y, f=sublayer, g=gate: gated(f(y), g),
                norm,
                self.residual_dropout,
                True,
                training,
            )
            if isinstance(x, tuple):
                x, *found = x
        return (x, *found) if scores else x

    def compute_cache(self, image_latents):
        """The cross-attention keys and values of `image_latents`
        `(batch, m, d_image)`, computed once per image: `(batch, 2, m,
        num_key_value_heads, key_dim)`, for `call(..., cache=...)`."""
        if not self.built:
            raise ValueError(
                "compute_cache needs the built block (its key and value "
                "projections): call it once with x and image_latents first."
            )
        self._check_latents(image_latents)
        return self.cross_attention.compute_kv_cache(image_latents)

    def _check_inputs(self, x, image_latents, attends_image, cache):
        _checks.rank("x", x.shape, 3)
        if image_latents is not None and cache is not None:
            raise ValueError(
                "Pass image_latents or a cache computed from them "
                "(compute_cache), not both. Received: image_latents with "
                f"shape {tuple(image_latents.shape)} and cache with shape "
                f"{tuple(cache.shape)}"
            )
        for name, tensor, rank, axes in (
            ("attends_image", attends_image, 2, 2),
            ("image_latents", image_latents, 3, 1),
            ("cache", cache, 5, 1),
        ):
            if tensor is not None:
                _checks.rank(name, tensor.shape, rank)
                _vl_checks.leading_dims(name, tensor.shape, "x", x.shape, axes)
        if not self.built:
            return
        attention = self.cross_attention
        expected = attention.query_dense.kernel.shape[0]
        _vl_checks.width(self, "x", x.shape, expected)
        if image_latents is not None:
            self._check_latents(image_latents)
        if cache is not None:
            kv_heads = self.num_key_value_heads or self.num_heads
            heads = (2, kv_heads, attention.key_dim)
            shape = tuple(cache.shape)
            if (shape[1], *shape[3:]) != heads:
                raise ValueError(
                    "cache must have shape (batch, 2, m, num_key_value_heads="
                    f"{heads[1]}, key_dim={heads[2]}), as compute_cache "
                    f"returns. Received: cache with shape {shape}"
                )

    def _check_latents(self, image_latents):
        _checks.rank("image_latents", image_latents.shape, 3)
        expected = self.cross_attention.value_dense.kernel.shape[0]
        _vl_checks.width(self, "image_latents", image_latents.shape, expected)

    def compute_output_shape(self, x_shape, image_latents_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "key_dim": self.key_dim,
                "num_key_value_heads": self.num_key_value_heads,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
                "xla": self.xla,
            }
        )
        return config


def _gated(outputs, gate, attends_image):
    """`tanh(gate) * outputs`, exactly zero in the rows that do not attend
    to the image (a select, so that no inf or NaN there leaks through)."""
    outputs = ops.cast(ops.tanh(gate), outputs.dtype) * outputs
    if attends_image is None:
        return outputs
    return ops.where(attends_image[..., None], outputs, 0)
