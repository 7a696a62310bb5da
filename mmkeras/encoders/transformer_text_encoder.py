import keras
from keras import ops

from mmkeras import _checks
from mmkeras.encoders import _pooling
from mmkeras.encoders import _stack
from mmkeras.encoders._presets import PresetMixin
from mmkeras.layers import TokenAndPositionEmbedding

_POOLINGS = ("mean", "first")


@keras.saving.register_keras_serializable(package="mmkeras")
class TransformerTextEncoder(PresetMixin, keras.layers.Layer):
    """A pre-LN transformer text encoder trained from scratch.

    Token and position embeddings, `num_layers` pre-LN blocks and a final
    layer norm. Token id 0 is padding: padded tokens are masked out of the
    attention and the pooling, so they never change the other outputs, and
    `"tokens"` carries the Keras mask `token_ids != 0`.

    Returns `{"tokens": (batch, length, hidden_dim), "pooled": (batch,
    hidden_dim)}` (see `mmkeras.encoders`). Presets fix the architecture;
    `vocabulary_size` comes from the tokenizer, so pass it to `from_preset`.

    Args:
        vocabulary_size: number of token ids, including padding id 0.
        sequence_length: maximum number of tokens.
        hidden_dim: size of the tokens.
        num_layers: number of transformer blocks.
        num_heads: attention heads per block.
        intermediate_dim: width of the MLPs.
        dropout: dropout on the embeddings and in the blocks.
        pooling: `"mean"` (over real tokens) or `"first"` for `"pooled"`.
        layer_norm_epsilon: epsilon of every layer norm.
        xla: run each transformer block as one XLA computation: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> encoder = mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...     "tiny", vocabulary_size=100
    ... )
    >>> outputs = encoder(np.array([[5, 6, 7, 0]], "int32"))
    >>> outputs["tokens"].shape, outputs["pooled"].shape
    (TensorShape([1, 4, 64]), TensorShape([1, 64]))
    """

    presets = {
        "tiny": dict(
            sequence_length=64,
            hidden_dim=64,
            num_layers=2,
            num_heads=2,
            intermediate_dim=128,
        ),
        "small": dict(
            sequence_length=128,
            hidden_dim=256,
            num_layers=4,
            num_heads=4,
            intermediate_dim=1024,
        ),
    }

    def __init__(
        self,
        vocabulary_size,
        sequence_length=128,
        hidden_dim=256,
        num_layers=4,
        num_heads=4,
        intermediate_dim=1024,
        dropout=0.1,
        pooling="mean",
        layer_norm_epsilon=1e-5,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("sequence_length", sequence_length),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
        ):
            _checks.positive_int(name, value)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _pooling.check(pooling, _POOLINGS)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.pooling = pooling
        self.layer_norm_epsilon = layer_norm_epsilon
        self.xla = xla
        self.supports_masking = True

    def build(self, token_ids_shape):
        _checks.rank("token_ids", token_ids_shape, 2)
        self.embedding = TokenAndPositionEmbedding(
            self.vocabulary_size,
            self.sequence_length,
            self.hidden_dim,
            dtype=self.dtype_policy,
            name="embedding",
        )
        self.embedding.build(token_ids_shape)
        shape = tuple(token_ids_shape) + (self.hidden_dim,)
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="embedding_dropout"
        )
        self.blocks, self.output_norm = _stack.pre_ln_stack(self, shape)

    def call(self, token_ids, training=None):
        padding_mask = ops.not_equal(token_ids, 0)
        tokens = self.embedding(token_ids)
        tokens = self.embedding_dropout(tokens, training=training)
        for block in self.blocks:
            tokens = block(tokens, padding_mask=padding_mask, training=training)
        tokens = self.output_norm(tokens)
        pooled = _pooling.pool(tokens, self.pooling, padding_mask)
        return {"tokens": tokens, "pooled": pooled}

    def compute_mask(self, token_ids, mask=None):
        return {"tokens": ops.not_equal(token_ids, 0), "pooled": None}

    def compute_output_shape(self, token_ids_shape):
        batch = token_ids_shape[0]
        return {
            "tokens": tuple(token_ids_shape) + (self.hidden_dim,),
            "pooled": (batch, self.hidden_dim),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "pooling": self.pooling,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "xla": self.xla,
            }
        )
        return config
