import keras
from keras import ops

from mmkeras.layers._grid import static_grid
from mmkeras.layers._grid import with_coordinates
from mmkeras.layers.fusion._fusion_head import StackedFusionHead


@keras.saving.register_keras_serializable(package="mmkeras")
class RelationFusionHead(StackedFusionHead):
    """Relation network (Santoro et al. 2017): the image tokens, each
    tagged with its grid coordinates, are the objects; g_theta (`num_layers`
    ReLU layers of `hidden_dim`) reads every ordered pair of objects with
    the pooled question, and the pair outputs are averaged into `(batch,
    hidden_dim)` for f_phi (the task's classifier MLP). The fusion for
    relational questions ("what is the shape of the object closest to the
    red one?"); the number of image tokens must be static.

    Called as `head(image_tokens, question_tokens, question_mask,
    question_pooled)` (see `mmkeras.layers.fusion`); only the image tokens
    and the pooled question are read.

    Args:
        hidden_dim: width of g_theta's layers and of the output.
        num_layers: g_theta's depth (the paper's 4).

    Example:

    >>> head = mmkeras.layers.RelationFusionHead(hidden_dim=16)
    >>> image, question = np.ones((2, 9, 24)), np.ones((2, 5, 16))
    >>> mask, pooled = np.ones((2, 5), bool), np.ones((2, 16))
    >>> head(image, question, mask, pooled).shape
    TensorShape([2, 16])
    """

    def __init__(self, hidden_dim, num_layers=4, **kwargs):
        super().__init__(hidden_dim, num_layers, **kwargs)

    def _build_head(self, image_shape, question_shape, pooled_shape):
        self.coordinates = static_grid(type(self).__name__, image_shape)
        object_shape = (*image_shape[:-1], image_shape[-1] + 2)
        # g_theta's first layer on [o_i, o_j, q] is linear, so it splits
        # into three projections added by broadcasting: O(N) not O(N^2).
        self.first_object = self._dense("g_0_i", self.hidden_dim, object_shape)
        self.second_object = self._dense("g_0_j", self.hidden_dim, object_shape)
        self.question_projection = self._dense(
            "g_0_q", self.hidden_dim, pooled_shape
        )
        pair_shape = (None, None, None, self.hidden_dim)
        self.g_layers = [
            self._dense(f"g_{i}", self.hidden_dim, pair_shape, "relu")
            for i in range(1, self.num_layers)
        ]

    def call(
        self,
        image_tokens,
        question_tokens,
        question_mask,
        question_pooled,
        training=None,
    ):
        objects = with_coordinates(image_tokens, self.coordinates)
        pairs = ops.relu(
            self.first_object(objects)[:, :, None]
            + self.second_object(objects)[:, None, :]
            + self.question_projection(question_pooled)[:, None, None]
        )
        for layer in self.g_layers:
            pairs = layer(pairs)
        # A mean, not the paper's sum: the same up to a constant factor
        # that f_phi absorbs, with a scale that does not grow with N^2.
        return ops.mean(pairs, axis=(1, 2))
