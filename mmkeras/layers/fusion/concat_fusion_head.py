import keras
from keras import ops

from mmkeras.layers.fusion._fusion_head import FusionHead


@keras.saving.register_keras_serializable(package="mmkeras")
class ConcatFusionHead(FusionHead):
    """The CNN+MLP baseline of Santoro et al. 2017: every image token,
    flattened, concatenated with the pooled question; `(batch, N * D_i +
    D_p)` for N image tokens of width D_i. It has no weights: the task's
    classifier MLP does the fusing. The number of image tokens must be
    static.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); only the image tokens
    and the pooled question are read.

    Example:

    >>> head = mmkeras.layers.ConcatFusionHead()
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 232])
    """

    def _build_head(self, image_shape, question_shape, pooled_shape):
        if image_shape[1] is None or image_shape[2] is None:
            raise ValueError(
                "ConcatFusionHead flattens the image tokens and needs their "
                "number and width to be static. Received: image_tokens of "
                f"shape {image_shape}"
            )

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        flat = ops.reshape(
            image_tokens, (-1, image_tokens.shape[1] * image_tokens.shape[2])
        )
        return ops.concatenate([flat, question_pooled], axis=-1)

    def compute_output_shape(
        self,
        image_tokens_shape,
        question_tokens_shape,
        question_mask_shape,
        question_pooled_shape,
    ):
        features = image_tokens_shape[1] * image_tokens_shape[2]
        return (image_tokens_shape[0], features + question_pooled_shape[-1])
