import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import ConvStem
from mmkeras.layers import PatchEmbedding
from mmkeras.layers import TokenAndPositionEmbedding
from mmkeras.layers import TransformerEncoderBlock
from mmkeras.layers.attention import _core

# Modality-type ids: text tokens and image patches each add their row.
TEXT_TYPE, IMAGE_TYPE = 0, 1


@keras.saving.register_keras_serializable(package="mmkeras")
class ViLTBackbone(keras.layers.Layer):
    """The single-stream ViLT transformer (Kim et al. 2021): word and patch
    embeddings in ONE encoder stack, with no separate image tower.

    The sequence is a learned `[CLS]` vector, then the text tokens (word
    plus position embeddings, `TokenAndPositionEmbedding`), then the
    image patches (`PatchEmbedding`, or a `ConvStem` with
    `stem_filters`, layer-normalised before learned position embeddings
    are added); each text token adds the text modality-type embedding and
    each patch the image one. `num_layers` pre-LN
    `TransformerEncoderBlock`s and a final layer norm follow, and the
    pooler (dense + tanh on `[CLS]`, as BERT's) that the ITM and answer
    heads read. Token id 0 is padding:
    padded positions are masked out of attention, so padding never
    changes the other outputs.

    Called with `image` and `token_ids`, either may be None: the image
    alone or the text alone runs through the same stack (the ITC passes).

    Returns a dict: `"tokens"` `(batch, 1 + T + N, hidden_dim)` (`[CLS]`,
    the T text tokens, the N patches; no text or no image leaves its part
    out), `"cls"` the `[CLS]` output `(batch, hidden_dim)`, `"pooled"` it
    through the pooler and
    `"text_tokens"` `(batch, T, hidden_dim)` when text was given.

    Args:
        vocabulary_size: the tokenizer's vocabulary size.
        sequence_length: the longest token sequence (text positions).
        patch_size: side of the square image patches, in pixels.
        hidden_dim: width of the tokens.
        num_layers: encoder blocks.
        num_heads: attention heads; must divide `hidden_dim`.
        intermediate_dim: width of the blocks' MLP.
        dropout: dropout in the blocks.
        layer_norm_epsilon: epsilon of the layer norms.
        xla: compile each block whole: `True`, `False` or `"auto"` (on a
            GPU or TPU only).
        stem_filters: None for ViLT's linear patch projection; a list of
            filters for a `ConvStem` (group norm, one stride-2 conv each)
            in its place, the early convolutions that let a small
            transformer trained from little data see small objects.

    Example:

    >>> backbone = mmkeras.models.vilt.ViLTBackbone(
    ...     vocabulary_size=100, sequence_length=8, patch_size=8,
    ...     hidden_dim=32, num_layers=2, num_heads=4, intermediate_dim=64)
    >>> outputs = backbone(np.zeros((2, 32, 32, 3), "float32"),
    ...                    np.ones((2, 8), "int32"))
    >>> outputs["tokens"].shape
    TensorShape([2, 25, 32])
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        patch_size=8,
        hidden_dim=128,
        num_layers=4,
        num_heads=4,
        intermediate_dim=512,
        dropout=0.0,
        layer_norm_epsilon=1e-6,
        xla="auto",
        stem_filters=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("sequence_length", sequence_length),
            ("patch_size", patch_size),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
        ):
            _checks.positive_int(name, value)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        if stem_filters is not None:
            _checks.positive_ints("stem_filters", stem_filters)
            stem_filters = list(stem_filters)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.xla = _core.check_xla(xla)
        self.stem_filters = stem_filters

    def build(self, image_shape, token_ids_shape=None):
        width = self.hidden_dim
        token_ids_shape = token_ids_shape or (None, self.sequence_length)
        if self.stem_filters is None:
            self.patch_embedding = PatchEmbedding(
                self.patch_size,
                width,
                use_position_embedding=False,
                dtype=self.dtype_policy,
                name="patches",
            )
        else:
            self.patch_embedding = ConvStem(
                self.stem_filters,
                hidden_dim=width,
                normalization="group",
                use_position_embedding=False,
                dtype=self.dtype_policy,
                name="conv_stem",
            )
        self.patch_embedding.build(tuple(image_shape))
        num_patches = self.patch_embedding.compute_output_shape(
            tuple(image_shape)
        )[1]
        # Patches are normalised before their positions are added: on
        # white pages the raw patches barely differ (image embeddings of
        # shapes scenes had 0.003 spread, and ITC stayed at log(batch)).
        self.patch_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="patch_norm",
        )
        self.patch_norm.build((None, None, width))
        self.token_embedding = TokenAndPositionEmbedding(
            self.vocabulary_size,
            self.sequence_length,
            width,
            dtype=self.dtype_policy,
            name="words",
        )
        self.token_embedding.build(tuple(token_ids_shape))
        normal = keras.initializers.TruncatedNormal(stddev=0.02)
        self.type_embedding = self.add_weight(
            shape=(2, width), initializer=normal, name="type_embedding"
        )
        self.class_token = self.add_weight(
            shape=(width,), initializer=normal, name="class_token"
        )
        self.patch_positions = self.add_weight(
            shape=(num_patches, width),
            initializer=normal,
            name="patch_positions",
        )
        sequence = (None, None, width)
        self.blocks = []
        for index in range(self.num_layers):
            block = TransformerEncoderBlock(
                self.num_heads,
                self.intermediate_dim,
                dropout=self.dropout,
                layer_norm_epsilon=self.layer_norm_epsilon,
                xla=self.xla,
                dtype=self.dtype_policy,
                name=f"block_{index}",
            )
            block.build(sequence)
            self.blocks.append(block)
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="output_norm",
        )
        self.output_norm.build(sequence)
        self.pooler = keras.layers.Dense(
            width, activation="tanh", dtype=self.dtype_policy, name="pooler"
        )
        self.pooler.build((None, width))
        self.built = True

    @property
    def word_embeddings(self):
        """The `(vocabulary_size, hidden_dim)` word embedding matrix (what a
        tied MLM head decodes with)."""
        return self.token_embedding.token_embedding.embeddings

    def call(self, image=None, token_ids=None, training=None):
        if image is None and token_ids is None:
            raise ValueError(
                "ViLTBackbone needs an image, token ids or both. Received: "
                "image=None, token_ids=None"
            )
        parts, masks = [], []
        reference = image if image is not None else token_ids
        batch = ops.shape(reference)[0]
        cls = ops.cast(self.class_token, self.compute_dtype)
        parts.append(
            ops.broadcast_to(cls[None, None], (batch, 1, self.hidden_dim))
        )
        masks.append(ops.ones((batch, 1), "bool"))
        types = ops.cast(self.type_embedding, self.compute_dtype)
        if token_ids is not None:
            token_ids = ops.cast(token_ids, "int32")
            words = self.token_embedding(token_ids)
            parts.append(words + types[TEXT_TYPE])
            masks.append(ops.not_equal(token_ids, 0))
        if image is not None:
            patches = self.patch_norm(self.patch_embedding(image))
            positions = ops.cast(self.patch_positions, self.compute_dtype)
            parts.append(patches + positions + types[IMAGE_TYPE])
            masks.append(ops.ones(ops.shape(patches)[:2], "bool"))
        x = ops.concatenate(parts, axis=1)
        mask = ops.concatenate(masks, axis=1)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        x = self.output_norm(x)
        outputs = {"tokens": x, "cls": x[:, 0], "pooled": self.pooler(x[:, 0])}
        if token_ids is not None:
            outputs["text_tokens"] = x[:, 1 : 1 + ops.shape(token_ids)[1]]
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "xla": self.xla,
                "stem_filters": self.stem_filters,
            }
        )
        return config


def check_tokenizer(preprocessor, backbone):
    """Refuses a preprocessor whose tokenizer does not make the
    backbone's token ids."""
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None:
        return
    size, length = tokenizer.vocabulary_size(), tokenizer.sequence_length
    if size != backbone.vocabulary_size or length != backbone.sequence_length:
        raise ValueError(
            "the preprocessor's tokenizer must match the backbone: "
            f"vocabulary_size {backbone.vocabulary_size} and sequence_length "
            f"{backbone.sequence_length}. Received: a tokenizer of "
            f"vocabulary_size={size}, sequence_length={length}"
        )
