import keras
from keras import ops

from mmkeras.samplers import _checks
from mmkeras.samplers.sampler import Sampler
from mmkeras.samplers.sampler import reset_after

# Score of impossible continuations: finite, so sums never give NaN.
_IMPOSSIBLE = -1e9


@keras.saving.register_keras_serializable(package="mmkeras")
class BeamSampler(Sampler):
    """Beam search: keeps the `num_beams` most likely sequences per example.

    Each example's prompt and cache are repeated `num_beams` times (rows
    `b * num_beams + j`, so `next_fn` sees a batch of `batch * num_beams`)
    and reordered with a gather on axis 0 at every step. A beam that emitted
    `end_token_id` continues with `pad_token_id` at no cost, so its score is
    final. Beams are ranked by total log-probability divided by
    `length ** length_penalty` (generated tokens, end token included), at
    the end of the search. See `mmkeras.samplers.Sampler` for the call.

    Args:
        num_beams: beams per example; 1 is greedy.
        length_penalty: exponent of the length normalisation; 0 ranks by
            total log-probability, larger values favour longer sequences.
        return_all_beams: return `(token_ids, scores)`, with `token_ids`
            `(batch, num_beams, max_length)` and `scores` `(batch,
            num_beams)`, best first, instead of the best `(batch,
            max_length)` sequence.

    Example:

    >>> sampler = mmkeras.samplers.BeamSampler(num_beams=3)
    >>> logits = np.log(np.full((6, 10), 0.1, "float32"))  # 2 x 3 beams
    >>> def next_fn(token_ids, cache, index):
    ...     return logits, cache
    >>> sampler(next_fn, np.zeros((2, 4), "int32"), (), start_index=1).shape
    TensorShape([2, 4])
    """

    def __init__(self, num_beams=5, length_penalty=0.0, return_all_beams=False):
        _checks.positive_int("num_beams", num_beams)
        if isinstance(length_penalty, bool) or not isinstance(
            length_penalty, (int, float)
        ):
            raise ValueError(
                "length_penalty must be a number. Received: "
                f"length_penalty={length_penalty!r}"
            )
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.return_all_beams = return_all_beams

    def __call__(
        self,
        next_fn,
        token_ids,
        cache,
        start_index,
        end_token_id=None,
        pad_token_id=0,
    ):
        if self.num_beams == 1 and not self.return_all_beams:
            # One beam is greedy search: the base loop, with no reordering.
            return super().__call__(
                next_fn,
                token_ids,
                cache,
                start_index,
                end_token_id,
                pad_token_id,
            )
        beams = self.num_beams
        token_ids = reset_after(token_ids, start_index, pad_token_id)
        batch, max_length = ops.shape(token_ids)[0], token_ids.shape[1]
        token_ids, cache = keras.tree.map_structure(
            lambda t: ops.repeat(t, beams, axis=0), (token_ids, cache)
        )
        # Only the first copy is live, or all beams would pick the same tokens.
        first = ops.convert_to_tensor([0.0] + [_IMPOSSIBLE] * (beams - 1))
        scores = ops.tile(first, [batch])
        done = ops.zeros((batch * beams,), "bool")
        lengths = ops.zeros((batch * beams,), "int32")

        def cond(index, token_ids, cache, scores, done, lengths):
            return (index < max_length) & ~ops.all(done)

        def body(index, token_ids, cache, scores, done, lengths):
            logits, cache = next_fn(token_ids, cache, index)
            log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
            vocab = log_probs.shape[-1]
            pad_only = ops.where(
                ops.arange(vocab) == pad_token_id, 0.0, _IMPOSSIBLE
            )
            log_probs = ops.where(done[:, None], pad_only[None], log_probs)
            candidates = scores[:, None] + log_probs
            candidates = ops.reshape(candidates, (-1, beams * vocab))
            scores, flat = ops.top_k(candidates, k=beams)
            source = ops.arange(batch)[:, None] * beams + flat // vocab
            token_ids, cache, done, lengths = keras.tree.map_structure(
                lambda t: ops.take(t, ops.reshape(source, (-1,)), axis=0),
                (token_ids, cache, done, lengths),
            )
            tokens = ops.cast(ops.reshape(flat % vocab, (-1,)), "int32")
            token_ids = ops.slice_update(token_ids, [0, index], tokens[:, None])
            lengths = lengths + ops.cast(~done, "int32")
            if end_token_id is not None:
                done = done | (tokens == end_token_id)
            scores = ops.reshape(scores, (-1,))
            return index + 1, token_ids, cache, scores, done, lengths

        index = ops.convert_to_tensor(start_index, "int32")
        loop_vars = (index, token_ids, cache, scores, done, lengths)
        _, token_ids, _, scores, _, lengths = ops.while_loop(
            cond, body, loop_vars
        )
        return self._rank(token_ids, scores, lengths, batch, max_length)

    def get_next_token(self, logits, seed):
        return ops.argmax(logits, axis=-1)

    def _rank(self, token_ids, scores, lengths, batch, max_length):
        lengths = ops.cast(ops.maximum(lengths, 1), "float32")
        scores = scores / lengths**self.length_penalty
        scores, order = ops.top_k(
            ops.reshape(scores, (batch, -1)), self.num_beams
        )
        token_ids = ops.reshape(token_ids, (batch, self.num_beams, max_length))
        token_ids = ops.take_along_axis(token_ids, order[:, :, None], axis=1)
        if self.return_all_beams:
            return token_ids, scores
        return token_ids[:, 0]

    def get_config(self):
        return {
            "num_beams": self.num_beams,
            "length_penalty": self.length_penalty,
            "return_all_beams": self.return_all_beams,
        }
