"""The base of the fusion heads: image tokens and a question (or any text)
to one fused vector, called as
`head(image_tokens, question_tokens, question_mask, question_pooled)`.

- `image_tokens` `(batch, N, D_i)`: an image encoder's tokens.
- `question_tokens` `(batch, T, D_q)`: a text encoder's tokens.
- `question_mask` `(batch, T)`: True for real tokens, False for padding;
  padded tokens never change the output.
- `question_pooled` `(batch, D_p)`: the pooled text.

Every head returns `(batch, features)`, which a task's classifier reads.
"""

import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers.attention import _core


class FusionHead(keras.layers.Layer):
    """Checks the four inputs' ranks, gives `(batch, hidden_dim)` as the
    output shape and says which heads can draw where the question looked
    (`image_attention`)."""

    def build(
        self,
        image_tokens_shape,
        question_tokens_shape,
        question_mask_shape,
        question_pooled_shape,
    ):
        _checks.rank("image_tokens", image_tokens_shape, 3)
        _checks.rank("question_tokens", question_tokens_shape, 3)
        _checks.rank("question_mask", question_mask_shape, 2)
        _checks.rank("question_pooled", question_pooled_shape, 2)
        self._build_head(
            tuple(image_tokens_shape),
            tuple(question_tokens_shape),
            tuple(question_pooled_shape),
        )
        self.built = True

    def _build_head(self, image_shape, question_shape, pooled_shape):
        """Creates the sublayers for these shapes (the mask's follows the
        question tokens')."""

    def compute_output_shape(
        self,
        image_tokens_shape,
        question_tokens_shape,
        question_mask_shape,
        question_pooled_shape,
    ):
        return (image_tokens_shape[0], self.hidden_dim)

    def image_attention(
        self, image_tokens, question_tokens, question_mask, question_pooled
    ):
        """`(batch, N)`: how much the question attends to each image token,
        averaged over heads (and question tokens)."""
        raise ValueError(
            f"{type(self).__name__} has no attention from the question to "
            "the image tokens to draw; CoAttentionFusionHead, "
            "BilinearFusionHead and AttentionFusionHead have"
        )

    def _dense(self, name, units, input_shape, activation=None):
        """A `Dense` of this head's dtype policy, built for `input_shape`."""
        layer = keras.layers.Dense(
            units, activation=activation, dtype=self.dtype_policy, name=name
        )
        layer.build(input_shape)
        return layer


class AttentionFusionHeadBase(FusionHead):
    """The heads built on attention: `hidden_dim` wide, `num_heads` heads,
    `dropout` and the `xla` switch of their attention cores."""

    def __init__(
        self, hidden_dim, num_heads, dropout=0.0, xla="auto", **kwargs
    ):
        super().__init__(**kwargs)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("num_heads", num_heads)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.xla = _core.check_xla(xla)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "xla": self.xla,
            }
        )
        return config


class StackedFusionHead(FusionHead):
    """The heads of `num_layers` layers whose output is `hidden_dim` wide
    (the relation network's g_theta, FiLM's blocks)."""

    def __init__(self, hidden_dim, num_layers=2, **kwargs):
        super().__init__(**kwargs)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("num_layers", num_layers)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "num_layers": self.num_layers}
        )
        return config


def masked_mean(tokens, mask):
    """The mean of `tokens` `(B, T, D)` over the True entries of `mask`."""
    weights = ops.cast(mask, tokens.dtype)[:, :, None]
    count = ops.maximum(ops.sum(weights, axis=1), 1.0)
    return ops.sum(tokens * weights, axis=1) / count
