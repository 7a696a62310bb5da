import keras
from keras import ops

from mmkeras.samplers import _checks
from mmkeras.samplers import _random
from mmkeras.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="mmkeras")
class TopPSampler(Sampler):
    """Samples the next token from the nucleus: the smallest set of most
    likely tokens whose probability reaches `p`.

    Probabilities come from the logits divided by `temperature`; the nucleus
    always holds the most likely token, so a tiny `p` is greedy. Sampling
    uses stateless random ops seeded by `(seed, step)`: see
    `mmkeras.samplers.Sampler`.

    Args:
        p: probability mass of the nucleus, in (0, 1].
        temperature: divides the logits before the softmax.
        k: if set, only the `k` most likely tokens are considered (faster
            for large vocabularies: sorts `k` logits, not all).
        seed: integer seed; `None` draws a new one per call.

    Example:

    >>> sampler = mmkeras.samplers.TopPSampler(p=0.9, seed=0)
    >>> logits = np.log(np.full((5, 10), 0.1, "float32"))
    >>> def next_fn(token_ids, cache, index):
    ...     return logits, cache
    >>> sampler(next_fn, np.zeros((5, 4), "int32"), (), start_index=1).shape
    TensorShape([5, 4])
    """

    stochastic = True

    def __init__(self, p=0.9, temperature=1.0, k=None, seed=None):
        _checks.probability("p", p)
        _checks.positive_number("temperature", temperature)
        if k is not None:
            _checks.positive_int("k", k)
        _checks.optional_int("seed", seed)
        self.p = p
        self.temperature = temperature
        self.k = k
        self.seed = seed

    def get_next_token(self, logits, seed):
        vocab = logits.shape[-1]
        k = vocab if self.k is None else min(self.k, vocab)
        logits = ops.cast(logits, "float32") / self.temperature
        # Probabilities over the whole vocabulary, so `k` only truncates.
        probabilities = ops.softmax(logits, axis=-1)
        top_probabilities, top_indices = ops.top_k(probabilities, k=k)
        mass_before = ops.cumsum(top_probabilities, axis=-1) - top_probabilities
        in_nucleus = mass_before < self.p
        top_logits = ops.log(top_probabilities)
        masked = ops.where(in_nucleus, top_logits, float("-inf"))
        choice = _random.categorical(masked, seed)
        return ops.take_along_axis(top_indices, choice[:, None], axis=-1)[:, 0]

    def get_config(self):
        return {
            "p": self.p,
            "temperature": self.temperature,
            "k": self.k,
            "seed": self.seed,
        }
