import keras
from keras import ops

from mmkeras.layers.attention.co_attention import CoAttention
from mmkeras.layers.fusion._fusion_head import AttentionFusionHeadBase
from mmkeras.layers.fusion._fusion_head import masked_mean


@keras.saving.register_keras_serializable(package="mmkeras")
class CoAttentionFusionHead(AttentionFusionHeadBase):
    """MCAN-style co-attention (Yu et al. 2019) of image and question.

    Both streams are projected to `hidden_dim` and go through one
    `mmkeras.layers.CoAttention` layer with self-attention (each stream
    attends to itself, then to the other); the fused vector is the mean
    image token and the masked mean question token, concatenated:
    `(batch, 2 * hidden_dim)`.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); `image_attention`
    gives the question's guided attention over the image tokens.

    Args:
        hidden_dim: width of both projected streams.
        num_heads: attention heads; must divide `hidden_dim`.
        dropout: dropout of the co-attention layer.
        xla: run the attention cores under XLA: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> head = mmkeras.layers.CoAttentionFusionHead(hidden_dim=16,
    ...                                             num_heads=2)
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 32])
    """

    def _build_head(self, image_shape, question_shape, pooled_shape):
        self.image_projection = self._dense(
            "image_projection", self.hidden_dim, image_shape
        )
        self.question_projection = self._dense(
            "question_projection", self.hidden_dim, question_shape
        )
        self.co_attention = CoAttention(
            self.num_heads,
            2 * self.hidden_dim,
            dropout=self.dropout,
            self_attention=True,
            xla=self.xla,
            dtype=self.dtype_policy,
            name="co_attention",
        )
        self.co_attention.build(
            (*image_shape[:-1], self.hidden_dim),
            (*question_shape[:-1], self.hidden_dim),
        )

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        image, question = self.co_attention(
            self.image_projection(image_tokens),
            self.question_projection(question_tokens),
            y_mask=question_mask,
            training=training,
        )
        return ops.concatenate(
            [ops.mean(image, axis=1), masked_mean(question, question_mask)],
            axis=-1,
        )

    def image_attention(
        self, image_tokens, question_tokens, question_mask, question_pooled
    ):
        *_, question_scores = self.co_attention(
            self.image_projection(image_tokens),
            self.question_projection(question_tokens),
            y_mask=question_mask,
            return_attention_scores=True,
        )
        # (B, heads, T, N): each question token's guided attention.
        return masked_mean(ops.mean(question_scores, axis=1), question_mask)

    def compute_output_shape(
        self,
        image_tokens_shape,
        question_tokens_shape,
        question_mask_shape,
        question_pooled_shape,
    ):
        return (image_tokens_shape[0], 2 * self.hidden_dim)
