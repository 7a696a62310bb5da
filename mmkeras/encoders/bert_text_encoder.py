import keras
from keras import ops

from mmkeras import _checks
from mmkeras.encoders import _pooling
from mmkeras.encoders._presets import PresetMixin
from mmkeras.layers import TokenAndPositionEmbedding
from mmkeras.layers import TransformerEncoderBlock

_POOLINGS = ("mean", "first")


@keras.saving.register_keras_serializable(package="mmkeras")
class BertTextEncoder(PresetMixin, keras.layers.Layer):
    """A BERT encoder; the `"minilm_l6"` preset is all-MiniLM-L6-v2.

    Word, position and token-type embeddings summed and layer-normalized,
    then post-LN blocks with exact GELU, as in BERT. Token id 0 (`[PAD]`)
    is padding. `"pooled"` is the mean over real tokens (sentence-
    transformers' pooling; L2-normalize it for all-MiniLM-L6-v2's sentence
    embedding) or the `[CLS]` token with `pooling="first"`. BERT's tanh
    pooler is not built: sentence-transformers does not use it.
    `mmkeras.encoders.weight_maps.minilm_weight_map` maps the Hugging Face
    weights onto this layer.

    Returns `{"tokens": (batch, length, hidden_dim), "pooled": (batch,
    hidden_dim)}`; `"tokens"` carries the Keras mask `token_ids != 0`.

    Args:
        vocabulary_size: number of word-piece ids.
        hidden_dim: size of the tokens.
        num_layers: number of transformer blocks.
        num_heads: attention heads per block.
        intermediate_dim: width of the MLPs.
        max_sequence_length: number of learned positions.
        type_vocabulary_size: number of segment ids.
        dropout: dropout on the embeddings and in the blocks.
        pooling: `"mean"` or `"first"`, for `"pooled"`.
        layer_norm_epsilon: epsilon of every layer norm.
        xla: run each transformer block as one XLA computation: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> encoder = mmkeras.encoders.BertTextEncoder.from_preset("tiny")
    >>> outputs = encoder(np.array([[101, 7592, 102, 0]], "int32"))
    >>> outputs["tokens"].shape, outputs["pooled"].shape
    (TensorShape([1, 4, 64]), TensorShape([1, 64]))
    """

    presets = {
        "tiny": dict(
            hidden_dim=64,
            num_layers=2,
            num_heads=2,
            intermediate_dim=128,
            max_sequence_length=128,
        ),
        # all-MiniLM-L6-v2's weights, from the zoo entry.
        "minilm_l6": "minilm_l6.sentence",
        "bert_base": dict(
            hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072
        ),
    }

    def __init__(
        self,
        vocabulary_size=30522,
        hidden_dim=384,
        num_layers=6,
        num_heads=12,
        intermediate_dim=1536,
        max_sequence_length=512,
        type_vocabulary_size=2,
        dropout=0.1,
        pooling="mean",
        layer_norm_epsilon=1e-12,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
            ("max_sequence_length", max_sequence_length),
            ("type_vocabulary_size", type_vocabulary_size),
        ):
            _checks.positive_int(name, value)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _pooling.check(pooling, _POOLINGS)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.type_vocabulary_size = type_vocabulary_size
        self.dropout = dropout
        self.pooling = pooling
        self.layer_norm_epsilon = layer_norm_epsilon
        self.xla = xla
        self.supports_masking = True

    def build(self, token_ids_shape, segment_ids_shape=None):
        _checks.rank("token_ids", token_ids_shape, 2)
        shape = tuple(token_ids_shape) + (self.hidden_dim,)
        # BERT's initializer: truncated normal with stddev 0.02 everywhere.
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.embedding = TokenAndPositionEmbedding(
            self.vocabulary_size,
            self.max_sequence_length,
            self.hidden_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="embedding",
        )
        self.embedding.build(token_ids_shape)
        self.segment_embedding = keras.layers.Embedding(
            self.type_vocabulary_size,
            self.hidden_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.segment_embedding.build(token_ids_shape)
        self.embedding_norm = self._norm("embedding_norm", shape)
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="embedding_dropout"
        )
        self.blocks = [
            self._block(index, shape, initializer)
            for index in range(self.num_layers)
        ]

    def _norm(self, name, shape):
        norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(shape)
        return norm

    def _block(self, index, shape, initializer):
        block = TransformerEncoderBlock(
            self.num_heads,
            self.intermediate_dim,
            dropout=self.dropout,
            activation="gelu",  # keras' gelu is exact (erf) by default
            layer_norm_epsilon=self.layer_norm_epsilon,
            norm_first=False,
            xla=self.xla,
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name=f"block_{index}",
        )
        block.build(shape)
        return block

    def call(self, token_ids, segment_ids=None, training=None):
        padding_mask = ops.not_equal(token_ids, 0)
        if segment_ids is None:
            segment_ids = ops.zeros_like(token_ids)
        tokens = self.embedding(token_ids) + self.segment_embedding(segment_ids)
        tokens = self.embedding_dropout(
            self.embedding_norm(tokens), training=training
        )
        for block in self.blocks:
            tokens = block(tokens, padding_mask=padding_mask, training=training)
        pooled = _pooling.pool(tokens, self.pooling, padding_mask)
        return {"tokens": tokens, "pooled": pooled}

    def compute_mask(self, token_ids, mask=None):
        return {"tokens": ops.not_equal(token_ids, 0), "pooled": None}

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return {
            "tokens": tuple(token_ids_shape) + (self.hidden_dim,),
            "pooled": (token_ids_shape[0], self.hidden_dim),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "max_sequence_length": self.max_sequence_length,
                "type_vocabulary_size": self.type_vocabulary_size,
                "dropout": self.dropout,
                "pooling": self.pooling,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "xla": self.xla,
            }
        )
        return config
