"""Losses for captioning and image-text retrieval.

All losses compute in float32, also under a `mixed_float16` policy: Keras
casts `y_pred` to the loss's dtype before `call`, and these losses fix that
dtype to float32.
"""

import keras
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.layers import _masking


@keras.saving.register_keras_serializable(package="mmkeras")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Token-level cross-entropy that ignores padding.

    `y_true` holds token ids `(batch, length)` and `y_pred` logits or
    probabilities `(batch, length, vocabulary_size)`. Positions where
    `y_true == pad_id` are ignored, and so are positions masked by a Keras
    mask on `y_pred` (e.g. from `Embedding(mask_zero=True)`). With the default
    reduction the loss is the mean over the real tokens of the batch, not
    over all positions, also under `tf.distribute` strategies whose replicas
    hold different numbers of real tokens (counted from `pad_id`).

    Args:
        from_logits: whether `y_pred` holds logits rather than probabilities.
        pad_id: the label id to ignore, or `None` to rely on masks only. It
            may lie outside the vocabulary (e.g. `-100`).
        label_smoothing: in `[0, 1)`; the target puts `1 - label_smoothing`
            on the true token and spreads `label_smoothing` uniformly over
            the vocabulary.
        reduction: a Keras loss reduction.
        name: the loss name.

    Example:

    >>> loss = mmkeras.losses.MaskedSparseCategoricalCrossentropy(
    ...     from_logits=True, pad_id=0)
    >>> labels = np.array([[5, 2, 0, 0]])
    >>> logits = np.zeros((1, 4, 8), "float32")
    >>> float(loss(labels, logits))  # log(8), pads ignored
    2.079...
    """

    def __init__(
        self,
        from_logits=False,
        pad_id=0,
        label_smoothing=0.0,
        reduction="sum_over_batch_size",
        name="masked_sparse_categorical_crossentropy",
    ):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        _checks.optional_integer("pad_id", pad_id)
        _checks.rate("label_smoothing", label_smoothing)
        self.from_logits = from_logits
        self.pad_id = pad_id
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        # Keras casts labels to float32 in `__call__`; ids < 2**24 are exact.
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = ops.squeeze(labels, axis=-1)
        valid = None
        if self.pad_id is not None:
            valid = ops.not_equal(labels, self.pad_id)
            # A pad id outside the vocabulary must not index it.
            labels = ops.where(valid, labels, ops.zeros_like(labels))
        log_probs = _log_probabilities(y_pred, self.from_logits)
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype="float32")
        if self.label_smoothing:
            vocabulary_size = ops.cast(ops.shape(y_pred)[-1], "float32")
            one_hot = (
                one_hot * (1.0 - self.label_smoothing)
                + self.label_smoothing / vocabulary_size
            )
        losses = -ops.sum(one_hot * log_probs, axis=-1)
        if valid is not None:
            losses = ops.where(valid, losses, ops.zeros_like(losses))
            losses = losses * _share_of_global_tokens(valid)
            # Keras combines this mask with y_pred's and averages over it.
            _masking.attach(losses, valid)
        return losses

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "pad_id": self.pad_id,
            "label_smoothing": self.label_smoothing,
        }


def _share_of_global_tokens(valid):
    """Turns a replica's mean over its tokens into its share of the mean
    over all replicas' tokens.

    Keras averages each replica's loss over that replica's real tokens and
    then averages the replicas, which weights a replica's tokens more when
    it holds fewer of them. Scaling by `replicas * local / global` tokens
    makes the result the mean over every real token, as on one device.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1.0
    local = ops.sum(ops.cast(valid, "float32"))
    total = context.all_reduce("SUM", local)
    return local * context.num_replicas_in_sync / ops.maximum(total, 1.0)


