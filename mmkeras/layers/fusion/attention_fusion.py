import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention


@keras.saving.register_keras_serializable(package="mmkeras")
class AttentionFusion(keras.layers.Layer):
    """Fuses modalities by letting a learned query token attend to them all.

    Each input is `(batch, features_i)` (one token) or `(batch, tokens_i,
    features_i)`. Every modality is projected to `hidden_dim` and gets its
    own learned modality-type embedding; the tokens of all modalities are
    concatenated and a learned query token attends over them with
    multi-head attention, giving `(batch, hidden_dim)`.

    `mask` is an optional list with one entry per input: `None`, or a
    boolean mask of the input's shape without its last axis, `True` for real
    tokens. Keras fills it in from masks attached to the inputs (e.g. by
    `Embedding(mask_zero=True)`). Padded tokens get no attention, so they
    never change the output. With `return_attention_scores=True` the call
    also returns the float32 attention probabilities `(batch, num_heads,
    total_tokens)`: which tokens of which modality the fusion used.

    Args:
        num_heads: number of attention heads; must divide `hidden_dim`.
        hidden_dim: size of the projected tokens and of the output.
        dropout: dropout rate on the attention probabilities.
        xla: run the attention core under XLA (`jit_compile`): `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.
        kernel_initializer: initializer for the kernels.

    Example:

    >>> fusion = mmkeras.layers.AttentionFusion(num_heads=2, hidden_dim=32)
    >>> image, text = np.ones((2, 9, 24), "float32"), np.ones((2, 16))
    >>> fusion([image, text]).shape
    TensorShape([2, 32])
    """

    def __init__(
        self,
        num_heads,
        hidden_dim,
        dropout=0.0,
        xla="auto",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_heads", num_heads)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.xla = _core.check_xla(xla)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2)
        _checks.ranks("inputs", inputs_shape, (2, 3))
        self.projections = []
        for i, shape in enumerate(inputs_shape):
            dense = keras.layers.Dense(
                self.hidden_dim,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=f"projection_{i}",
            )
            dense.build(shape)
            self.projections.append(dense)
        self.modality_embeddings = self._embedding(
            "modality_embeddings", (len(inputs_shape), self.hidden_dim)
        )
        self.query = self._embedding("query", (1, 1, self.hidden_dim))
        self.attention = MultiHeadAttention(
            self.num_heads,
            self.hidden_dim // self.num_heads,
            output_dim=self.hidden_dim,
            dropout=self.dropout,
            xla=self.xla,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="attention",
        )
        total_tokens = _total_tokens(inputs_shape)
        self.attention.build(
            (None, 1, self.hidden_dim), (None, total_tokens, self.hidden_dim)
        )

    def _embedding(self, name, shape):
        # Small random values so the query and the modalities start distinct.
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        return self.add_weight(shape=shape, initializer=initializer, name=name)

    def call(
        self, inputs, mask=None, return_attention_scores=False, training=None
    ):
        embeddings = ops.cast(self.modality_embeddings, self.compute_dtype)
        tokens = [
            dense(x if len(x.shape) == 3 else x[:, None, :]) + embeddings[i]
            for i, (dense, x) in enumerate(
                zip(self.projections, inputs, strict=True)
            )
        ]
        tokens = ops.concatenate(tokens, axis=1)
        query = ops.broadcast_to(
            ops.cast(self.query, self.compute_dtype),
            (ops.shape(tokens)[0], 1, self.hidden_dim),
        )
        result = self.attention(
            query,
            tokens,
            value_mask=_token_mask(inputs, mask),
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            return result[0][:, 0], result[1][:, :, 0]
        return result[:, 0]

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], self.hidden_dim)

    def compute_mask(self, inputs, mask=None):
        # The fused vector has no token axis left to mask.
        return None

    def compute_output_spec(
        self, inputs, mask=None, return_attention_scores=False, training=None
    ):
        input_shapes = [x.shape for x in inputs]
        shape = self.compute_output_shape(input_shapes)
        output = keras.KerasTensor(shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        scores_shape = (shape[0], self.num_heads, _total_tokens(input_shapes))
        return output, keras.KerasTensor(scores_shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "xla": self.xla,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


def _total_tokens(shapes):
    counts = [shape[1] if len(shape) == 3 else 1 for shape in shapes]
    return None if None in counts else sum(counts)


def _token_mask(inputs, masks):
    """One `(batch, total_tokens)` mask from per-input masks, or `None`."""
    if masks is None:
        return None
    if not isinstance(masks, (list, tuple)) or len(masks) != len(inputs):
        received = (
            f"{len(masks)} masks"
            if isinstance(masks, (list, tuple))
            else f"one mask of shape {tuple(masks.shape)}"
        )
        raise ValueError(
            "mask must be a list with one entry (a mask or None) per input. "
            f"Received: {received} for {len(inputs)} inputs"
        )
    if all(mask is None for mask in masks):
        return None
    token_masks = []
    for x, mask in zip(inputs, masks, strict=True):
        if mask is None:
            mask = ops.ones(ops.shape(x)[:-1], dtype="bool")
        else:
            shapes = [mask.shape, x.shape[:-1]]
            _checks.same_shapes("mask and input[:-1]", shapes)
        mask = ops.cast(mask, "bool")
        token_masks.append(mask if len(x.shape) == 3 else mask[:, None])
    return ops.concatenate(token_masks, axis=1)
