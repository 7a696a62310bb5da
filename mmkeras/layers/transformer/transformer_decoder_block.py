import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import _masking
from mmkeras.layers._residual import built_norm
from mmkeras.layers._residual import residual
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.transformer.feed_forward import FeedForward


@keras.saving.register_keras_serializable(package="mmkeras")
class TransformerDecoderBlock(keras.layers.Layer):
    """Causal self-attention, cross-attention and MLP, with a decoding cache.

    Cross-attention is built when the block is first called with an
    `encoder_sequence`; without one the block is decoder-only.

    For step-by-step decoding, pass `self_attention_cache` (from
    `empty_cache`) and `self_attention_cache_update_index`; the block then
    returns `(outputs, self_attention_cache)`. Pass `cross_attention_cache`
    (from `compute_cross_attention_cache`) instead of the encoder sequence so
    the encoder keys and values are projected once, not at every step.
    `return_cross_attention_scores=True` appends the cross-attention
    probabilities `(batch, heads, decoder_len, encoder_len)` to the
    outputs (what each position looked at, e.g. for attention maps).

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

    >>> block = mmkeras.layers.TransformerDecoderBlock(2, intermediate_dim=32)
    >>> tokens = np.ones((2, 5, 16), "float32")
    >>> image = np.ones((2, 9, 24), "float32")
    >>> block(tokens, image).shape
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

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        _checks.rank("decoder_sequence", decoder_sequence_shape, 3)
        features = decoder_sequence_shape[-1]
        _checks.divisible("features", features, "num_heads", self.num_heads)
        key_dim = features // self.num_heads
        self.self_attention = self._attention("self_attention", key_dim)
        self.self_attention.build(
            decoder_sequence_shape, decoder_sequence_shape
        )
        self.self_attention_norm = self._norm(
            "self_attention_norm", decoder_sequence_shape
        )
        self.cross_attention = None
        if encoder_sequence_shape is not None:
            _checks.rank("encoder_sequence", encoder_sequence_shape, 3)
            self.cross_attention = self._attention("cross_attention", key_dim)
            self.cross_attention.build(
                decoder_sequence_shape, encoder_sequence_shape
            )
            self.cross_attention_norm = self._norm(
                "cross_attention_norm", decoder_sequence_shape
            )
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(decoder_sequence_shape)
        self.feed_forward_norm = self._norm(
            "feed_forward_norm", decoder_sequence_shape
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

    def _norm(self, name, shape):
        return built_norm(
            self.layer_norm_epsilon, self.dtype_policy, name, shape
        )

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_cross_attention_scores=False,
        training=None,
    ):
        decoder_padding_mask = _masking.padding_mask(
            decoder_sequence, decoder_padding_mask
        )
        encoder_padding_mask = _masking.padding_mask(
            encoder_sequence, encoder_padding_mask
        )
        if self_attention_cache_update_index is not None:
            # A tensor, so that step-by-step calls share one compilation.
            self_attention_cache_update_index = ops.convert_to_tensor(
                self_attention_cache_update_index, "int32"
            )
        # Read above: Keras masks do not cross into a compiled function.
        return self._forward_fn(
            decoder_sequence,
            encoder_sequence,
            decoder_padding_mask,
            encoder_padding_mask,
            self_attention_cache,
            self_attention_cache_update_index,
            cross_attention_cache,
            use_causal_mask,
            return_cross_attention_scores,
            training,
        )

    def _forward(
        self,
        decoder_sequence,
        encoder_sequence,
        decoder_padding_mask,
        encoder_padding_mask,
        self_attention_cache,
        self_attention_cache_update_index,
        cross_attention_cache,
        use_causal_mask,
        return_cross_attention_scores,
        training,
    ):
        def self_attend(x):
            return self.self_attention(
                x,
                x,
                value_mask=decoder_padding_mask,
                use_causal_mask=use_causal_mask,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
                training=training,
            )

        x = residual(
            decoder_sequence,
            self_attend,
            self.self_attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )
        if self_attention_cache is not None:
            x, self_attention_cache = x
        scores = None
        if encoder_sequence is not None or cross_attention_cache is not None:
            x = self._cross_attend(
                x,
                encoder_sequence,
                encoder_padding_mask,
                cross_attention_cache,
                return_cross_attention_scores,
                training,
            )
            if return_cross_attention_scores:
                x, scores = x
        x = residual(
            x,
            lambda y: self.feed_forward(y, training=training),
            self.feed_forward_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )
        outputs = (x,)
        if self_attention_cache is not None:
            outputs += (self_attention_cache,)
        if return_cross_attention_scores:
            outputs += (scores,)
        return outputs[0] if len(outputs) == 1 else outputs

    def _cross_attend(
        self, x, encoder_sequence, padding_mask, cache, return_scores, training
    ):
        if self.cross_attention is None:
            raise ValueError(
                "This TransformerDecoderBlock was built without an "
                "encoder_sequence, so it has no cross-attention. Call it "
                "with encoder_sequence the first time to build one."
            )

        def cross_attend(y):
            outputs = self.cross_attention(
                y,
                encoder_sequence,
                value_mask=padding_mask,
                cache=cache,
                return_attention_scores=return_scores,
                training=training,
            )
            if not isinstance(outputs, tuple):
                return outputs
            # A precomputed cache comes back unchanged; drop it.
            if cache is not None:
                outputs = outputs[:-1]
            return outputs if len(outputs) > 1 else outputs[0]

        return residual(
            x,
            cross_attend,
            self.cross_attention_norm,
            self.residual_dropout,
            self.norm_first,
            training,
        )

    def empty_cache(self, batch_size, max_length):
        """A zero self-attention cache for `max_length` decoding steps."""
        return self.self_attention.empty_cache(batch_size, max_length)

    def compute_cross_attention_cache(self, encoder_sequence):
        """Projects the encoder sequence to cross-attention keys and values."""
        return self.cross_attention.compute_kv_cache(encoder_sequence)

    def compute_output_shape(
        self, decoder_sequence_shape, encoder_sequence_shape=None
    ):
        return decoder_sequence_shape

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
