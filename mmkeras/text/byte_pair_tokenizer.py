import keras
import tensorflow as tf

from mmkeras import _checks
from mmkeras.text import _bpe_merge
from mmkeras.text import _bpe_split
from mmkeras.text import _inputs


@keras.saving.register_keras_serializable(package="mmkeras")
class BytePairTokenizer(_inputs.VocabularyLookups, keras.layers.Layer):
    """Byte-level BPE tokenizer (GPT-2 style) in TensorFlow ops.

    Special tokens are matched first as whole strings; the rest of the text
    is split into words by GPT-2's pattern (for `pre_tokenizer="smollm"`,
    after putting every digit on its own), each word's UTF-8 bytes become
    the byte-level alphabet's tokens, and merges are applied by rank. The
    ids equal those of the `tokenizers` library for the same vocabulary,
    merges and pre-tokenizer. It works eagerly, in `tf.data.Dataset.map`,
    in a functional model and in an exported SavedModel; the vocabulary and
    merges are part of `get_config`, so a `.keras` file carries them.

    Args:
        vocabulary: the tokens, a list (the index is the id) in GPT-2's
            byte-to-unicode alphabet, e.g. GGUF `tokenizer.ggml.tokens`. A
            byte whose token is missing is dropped, as in `tokenizers`.
        merges: the merge rules `"a b"` in rank order, e.g. GGUF
            `tokenizer.ggml.merges`; `a`, `b` and `ab` are tokens.
        special_tokens: tokens of the vocabulary matched as whole strings
            before splitting (`<|im_start|>`, ...); `detokenize` keeps
            them.
        pre_tokenizer: `"smollm"` (every digit alone, then GPT-2's pattern;
            GGUF pre-type `smollm`) or `"gpt2"` (GPT-2's pattern).
        sequence_length: pad with `pad_token` / truncate to this length and
            return a dense `(batch, sequence_length)` tensor; `None` returns
            a ragged tensor.
        pad_token: the token that pads; required with `sequence_length`.

    Example:

    >>> alphabet = mmkeras.text.BytePairTokenizer.byte_alphabet()
    >>> tokenizer = mmkeras.text.BytePairTokenizer(
    ...     alphabet + ["he", "ll", "hell", "hello"],
    ...     merges=["h e", "l l", "he ll", "hell o"],
    ... )
    >>> tokenizer("hello!").numpy()
    array([259,  33], dtype=int32)
    >>> tokenizer.detokenize([259, 33]).numpy()
    b'hello!'
    """

    def __init__(
        self,
        vocabulary,
        merges,
        special_tokens=None,
        pre_tokenizer="smollm",
        sequence_length=None,
        pad_token=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.one_of(
            "pre_tokenizer", pre_tokenizer, _bpe_split.PRE_TOKENIZERS
        )
        _checks.optional_positive_int("sequence_length", sequence_length)
        self.vocabulary = _inputs.token_list(vocabulary)
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        self.merges = _merge_list(merges, self._ids)
        self.special_tokens = _special_list(special_tokens, self._ids)
        self.pre_tokenizer = pre_tokenizer
        self.sequence_length = sequence_length
        self.pad_token = pad_token
        self.pad_token_id = _pad_id(pad_token, sequence_length, self._ids)
        alphabet = _bpe_merge.byte_alphabet()
        self._merger = _bpe_merge.Merger(
            [self._ids.get(c, -1) for c in alphabet],
            *_merge_ids(self.merges, self._ids),
            len(self.vocabulary),
        )
        decoder = {c: byte for byte, c in enumerate(alphabet)}
        self._token_bytes = tf.constant(
            [_bpe_merge.token_bytes(t, decoder) for t in self.vocabulary]
        )
        self._special = None
        self._special_ids = None
        if self.special_tokens:
            self._special = _bpe_split.special_pattern(self.special_tokens)
            self._special_ids = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    self.special_tokens,
                    [self._ids[t] for t in self.special_tokens],
                    value_dtype=tf.int32,
                ),
                default_value=-1,
            )
        self._tokenize = tf.function(
            self._tokenize_batch,
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,
        )
        self.built = True

    @staticmethod
    def byte_alphabet():
        """GPT-2's 256 byte-level characters, in byte order."""
        return _bpe_merge.byte_alphabet()

    def __call__(self, inputs, *args, **kwargs):
        # Keras takes only tensors positionally; accept Python text too.
        if not isinstance(inputs, (keras.KerasTensor, tf.Tensor)):
            inputs = tf.convert_to_tensor(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        inputs = _inputs.string_tensor(inputs, "BytePairTokenizer")
        scalar = inputs.shape.rank == 0
        ids = self._tokenize(tf.reshape(inputs, [-1]))
        if self.sequence_length is not None:
            ids = ids[:, : self.sequence_length].to_tensor(
                self.pad_token_id, shape=[None, self.sequence_length]
            )
        return ids[0] if scalar else ids

    def _tokenize_batch(self, text):
        # Invalid UTF-8 becomes U+FFFD, as decoding to str would make it.
        text = tf.strings.unicode_transcode(
            text, "UTF-8", "UTF-8", errors="replace"
        )
        # regex_split stops at NUL: split a copy with \x01 (one byte, the
        # same class), then cut the words from the text (they tile it).
        words = _bpe_split.split_words(
            tf.strings.regex_replace(text, "\x00", "\x01"),
            self.pre_tokenizer,
            self._special,
            self._special_ids,
        )
        text_bytes = tf.RaggedTensor.from_row_lengths(
            tf.strings.bytes_split(text).flat_values,
            tf.strings.length(words.flat_values),
            validate=False,
        )
        # Each distinct word of the batch is merged once.
        unique, index = tf.unique(tf.strings.reduce_join(text_bytes, axis=1))
        ids = tf.gather(self._word_ids(unique), index)
        return words.with_flat_values(ids).merge_dims(1, 2)

    def _word_ids(self, words):
        split = tf.strings.bytes_split(words)
        values = tf.reshape(tf.io.decode_raw(split.flat_values, tf.uint8), [-1])
        lengths = split.row_lengths()
        if self._special_ids is None:
            return self._merger(values, lengths)
        special = self._special_ids.lookup(words)
        is_special = special >= 0
        specials = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special, is_special),
            tf.cast(is_special, tf.int64),
            validate=False,
        )
        merged = self._merger(
            tf.boolean_mask(values, ~tf.repeat(is_special, lengths)),
            tf.where(is_special, tf.zeros_like(lengths), lengths),
        )
        return tf.concat([specials, merged], axis=1)

    def detokenize(self, ids):
        """Joins ids back into text; `detokenize(tokenizer(s)) == s`.

        Every id is written, special tokens and padding included. Bytes
        that do not form UTF-8 (a cut multi-byte character) become U+FFFD,
        as in the `tokenizers` library.

        Args:
            ids: int ids, `(sequence,)` or `(batch, sequence)`, dense or
                ragged (nested lists may have rows of any lengths).

        Returns:
            A string scalar or a `(batch,)` string tensor.
        """
        if isinstance(ids, (list, tuple)):  # lists may be of any lengths
            ids = tf.ragged.constant(ids, dtype=tf.int32)
        single = not isinstance(ids, tf.RaggedTensor) and _inputs.rank(ids) == 1
        ids = _inputs.ragged_batch(ids)
        _check_ids(ids.flat_values, len(self.vocabulary))
        text = tf.strings.reduce_join(
            tf.gather(self._token_bytes, ids), axis=-1
        )
        text = tf.strings.unicode_transcode(
            text, "UTF-8", "UTF-8", errors="replace"
        )
        return text[0] if single else text

    def compute_output_spec(self, inputs):
        _inputs.string_tensor(inputs, "BytePairTokenizer")
        shape = (None, self.sequence_length)
        ragged = self.sequence_length is None
        if len(inputs.shape) == 0:
            shape, ragged = shape[1:], False
        return keras.KerasTensor(shape, dtype="int32", ragged=ragged)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.get_vocabulary(),
                "merges": list(self.merges),
                "special_tokens": list(self.special_tokens),
                "pre_tokenizer": self.pre_tokenizer,
                "sequence_length": self.sequence_length,
                "pad_token": self.pad_token,
            }
        )
        return config