@keras.saving.register_keras_serializable(package="mmkeras")
class InfoNCE(keras.losses.Loss):
    """Symmetric contrastive (CLIP) loss over an image-text logit matrix.

    `y_pred` holds the logits `logits[i, j]` between image `i` and text `j`,
    already multiplied by the model's (learned) temperature; pair `i` is the
    positive of row and column `i`. The loss of example `i` is the mean of
    the image-to-text cross-entropy of row `i` and the text-to-image
    cross-entropy of column `i`. `y_true` is ignored (pass e.g. zeros).

    On one device `y_pred` is the square `(batch, batch)` matrix. Under a
    `tf.distribute` strategy with several replicas, the negatives span the
    global batch: each replica passes `(local_batch, global_batch)` logits
    of its own images against the texts of every replica in replica order
    (`DualEncoder` builds them with `all_gather`), and the loss gathers the
    rows of all replicas for the text-to-image direction. The loss value
    and the gradients then equal those of one device on the global batch,
    also when replicas hold different numbers of examples (see
    `info_nce`; with `reduction=None` reduce the losses by their mean).

    Args:
        reduction: a Keras loss reduction.
        name: the loss name.

    Example:

    >>> loss = mmkeras.losses.InfoNCE()
    >>> float(loss(np.zeros(4), np.zeros((4, 4), "float32")))  # log(4)
    1.386...
    """

    def __init__(self, reduction="sum_over_batch_size", name="info_nce"):
        super().__init__(name=name, reduction=reduction, dtype="float32")

    def call(self, y_true, y_pred):
        context = _multi_replica_context()
        if context is None:
            _check_square(y_pred)
            return _symmetric_cross_entropy(y_pred, ops.transpose(y_pred), 0)
        _checks.rank("y_pred", y_pred.shape, 2)
        local = ops.shape(y_pred)[0]
        offset, total = _replica_offset(context, local)
        _check_global_columns(y_pred, total, context.num_replicas_in_sync)
        rows = all_gather(y_pred)
        # Column j of the global matrix: every image against local text j.
        columns = ops.transpose(rows[:, offset : offset + local])
        losses = _symmetric_cross_entropy(y_pred, columns, offset)
        if self.reduction == "sum":
            # Summed replica sums are the global sum as they are.
            return losses
        return _scale_gradient(losses, _share(context, local, total))


def info_nce(image_embeddings, text_embeddings, logit_scale):
    """Per-example symmetric InfoNCE of embeddings, negatives from the
    global batch.

    The logits are `logit_scale * image_embeddings @ text_embeddings.T`
    (pass L2-normalised embeddings for CLIP's cosine logits). Under a
    `tf.distribute` strategy with several replicas (the step of `fit`),
    the embeddings of every replica are gathered, so each example's
    negatives are the whole global batch, and gradients flow back to the
    replica that computed each embedding.

    Keras averages each replica's loss over the replica's examples,
    divides it by the number of replicas and sums the replicas'
    gradients. So that this gives the gradient of the global-batch mean
    also when replicas hold different numbers of examples (a smaller last
    batch, a replica with none), the values are the examples' losses but
    their gradient is scaled by `replicas * local_batch / global_batch`
    (1 on one device and with an even split). Reduce them by their mean,
    as a `keras.losses.Loss` or `add_loss` does; the loss `fit` reports is
    then the global-batch mean too.

    Args:
        image_embeddings: `(local_batch, dim)` image embeddings.
        text_embeddings: `(local_batch, dim)` text embeddings; text `i`
            is the positive of image `i`.
        logit_scale: a scalar, the inverse temperature.

    Returns:
        The float32 losses `(local_batch,)`.

    Example:

    >>> images = np.eye(3, 4, dtype="float32")
    >>> losses = mmkeras.losses.info_nce(images, images, 10.0)
    >>> losses.shape
    TensorShape([3])
    """
    images = ops.cast(image_embeddings, "float32")
    texts = ops.cast(text_embeddings, "float32")
    _checks.rank("image_embeddings", images.shape, 2)
    _checks.rank("text_embeddings", texts.shape, 2)
    if tuple(images.shape) != tuple(texts.shape):
        raise ValueError(
            "image_embeddings and text_embeddings must have the same shape "
            "(batch, dim), one text per image. Received: image_embeddings "
            f"with shape {tuple(images.shape)} and text_embeddings with "
            f"shape {tuple(texts.shape)}"
        )
    scale = ops.cast(logit_scale, "float32")
    _checks.rank("logit_scale", scale.shape, 0)
    image_to_text = scale * ops.matmul(images, ops.transpose(all_gather(texts)))
    text_to_image = scale * ops.matmul(texts, ops.transpose(all_gather(images)))
    context = _multi_replica_context()
    if context is None:
        return _symmetric_cross_entropy(image_to_text, text_to_image, 0)
    local = ops.shape(images)[0]
    offset, total = _replica_offset(context, local)
    losses = _symmetric_cross_entropy(image_to_text, text_to_image, offset)
    return _scale_gradient(losses, _share(context, local, total))


def all_gather(values):
    """`values` of every replica, concatenated along axis 0 in replica order.

    Inside a `tf.distribute` replica context with several replicas (the
    step `fit` runs under `MirroredStrategy`), so that every replica sees
    the global batch; replicas may hold different numbers of rows, none
    included. The gradient flowing into the gathered tensor reaches each
    replica's own rows, summed over the replicas that used them. Elsewhere
    (one device, or outside the step) `values` itself.

    Args:
        values: a tensor of rank at least 1.

    Returns:
        The gathered tensor.
    """
    context = _multi_replica_context()
    if context is None:
        return values
    return context.all_gather(values, axis=0)


