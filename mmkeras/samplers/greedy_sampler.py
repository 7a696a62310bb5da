import keras
from keras import ops

from mmkeras.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="mmkeras")
class GreedySampler(Sampler):
    """Picks the most likely token at every step.

    See `mmkeras.samplers.Sampler` for the call signature.

    Example:

    >>> sampler = mmkeras.samplers.GreedySampler()
    >>> table = np.eye(4, k=1, dtype="float32") * 9  # token t -> t + 1
    >>> def next_fn(token_ids, cache, index):
    ...     return ops.take(table, token_ids[:, index - 1], axis=0), cache
    >>> sampler(next_fn, np.array([[0, 0, 0]]), (), start_index=1,
    ...         end_token_id=2)
    <tf.Tensor: shape=(1, 3), dtype=int32, numpy=array([[0, 1, 2]],...)>
    """

    def get_next_token(self, logits, seed):
        return ops.argmax(logits, axis=-1)
