import keras
import tensorflow as tf
import tensorflow_text as tf_text

from mmkeras import _checks
from mmkeras.text import _bert_normalizer
from mmkeras.text import _inputs

DEFAULT_SPECIAL_TOKENS = {
    "pad": "[PAD]",
    "unknown": "[UNK]",
    "start": "[CLS]",
    "end": "[SEP]",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "mask": "[MASK]",
}


@keras.saving.register_keras_serializable(package="mmkeras")
class WordPieceTokenizer(_inputs.VocabularyLookups, keras.layers.Layer):
    """BERT WordPiece tokenizer on tensorflow-text, as a Keras layer.

    Text is normalized as BERT does (control characters dropped, CJK
    ideographs split; lowercased, NFD, accents stripped when `lowercase`),
    split on whitespace and punctuation, then split greedily into the
    longest wordpieces of the vocabulary (`FastBertTokenizer`). Works
    eagerly, in `tf.data.Dataset.map`, in a functional model and in an
    exported SavedModel. The vocabulary is part of `get_config`, so a
    `.keras` file carries it.

    Args:
        vocabulary: a list of tokens (the index is the id) or the path of a
            file with one token per line.
        sequence_length: pad with the pad id / truncate to this length and
            return a dense `(batch, sequence_length)` tensor; `None` returns
            a ragged tensor.
        lowercase: lowercase and strip accents, as uncased BERT does.
        special_tokens: overrides of `DEFAULT_SPECIAL_TOKENS` (roles `pad`,
            `unknown`, `start`, `end`, `cls`, `sep`, `mask`). `pad` and
            `unknown` must be in the vocabulary, and `start` / `end` too
            when `add_start_end`; the ids of the others are `None` when
            absent (e.g. `mask_token_id`).
        add_start_end: put the start and end ids around each sequence;
            truncation keeps them.
        suffix_indicator: the prefix marking a word-continuing piece.

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able"]
    >>> tokenizer = mmkeras.text.WordPieceTokenizer(vocab, sequence_length=5)
    >>> tokenizer(["Unaffable"]).numpy()
    array([[4, 5, 6, 0, 0]], dtype=int32)
    >>> tokenizer.detokenize([[4, 5, 6, 0, 0]]).numpy()
    array([b'unaffable'], dtype=object)
    """

    def __init__(
        self,
        vocabulary,
        sequence_length=None,
        lowercase=True,
        special_tokens=None,
        add_start_end=False,
        suffix_indicator="##",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.optional_positive_int("sequence_length", sequence_length)
        self.vocabulary = _inputs.token_list(vocabulary)
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.special_tokens = {
            **DEFAULT_SPECIAL_TOKENS,
            **(special_tokens or {}),
        }
        self.add_start_end = add_start_end
        self.suffix_indicator = suffix_indicator
        _inputs.check_special_tokens(
            special_tokens, DEFAULT_SPECIAL_TOKENS, add_start_end
        )
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        required = ["pad", "unknown"] + add_start_end * ["start", "end"]
        for role, token in self.special_tokens.items():
            if role in required and token not in self._ids:
                raise ValueError(
                    f"The vocabulary has no {role} token {token!r}. Add it to "
                    "the vocabulary or pass special_tokens={"
                    f"{role!r}: <a token of the vocabulary>}}."
                )
            # Sets pad_token_id, unknown_token_id, ..., mask_token_id.
            setattr(self, f"{role}_token_id", self._ids.get(token))
        self._tokenizer = tf_text.FastBertTokenizer(
            vocab=self.vocabulary,
            suffix_indicator=suffix_indicator,
            token_out_type=tf.int32,
            unknown_token=self.special_tokens["unknown"],
            # Normalization is ours (see _bert_normalizer), for parity.
            lower_case_nfd_strip_accents=False,
        )
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        # Keras takes only tensors positionally; accept Python text too.
        if not isinstance(inputs, (keras.KerasTensor, tf.Tensor)):
            inputs = tf.convert_to_tensor(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        inputs = _inputs.string_tensor(inputs, "WordPieceTokenizer")
        scalar = inputs.shape.rank == 0
        text = _bert_normalizer.normalize(
            tf.reshape(inputs, [-1]), self.lowercase
        )
        ids = self._tokenizer.tokenize(text)
        if self.sequence_length is not None and self.add_start_end:
            ids = ids[:, : max(self.sequence_length - 2, 0)]
        if self.add_start_end:
            start = tf.fill([ids.nrows(), 1], self.start_token_id)
            end = tf.fill([ids.nrows(), 1], self.end_token_id)
            ids = tf.concat([start, ids, end], axis=1)
        if self.sequence_length is not None:
            ids = ids.to_tensor(
                self.pad_token_id, shape=[None, self.sequence_length]
            )
        return ids[0] if scalar else ids

    def detokenize(self, ids):
        """Joins ids back into text, dropping special tokens but `unknown`.

        Args:
            ids: int ids, `(sequence,)` or `(batch, sequence)`, dense or
                ragged.

        Returns:
            A string scalar or a `(batch,)` string tensor; wordpieces are
            joined and words separated by single spaces.
        """
        single = not isinstance(ids, tf.RaggedTensor) and _inputs.rank(ids) == 1
        ids = _inputs.ragged_batch(ids)
        drop = set(self.special_tokens.values())
        drop.discard(self.special_tokens["unknown"])
        drop_ids = tf.constant(
            sorted(self._ids[t] for t in drop if t in self._ids), tf.int32
        )
        keep = tf.ragged.map_flat_values(
            lambda flat: tf.reduce_all(flat[:, None] != drop_ids, axis=-1),
            ids,
        )
        ids = tf.ragged.boolean_mask(ids, keep)
        tokens = tf.gather(tf.constant(self.vocabulary), ids)
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        text = tf.strings.regex_replace(
            text, " " + _inputs.regex_escape(self.suffix_indicator), ""
        )
        return text[0] if single else text

    def compute_output_spec(self, inputs):
        _inputs.string_tensor(inputs, "WordPieceTokenizer")
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
                "sequence_length": self.sequence_length,
                "lowercase": self.lowercase,
                "special_tokens": dict(self.special_tokens),
                "add_start_end": self.add_start_end,
                "suffix_indicator": self.suffix_indicator,
            }
        )
        return config
