import keras
from keras import ops

from mmkeras.samplers import _checks
from mmkeras.samplers import _random
from mmkeras.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="mmkeras")
class TopKSampler(Sampler):
    """Samples the next token from the `k` most likely ones.

    The `k` largest logits are divided by `temperature` and renormalised;
    the rest get probability zero. Sampling uses stateless random ops seeded
    by `(seed, step)`: see `mmkeras.samplers.Sampler`.

    Args:
        k: number of candidate tokens per step; `k=1` is greedy.
        temperature: divides the logits; lower is closer to greedy.
        seed: integer seed; `None` draws a new one per call.

    Example:

    >>> sampler = mmkeras.samplers.TopKSampler(k=3, seed=0)
    >>> logits = np.log(np.full((5, 10), 0.1, "float32"))
    >>> def next_fn(token_ids, cache, index):
    ...     return logits, cache
    >>> sampler(next_fn, np.zeros((5, 4), "int32"), (), start_index=1).shape
    TensorShape([5, 4])
    """

    stochastic = True

    def __init__(self, k=5, temperature=1.0, seed=None):
        _checks.positive_int("k", k)
        _checks.positive_number("temperature", temperature)
        _checks.optional_int("seed", seed)
        self.k = k
        self.temperature = temperature
        self.seed = seed

    def get_next_token(self, logits, seed):
        k = min(self.k, logits.shape[-1])
        top_logits, top_indices = ops.top_k(logits, k=k)
        choice = _random.categorical(top_logits / self.temperature, seed)
        return ops.take_along_axis(top_indices, choice[:, None], axis=-1)[:, 0]

    def get_config(self):
        return {"k": self.k, "temperature": self.temperature, "seed": self.seed}