def _check_ids(ids, size):
    message = f"ids must be in [0, {size})."
    if tf.executing_eagerly():
        bad = ids[(ids < 0) | (ids >= size)].numpy()
        if bad.size:
            raise ValueError(f"{message} Received: id={bad[0]}")
        return
    # In a graph the check runs with the ops (tf.gather would not check).
    tf.debugging.assert_less(ids, size, message)
    tf.debugging.assert_non_negative(ids, message)


def _merge_list(merges, ids):
    if isinstance(merges, str) or not isinstance(merges, (list, tuple)):
        raise ValueError(
            'merges must be a list of "a b" strings. Received: '
            f"merges={_inputs._preview(merges)}"
        )
    for rank, merge in enumerate(merges):
        parts = merge.split(" ") if isinstance(merge, str) else None
        if not parts or len(parts) != 2 or not all(parts):
            raise ValueError(
                f'merges[{rank}] must be a string "a b" (two tokens and one '
                f"space). Received: {merge!r}"
            )
        for token in (*parts, "".join(parts)):
            if token not in ids:
                raise ValueError(
                    f"merges[{rank}] = {merge!r} needs the token {token!r}, "
                    "which is not in the vocabulary. Pass the merges that "
                    "belong to this vocabulary."
                )
    return list(merges)


def _merge_ids(merges, ids):
    # A pair listed twice keeps its last rank, as `tokenizers` does.
    pairs = {}
    for rank, merge in enumerate(merges):
        left, right = merge.split(" ")
        pairs[(ids[left], ids[right])] = (rank, ids[left + right])
    ordered = sorted(pairs.items(), key=lambda item: item[1][0])
    pair_ids = [pair for pair, _ in ordered]
    merged_ids = [merged for _, (_, merged) in ordered]
    return pair_ids, merged_ids


def _special_list(special_tokens, ids):
    if isinstance(special_tokens, str):
        raise ValueError(
            "special_tokens must be a list of tokens. Received the string "
            f"{special_tokens!r}; pass [{special_tokens!r}]."
        )
    special_tokens = list(dict.fromkeys(special_tokens or []))
    for token in special_tokens:
        if not isinstance(token, str) or token not in ids:
            raise ValueError(
                "special_tokens must be tokens of the vocabulary. Received: "
                f"{token!r}, which is not; add it to the vocabulary."
            )
    return special_tokens


def _pad_id(pad_token, sequence_length, ids):
    if pad_token is None:
        if sequence_length is not None:
            raise ValueError(
                "sequence_length needs a pad_token to pad with. Received: "
                f"sequence_length={sequence_length}, pad_token=None; pass "
                "pad_token=<a token of the vocabulary>."
            )
        return None
    if pad_token not in ids:
        raise ValueError(
            f"pad_token must be a token of the vocabulary. Received: "
            f"pad_token={pad_token!r}"
        )
    return ids[pad_token]
