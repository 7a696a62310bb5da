import abc

import keras
from keras import ops

from mmkeras.samplers import _random


@keras.saving.register_keras_serializable(package="mmkeras")
class Sampler(abc.ABC):
    """Base class of the decoding samplers: owns the generation loop.

    A sampler fills `token_ids[:, start_index:]` one position at a time in a
    single `while_loop`, which runs eagerly, inside `tf.function` and under
    `tf.function(jit_compile=True)` (every shape stays static). Subclasses
    implement `get_next_token`; `BeamSampler` overrides the loop too.

    Call signature:

    `sampler(next_fn, token_ids, cache, start_index, end_token_id=None,
    pad_token_id=0)`

    - `next_fn(token_ids, cache, index) -> (logits, cache)`: `token_ids` is
      the int32 `(batch, max_length)` sequence so far (positions `>= index`
      hold `pad_token_id`); it returns the `(batch, vocab)` logits of the
      token *at* `index` (typically from `token_ids[:, index - 1]`) and the
      updated cache, with the same structure and shapes.
    - `cache`: any nest (tuple, list, dict) of tensors whose first axis is
      the batch, e.g. one `(batch, 2, max_length, heads, dim)` KV cache per
      decoder block. Beam search tiles and reorders it along axis 0.
    - `start_index`: the first position to fill (>= 1); the prompt is
      `token_ids[:, :start_index]` and later positions are reset to pad.
    - A sequence that emits `end_token_id` gets `pad_token_id` afterwards,
      and the loop stops once every sequence has ended.

    Returns the int32 `(batch, max_length)` token ids.

    Stochastic samplers draw from stateless random ops seeded by `(seed,
    index)`, so a fixed `seed` gives the same tokens eagerly, in
    `tf.function` and under XLA; `seed=None` draws a new seed per call.

    Example:

    >>> table = np.eye(4, k=1, dtype="float32") * 9  # token t -> t + 1
    >>> def next_fn(token_ids, cache, index):
    ...     return ops.take(table, token_ids[:, index - 1], axis=0), cache
    >>> sampler = mmkeras.samplers.GreedySampler()
    >>> sampler(next_fn, np.array([[1, 0, 0]]), (), start_index=1)
    <tf.Tensor: shape=(1, 3), dtype=int32, numpy=array([[1, 2, 3]],...)>
    """

    # Stochastic subclasses set this so a seed is drawn for each call.
    stochastic = False
    seed = None

    def __call__(
        self,
        next_fn,
        token_ids,
        cache,
        start_index,
        end_token_id=None,
        pad_token_id=0,
    ):
        token_ids = reset_after(token_ids, start_index, pad_token_id)
        max_length = token_ids.shape[1]
        seed = _random.call_seed(self.seed) if self.stochastic else 0

        def cond(index, token_ids, cache, done):
            return (index < max_length) & ~ops.all(done)

        def body(index, token_ids, cache, done):
            logits, cache = next_fn(token_ids, cache, index)
            step_seed = _random.step_seed(seed, index)
            tokens = ops.cast(self.get_next_token(logits, step_seed), "int32")
            tokens = ops.where(done, pad_token_id, tokens)
            token_ids = ops.slice_update(token_ids, [0, index], tokens[:, None])
            if end_token_id is not None:
                done = done | (tokens == end_token_id)
            return index + 1, token_ids, cache, done

        done = ops.zeros(ops.shape(token_ids)[:1], "bool")
        index = ops.convert_to_tensor(start_index, "int32")
        loop_vars = (index, token_ids, cache, done)
        return ops.while_loop(cond, body, loop_vars)[1]

    @abc.abstractmethod
    def get_next_token(self, logits, seed):
        """Chooses the next tokens.

        Args:
            logits: float `(batch, vocab)` logits of the next token.
            seed: int32 `(2,)` stateless seed, unique to this call and step.

        Returns:
            Integer `(batch,)` token ids.
        """

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def reset_after(token_ids, start_index, pad_token_id):
    """int32 `token_ids` with every position `>= start_index` set to pad."""
    if isinstance(start_index, int) and start_index < 1:
        raise ValueError(
            "start_index must be at least 1 (next_fn reads the token before "
            f"it). Received: start_index={start_index}"
        )
    token_ids = ops.convert_to_tensor(token_ids, "int32")
    if token_ids.shape.rank != 2 or token_ids.shape[1] is None:
        raise ValueError(
            "token_ids must be (batch, max_length) with a static max_length. "
            f"Received: shape {token_ids.shape}"
        )
    positions = ops.arange(token_ids.shape[1], dtype="int32")[None]
    return ops.where(positions < start_index, token_ids, pad_token_id)
