import keras
from keras import ops

from mmkeras.layers.fusion._fusion_head import AttentionFusionHeadBase
from mmkeras.layers.fusion.attention_fusion import AttentionFusion


@keras.saving.register_keras_serializable(package="mmkeras")
class AttentionFusionHead(AttentionFusionHeadBase):
    """A learned query attends over the image tokens and the question
    tokens together (`mmkeras.layers.AttentionFusion`), skipping padded
    question tokens: `(batch, hidden_dim)`.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); the pooled question
    is not read. `image_attention` gives the query's weights on the image
    tokens (they sum to less than 1: the query weighs the question too).

    Args:
        hidden_dim: width of the projected tokens and of the output.
        num_heads: attention heads; must divide `hidden_dim`.
        dropout: dropout of the attention probabilities.
        xla: run the attention core under XLA: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> head = mmkeras.layers.AttentionFusionHead(hidden_dim=16, num_heads=2)
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 16])
    """

    def _build_head(self, image_shape, question_shape, pooled_shape):
        self.fusion = AttentionFusion(
            self.num_heads,
            self.hidden_dim,
            dropout=self.dropout,
            xla=self.xla,
            dtype=self.dtype_policy,
            name="attention_fusion",
        )
        self.fusion.build([image_shape, question_shape])

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        return self.fusion(
            [image_tokens, question_tokens],
            mask=[None, question_mask],
            training=training,
        )

    def image_attention(
        self, image_tokens, question_tokens, question_mask, question_pooled
    ):
        _, scores = self.fusion(
            [image_tokens, question_tokens],
            mask=[None, question_mask],
            return_attention_scores=True,
        )
        # The query's weights on the image tokens, which come first.
        return ops.mean(scores[:, :, : ops.shape(image_tokens)[1]], axis=1)
