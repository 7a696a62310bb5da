import keras
from keras import ops

from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.fusion._fusion_head import AttentionFusionHeadBase
from mmkeras.layers.fusion.bilinear_fusion import BilinearFusion


@keras.saving.register_keras_serializable(package="mmkeras")
class BilinearFusionHead(AttentionFusionHeadBase):
    """MFB with question-guided attention (Yu et al. 2017): the pooled
    question attends over the image tokens, then
    `mmkeras.layers.BilinearFusion` pools the attended image and the
    pooled question into `(batch, hidden_dim)`.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); the question tokens
    are not read. `image_attention` gives the pooled question's attention
    over the image tokens.

    Args:
        hidden_dim: width of the attended image and of the output.
        num_heads: attention heads; must divide `hidden_dim`.
        dropout: dropout of the attention and of the bilinear pooling.
        xla: run the attention core under XLA: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> head = mmkeras.layers.BilinearFusionHead(hidden_dim=16, num_heads=2)
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 16])
    """

    def _build_head(self, image_shape, question_shape, pooled_shape):
        self.attention = MultiHeadAttention(
            self.num_heads,
            self.hidden_dim // self.num_heads,
            output_dim=self.hidden_dim,
            dropout=self.dropout,
            xla=self.xla,
            dtype=self.dtype_policy,
            name="image_attention",
        )
        self.attention.build(
            (pooled_shape[0], 1, pooled_shape[-1]), image_shape
        )
        self.bilinear = BilinearFusion(
            self.hidden_dim,
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="bilinear",
        )
        self.bilinear.build([(pooled_shape[0], self.hidden_dim), pooled_shape])

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        attended = self.attention(
            question_pooled[:, None], image_tokens, training=training
        )
        return self.bilinear(
            [attended[:, 0], question_pooled], training=training
        )

    def image_attention(
        self, image_tokens, question_tokens, question_mask, question_pooled
    ):
        _, scores = self.attention(
            question_pooled[:, None],
            image_tokens,
            return_attention_scores=True,
        )
        return ops.mean(scores[:, :, 0], axis=1)
