import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import _masking
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention import multi_head_attention
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward
from mmkeras.layers.transformer.rms_normalization import RMSNormalization


@keras.saving.register_keras_serializable(package="mmkeras")
class DecoderOnlyBlock(keras.layers.Layer):
    """The pre-norm block of Llama-style language models.

    `x + attention(rms_norm(x))` with causal grouped-query self-attention
    and a rotary position embedding, then `x + mlp(rms_norm(x))` with a
    SwiGLU MLP; no biases anywhere (Llama 2/3, Mistral, SmolLM2).

    `padding_mask` marks the real keys: `(batch, length)`, or with a cache
    `(batch, max_length)` over the cache's slots. `positions` are the
    tokens' rotary positions `(batch, length)` (default `0, 1, ...` plus
    `cache_update_index`): left-padded prompts pass their own so that the
    first real token is at position 0. For step-by-step decoding pass
    `cache` (from `empty_cache`) and `cache_update_index`; the block then
    writes the new keys and values at that slot and returns
    `(outputs, cache)`.

    Args:
        num_heads: number of query heads.
        num_key_value_heads: number of key/value heads (the cache holds
            only these); must divide `num_heads`. Defaults to `num_heads`.
        intermediate_dim: width of the SwiGLU MLP.
        head_dim: size of each head; defaults to the feature size divided
            by `num_heads`.
        rope_max_wavelength: base of the rotary embedding.
        rope_layout: `"half"` (Hugging Face) or `"interleaved"` (GGUF), how
            the query and key projections pair the rotated dimensions.
        layer_norm_epsilon: epsilon of the RMS normalizations.
        dropout: dropout rate on attention probabilities and residuals.
        xla: run the block (attention, MLP and norms) as one XLA
            computation: `True`, `False` or `"auto"` (the default)
            compiles on a GPU or TPU only.
        kernel_initializer: initializer for all kernels.

    Example:

    >>> block = mmkeras.layers.DecoderOnlyBlock(
    ...     num_heads=4, num_key_value_heads=2, intermediate_dim=32
    ... )
    >>> block(np.ones((2, 5, 16), "float32")).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        num_key_value_heads=None,
        head_dim=None,
        rope_max_wavelength=10000,
        rope_layout="half",
        layer_norm_epsilon=1e-5,
        dropout=0.0,
        xla="auto",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_heads", num_heads)
        _checks.positive_int("intermediate_dim", intermediate_dim)
        _checks.optional_positive_int("head_dim", head_dim)
        multi_head_attention.check_grouping(num_heads, num_key_value_heads)
        if rope_max_wavelength is None:
            raise ValueError(
                "DecoderOnlyBlock needs a rotary embedding: "
                "rope_max_wavelength must be a number > 1. Received: "
                "rope_max_wavelength=None"
            )
        multi_head_attention.check_rope(rope_max_wavelength, rope_layout)
        _checks.rate("dropout", dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.rope_max_wavelength = rope_max_wavelength
        self.rope_layout = rope_layout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.xla = _core.check_xla(xla)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True
        self._forward_fn = (
            _core.compiled_block(self._forward, self) if xla else self._forward
        )

    def build(self, inputs_shape):
        _checks.rank("inputs", inputs_shape, 3)
        features = inputs_shape[-1]
        head_dim = self.head_dim
        if head_dim is None:
            _checks.divisible("features", features, "num_heads", self.num_heads)
            head_dim = features // self.num_heads
        self.self_attention = MultiHeadAttention(
            self.num_heads,
            head_dim,
            dropout=self.dropout,
            use_bias=False,
            xla=self.xla,
            kernel_initializer=self.kernel_initializer,
            num_key_value_heads=self.num_key_value_heads,
            rope_max_wavelength=self.rope_max_wavelength,
            rope_layout=self.rope_layout,
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(inputs_shape)
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation="silu",
            dropout=self.dropout,
            kernel_initializer=self.kernel_initializer,
            gated=True,
            use_bias=False,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm = self._norm("feed_forward_norm")
        self.feed_forward_norm.build(inputs_shape)
        self.residual_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def _norm(self, name):
        return RMSNormalization(
            self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        positions=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        padding_mask = _masking.padding_mask(inputs, padding_mask)
        if positions is not None:
            positions = ops.convert_to_tensor(positions, "int32")
        if cache_update_index is not None:
            # A tensor, so that step-by-step calls share one compilation.
            cache_update_index = ops.convert_to_tensor(
                cache_update_index, "int32"
            )
        if (cache is None) != (cache_update_index is None):
            raise ValueError(
                "Pass cache and cache_update_index together (decoding step "
                "by step), or neither. Received: cache "
                f"{'None' if cache is None else tuple(cache.shape)}, "
                f"cache_update_index={cache_update_index}"
            )
        # Read above: Keras masks do not cross into a compiled function.
        return self._forward_fn(
            inputs, padding_mask, positions, cache, cache_update_index, training
        )

    def _forward(
        self,
        inputs,
        padding_mask,
        positions,
        cache,
        cache_update_index,
        training,
    ):
        def self_attend(x):
            return self.self_attention(
                x,
                x,
                value_mask=padding_mask,
                use_causal_mask=True,
                cache=cache,
                cache_update_index=cache_update_index,
                positions=positions,
                training=training,
            )

        x = residual(
            inputs,
            self_attend,
            self.self_attention_norm,
            self.residual_dropout,
            True,
            training,
        )
        if cache is not None:
            x, cache = x
        x = residual(
            x,
            lambda y: self.feed_forward(y, training=training),
            self.feed_forward_norm,
            self.residual_dropout,
            True,
            training,
        )
        return x if cache is None else (x, cache)

    def empty_cache(self, batch_size, max_length):
        """A zero cache `(batch_size, 2, max_length, num_key_value_heads,
        head_dim)` for `max_length` decoding steps."""
        return self.self_attention.empty_cache(batch_size, max_length)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "num_key_value_heads": self.num_key_value_heads,
                "head_dim": self.head_dim,
                "rope_max_wavelength": self.rope_max_wavelength,
                "rope_layout": self.rope_layout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
                "xla": self.xla,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
