import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class LateFusion(keras.layers.Layer):
    """Decision-level fusion: a weighted combination of per-modality logits.

    Each input is one modality's prediction, `(batch, num_classes)` logits,
    all of the same shape. The modality weights sum to 1 and are learned
    (`mode="learned"`: trainable, softmax-normalised, starting equal), given
    (`mode="fixed"`: `modality_weights`, divided by their sum) or equal
    (`mode="mean"`).

    With `combine="logits"` the output is the weighted sum of the logits.
    With `combine="probabilities"` the output is `log(sum_i w_i
    softmax(logits_i))`, the log of the weighted mixture of the modalities'
    probabilities. Both are logits, so either output works with
    `from_logits=True` losses, and `softmax` of the second gives the mixture.

    Args:
        mode: `"learned"`, `"fixed"` or `"mean"`.
        modality_weights: with `mode="fixed"`, one non-negative number per
            input. (Not `weights`, which every Keras layer already has.)
        combine: `"logits"` or `"probabilities"`.

    Example:

    >>> fusion = mmkeras.layers.LateFusion("fixed", modality_weights=[3, 1])
    >>> image_logits, text_logits = np.ones((2, 5), "float32"), np.zeros((2, 5))
    >>> fusion([image_logits, text_logits]).shape
    TensorShape([2, 5])
    >>> np.asarray(fusion.normalized_weights())
    array([0.75, 0.25], dtype=float32)
    """

    def __init__(
        self, mode="learned", modality_weights=None, combine="logits", **kwargs
    ):
        super().__init__(**kwargs)
        _checks.one_of("mode", mode, ("learned", "fixed", "mean"))
        _checks.one_of("combine", combine, ("logits", "probabilities"))
        if mode == "fixed":
            _checks.non_negative_numbers("modality_weights", modality_weights)
            modality_weights = list(modality_weights)
        elif modality_weights is not None:
            raise ValueError(
                "modality_weights is only used with mode='fixed'. Received: "
                f"modality_weights={modality_weights!r}, mode={mode!r}"
            )
        self.mode = mode
        self.modality_weights = modality_weights
        self.combine = combine

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2)
        _checks.ranks("inputs", inputs_shape, (2,))
        _checks.same_shapes("inputs", inputs_shape)
        num_modalities = self._num_modalities = len(inputs_shape)
        fixed = self.mode == "fixed"
        if fixed and len(self.modality_weights) != num_modalities:
            raise ValueError(
                "modality_weights must have one weight per input. Received: "
                f"modality_weights={self.modality_weights!r} for "
                f"{num_modalities} inputs"
            )
        if self.mode == "learned":
            # Zeros: every modality starts with the same weight.
            self.modality_logits = self.add_weight(
                shape=(num_modalities,),
                initializer="zeros",
                name="modality_logits",
            )

    def call(self, inputs):
        weights = self.normalized_weights()[None, :, None]
        stacked = ops.stack(list(inputs), axis=1)
        if self.combine == "logits":
            return ops.sum(ops.cast(weights, self.compute_dtype) * stacked, 1)
        # In float32, where log(0) of a zero weight is a harmless -inf.
        log_probs = ops.log_softmax(ops.cast(stacked, "float32"), axis=-1)
        mixture = ops.logsumexp(log_probs + ops.log(weights), axis=1)
        return ops.cast(mixture, self.compute_dtype)

    def normalized_weights(self):
        """The weights the built layer applies: float32, summing to 1.

        Returns:
            A `(num_modalities,)` tensor, e.g. to inspect learned weights.
        """
        if self.mode == "learned":
            return ops.softmax(ops.cast(self.modality_logits, "float32"))
        if self.mode == "fixed":
            total = sum(self.modality_weights)
            weights = [w / total for w in self.modality_weights]
        else:
            weights = [1.0 / self._num_modalities] * self._num_modalities
        return ops.convert_to_tensor(weights, dtype="float32")

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "modality_weights": self.modality_weights,
                "combine": self.combine,
            }
        )
        return config
