import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers._grid import static_grid
from mmkeras.layers._grid import with_coordinates
from mmkeras.layers.fusion._fusion_head import AttentionFusionHeadBase
from mmkeras.layers.transformer.transformer_encoder_block import (
    TransformerEncoderBlock,
)


@keras.saving.register_keras_serializable(package="mmkeras")
class TransformerFusionHead(AttentionFusionHeadBase):
    """Single-stream fusion (VisualBERT-style): a learned fusion token,
    the question tokens and the image tokens go through `num_layers` pre-LN
    transformer encoder blocks together; the fusion token's output,
    layer-normalised, is the fused vector `(batch, hidden_dim)`.

    Each stream is projected to `hidden_dim` and tagged with a learned
    type embedding; image tokens first get their grid coordinates, as the
    relation network's objects do, since attention alone is blind to
    position (the number of image tokens must be static). Every token
    attends to every other, so pairs of objects interact in each layer at
    O(N^2) attention cost, not the relation network's O(N^2) MLPs.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); the pooled question
    is not read, and padded question tokens get no attention.

    Args:
        hidden_dim: width of the tokens in the blocks and of the output.
        num_heads: attention heads; must divide `hidden_dim`.
        num_layers: number of encoder blocks.
        dropout: dropout of the blocks.
        xla: compile each block under XLA: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> head = mmkeras.layers.TransformerFusionHead(hidden_dim=16,
    ...                                             num_heads=2)
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 16])
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        num_layers=2,
        dropout=0.0,
        xla="auto",
        **kwargs,
    ):
        super().__init__(hidden_dim, num_heads, dropout, xla, **kwargs)
        _checks.positive_int("num_layers", num_layers)
        self.num_layers = num_layers

    def _build_head(self, image_shape, question_shape, pooled_shape):
        self.coordinates = static_grid(type(self).__name__, image_shape)
        self.image_projection = self._dense(
            "image_projection",
            self.hidden_dim,
            (*image_shape[:-1], image_shape[-1] + 2),
        )
        self.question_projection = self._dense(
            "question_projection", self.hidden_dim, question_shape
        )
        # Row 0 is the fusion token; rows 1 and 2 tag question and image.
        self.type_embedding = self.add_weight(
            shape=(3, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="type_embedding",
        )
        length = None
        if image_shape[1] is not None and question_shape[1] is not None:
            length = 1 + image_shape[1] + question_shape[1]
        self.blocks = []
        for index in range(self.num_layers):
            block = TransformerEncoderBlock(
                self.num_heads,
                4 * self.hidden_dim,
                dropout=self.dropout,
                xla=self.xla,
                dtype=self.dtype_policy,
                name=f"block_{index}",
            )
            block.build((image_shape[0], length, self.hidden_dim))
            self.blocks.append(block)
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=self.dtype_policy, name="output_norm"
        )
        self.output_norm.build((image_shape[0], self.hidden_dim))

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        types = ops.cast(self.type_embedding, self.compute_dtype)
        batch = ops.shape(image_tokens)[0]
        fusion_token = ops.broadcast_to(
            types[0][None, None], (batch, 1, self.hidden_dim)
        )
        image = with_coordinates(image_tokens, self.coordinates)
        tokens = ops.concatenate(
            [
                fusion_token,
                self.question_projection(question_tokens) + types[1],
                self.image_projection(image) + types[2],
            ],
            axis=1,
        )
        mask = ops.concatenate(
            [
                ops.ones((batch, 1), "bool"),
                ops.cast(question_mask, "bool"),
                ops.ones(ops.shape(image_tokens)[:2], "bool"),
            ],
            axis=1,
        )
        for block in self.blocks:
            tokens = block(tokens, padding_mask=mask, training=training)
        return self.output_norm(tokens[:, 0])

    def get_config(self):
        config = super().get_config()
        config["num_layers"] = self.num_layers
        return config