def _multi_replica_context():
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def _replica_offset(context, local):
    """This replica's first row in the global batch, and the global batch
    size."""
    sizes = context.all_gather(ops.reshape(local, (1,)), axis=0)
    replica = context.replica_id_in_sync_group
    return ops.sum(sizes[:replica]), ops.sum(sizes)


def _share(context, local, total):
    local = ops.cast(local, "float32")
    total = ops.cast(total, "float32")
    return local * context.num_replicas_in_sync / ops.maximum(total, 1.0)


def _scale_gradient(losses, scale):
    """`losses` with their gradient times `scale` (see `info_nce`)."""
    constant = ops.stop_gradient(losses)
    return constant + scale * (losses - constant)


def _symmetric_cross_entropy(image_to_text, text_to_image, offset):
    """Mean of both directions' cross-entropy; row `i` of each `(local,
    global)` matrix has its positive in column `offset + i`."""
    positives = offset + ops.arange(ops.shape(image_to_text)[0])[:, None]

    def cross_entropy(logits):
        log_probs = ops.log_softmax(logits, axis=1)
        return -ops.take_along_axis(log_probs, positives, axis=1)[:, 0]

    return (cross_entropy(image_to_text) + cross_entropy(text_to_image)) / 2


def _check_global_columns(y_pred, total, replicas):
    # A model that scores only its own replica's texts would silently train
    # on per-replica negatives.
    tf.debugging.assert_equal(
        ops.shape(y_pred)[1],
        ops.cast(total, "int32"),
        message=(
            f"InfoNCE under a strategy with {replicas} replicas takes "
            "(local_batch, global_batch) logits: this replica's images "
            "against the texts of every replica, gathered with "
            "mmkeras.losses.all_gather. Received: y_pred whose columns are "
            "not the global batch size (got vs expected follow)"
        ),
    )


@keras.saving.register_keras_serializable(package="mmkeras")
class TripletLoss(keras.losses.Loss):
    """Bidirectional hinge triplet loss over an image-text similarity matrix.

    `y_pred` is the `(batch, batch)` matrix of similarities `s[i, j]` between
    image `i` and text `j`, positives on the diagonal (VSE++, Faghri et al.,
    2018). For example `i`, each negative `j != i` costs
    `max(0, margin - s[i, i] + s[i, j])` (image to text) plus
    `max(0, margin - s[i, i] + s[j, i])` (text to image). With
    `negatives="hardest"` only the largest cost of each direction counts;
    with `negatives="all"` the costs are summed. `y_true` is ignored.

    Args:
        margin: the required gap between positive and negative similarity.
        negatives: `"hardest"` or `"all"`.
        reduction: a Keras loss reduction.
        name: the loss name.

    Example:

    >>> loss = mmkeras.losses.TripletLoss(margin=0.2)
    >>> float(loss(np.zeros(2), np.eye(2, dtype="float32")))
    0.0
    """

    def __init__(
        self,
        margin=0.2,
        negatives="hardest",
        reduction="sum_over_batch_size",
        name="triplet_loss",
    ):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)):
            raise ValueError(
                f"margin must be a number. Received: margin={margin!r}"
            )
        _checks.one_of("negatives", negatives, ("hardest", "all"))
        self.margin = margin
        self.negatives = negatives

    def call(self, y_true, y_pred):
        _check_square(y_pred)
        positive = ops.diagonal(y_pred)
        off_diagonal = 1.0 - ops.eye(ops.shape(y_pred)[0], dtype="float32")
        image_to_text = ops.relu(self.margin - positive[:, None] + y_pred)
        text_to_image = ops.relu(self.margin - positive[None, :] + y_pred)
        image_to_text = image_to_text * off_diagonal
        text_to_image = text_to_image * off_diagonal
        if self.negatives == "hardest":
            # Costs are >= 0, so the zeroed diagonal never wins the max.
            return ops.max(image_to_text, axis=1) + ops.max(
                text_to_image, axis=0
            )
        return ops.sum(image_to_text, axis=1) + ops.sum(text_to_image, axis=0)

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "negatives": self.negatives,
        }


def _log_probabilities(y_pred, from_logits):
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    # As Keras' crossentropy: renormalise, then clip away log(0).
    probabilities = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    epsilon = keras.config.epsilon()
    return ops.log(ops.clip(probabilities, epsilon, 1.0 - epsilon))


def _check_square(y_pred):
    shape = tuple(y_pred.shape)
    if len(shape) != 2 or (
        shape[0] is not None and shape[1] is not None and shape[0] != shape[1]
    ):
        raise ValueError(
            "y_pred must be a square (batch, batch) matrix of image-text "
            f"scores. Received: y_pred with shape {shape}"
        )
