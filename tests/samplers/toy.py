"""A toy language model for the sampler tests, with a numpy reference.

Logits at position `i` are `table[x[i - 1]] + shift[sum(x[:i]) % vocab]`.
The running sum lives in the cache (`{"total": (batch, 1)}`), so a sampler
that drops or misorders the cache gets different logits than the reference.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import samplers


class ToyModel:
    def __init__(self, table, shift=None):
        self.table = np.asarray(table, "float32")
        vocab = self.table.shape[0]
        if shift is None:
            shift = np.zeros((vocab, vocab), "float32")
        self.shift = np.asarray(shift, "float32")
        self.vocab = vocab

    @classmethod
    def random(cls, vocab=10, scale=2.0, shift_scale=1.0, seed=0):
        rng = np.random.default_rng(seed)
        table = rng.standard_normal((vocab, vocab)) * scale
        return cls(table, rng.standard_normal((vocab, vocab)) * shift_scale)

    def next_fn(self, token_ids, cache, index):
        previous = token_ids[:, index - 1]
        total = cache["total"][:, 0] + previous
        logits = ops.take(self.table, previous, axis=0) + ops.take(
            self.shift, total % self.vocab, axis=0
        )
        return logits, {"total": total[:, None]}

    def cache(self, prompt, start_index):
        prompt = ops.convert_to_tensor(prompt, "int32")
        total = ops.sum(prompt[:, : start_index - 1], axis=1, keepdims=True)
        return {"total": ops.cast(total, "int32")}

    def logits(self, prefix):
        """Reference logits of the token after `prefix` (1-D)."""
        shift = self.shift[int(np.sum(prefix)) % self.vocab]
        return self.table[prefix[-1]] + shift

    def log_probs(self, prefix):
        logits = self.logits(prefix).astype("float64")
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def sample(self, sampler, prompt, start_index, **kwargs):
        cache = self.cache(prompt, start_index)
        return sampler(self.next_fn, prompt, cache, start_index, **kwargs)


def greedy_reference(model, prompt, start_index, end=None, pad=0):
    out = np.array(prompt, "int32")
    out[:, start_index:] = pad
    for row in out:
        for i in range(start_index, len(row)):
            row[i] = np.argmax(model.logits(row[:i]))
            if row[i] == end:
                break
    return out


def sequence_log_prob(model, row, start_index, end=None):
    """Total log-probability of `row[start_index:]` up to `end`."""
    total = 0.0
    for i in range(start_index, len(row)):
        total += model.log_probs(row[:i])[row[i]]
        if row[i] == end:
            break
    return total


def run_sampler_test(sampler, model, prompt, start_index, **kwargs):
    """Checks registration, config round trips and eager == graph == XLA."""
    cls = type(sampler)
    registered = keras.saving.get_registered_object(f"mmkeras>{cls.__name__}")
    assert registered is cls, f"{cls.__name__} is not registered"
    config = sampler.get_config()
    assert cls.from_config(config).get_config() == config
    restored = samplers.get(samplers.serialize(sampler))
    assert type(restored) is cls and restored.get_config() == config

    def run(prompt):
        return model.sample(sampler, prompt, start_index, **kwargs)

    prompt = tf.constant(prompt, "int32")
    eager = keras.tree.map_structure(np.asarray, run(prompt))
    for jit_compile in (False, True):
        compiled = tf.function(run, jit_compile=jit_compile)(prompt)
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
            eager,
            keras.tree.map_structure(np.asarray, compiled),
        )
    return eager
