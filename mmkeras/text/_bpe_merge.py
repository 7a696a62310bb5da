"""Byte-level BPE merging in TensorFlow ops: the byte alphabet of GPT-2 and
a loop that merges every word of a batch at once."""

import tensorflow as tf


def byte_alphabet():
    """GPT-2's byte -> printable character map, as a list of 256 chars."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[byte] for byte in range(256)]


def token_bytes(token, decoder):
    """The bytes a token stands for; a token with a char outside the
    alphabet (an added token) stands for its UTF-8, as in `tokenizers`."""
    if all(c in decoder for c in token):
        return bytes(decoder[c] for c in token)
    return token.encode()


class Merger(tf.Module):
    """Merges byte ids into token ids with merge ranks in hash tables.

    Each step merges, in every word, all non-overlapping occurrences (left
    to right) of the word's pair of lowest rank, as GPT-2's `bpe` does and
    as the `tokenizers` library does for a consistent merge list.
    """

    def __init__(self, byte_ids, pair_ids, merged_ids, vocabulary_size):
        super().__init__(name="merger")
        self.size = vocabulary_size
        self.byte_ids = tf.constant(byte_ids, tf.int32)
        self.merged_ids = tf.constant(merged_ids + [-1], tf.int32)
        self.no_merge = len(merged_ids)
        keys = [left * vocabulary_size + right for left, right in pair_ids]
        # A table cannot be empty; -1 is no pair's key.
        keys, ranks = (keys, list(range(len(keys)))) if keys else ([-1], [0])
        self.ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.int64), tf.constant(ranks, tf.int32)
            ),
            default_value=self.no_merge,
        )

    def __call__(self, byte_values, lengths):
        """Merges words given as their uint8 bytes, all words end to end,
        and their lengths; returns `(words, (tokens))` int32 ids."""
        ids = tf.gather(self.byte_ids, tf.cast(byte_values, tf.int32))
        count = tf.shape(lengths, out_type=tf.int32)[0]
        rows = tf.repeat(tf.range(count), lengths)
        # Bytes without a token are dropped, as in `tokenizers`.
        known = ids >= 0
        ids, rows = tf.boolean_mask(ids, known), tf.boolean_mask(rows, known)
        empty = tf.zeros([0], tf.int32)
        _, _, ids, rows = tf.while_loop(
            lambda ids, *_: tf.size(ids) > 0,
            lambda *state: self._step(*state, count),
            (ids, rows, empty, empty),
            shape_invariants=(tf.TensorShape([None]),) * 4,
        )
        # Words finish in any order; each one's ids were kept together.
        order = tf.argsort(rows, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(ids, order),
            tf.cast(tf.gather(rows, order), tf.int64),
            nrows=tf.cast(count, tf.int64),
            validate=False,
        )

    def _step(self, ids, rows, done_ids, done_rows, count):
        """One merge in every word; words with none left move to done."""
        left, right = ids[:-1], ids[1:]
        keys = tf.cast(left, tf.int64) * self.size + tf.cast(right, tf.int64)
        ranks = self.ranks.lookup(keys)
        ranks = tf.where(rows[:-1] == rows[1:], ranks, self.no_merge)
        best = tf.math.unsorted_segment_min(ranks, rows[:-1], count)
        finished = tf.gather(best, rows) >= self.no_merge
        chosen = (ranks == tf.gather(best, rows[:-1])) & (
            ranks < self.no_merge
        )
        chosen = _first_of_overlaps(chosen)
        merged = tf.where(chosen, tf.gather(self.merged_ids, ranks), left)
        keep = tf.concat([[True], ~chosen], 0) & ~finished
        ids = tf.concat([merged, ids[-1:]], 0)
        return (
            tf.boolean_mask(ids, keep),
            tf.boolean_mask(rows, keep),
            tf.concat([done_ids, tf.boolean_mask(ids, finished)], 0),
            tf.concat([done_rows, tf.boolean_mask(rows, finished)], 0),
        )


def _first_of_overlaps(chosen):
    """In a run of adjacent chosen pairs (`a a a` with merge `a a`), keeps
    the 1st, 3rd, ... so merges do not overlap, leftmost first."""
    previous = tf.concat([[False], chosen], 0)[:-1]
    starts = chosen & ~previous
    run = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    # The trailing 0 keeps the gather in range when nothing is chosen.
    start_positions = tf.concat([tf.where(starts)[:, 0], [0]], 0)
    start_at = tf.gather(tf.cast(start_positions, tf.int32), tf.maximum(run, 0))
    offset = tf.range(tf.shape(chosen)[0]) - start_at
    return chosen & (offset % 2 == 0)
