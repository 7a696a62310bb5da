"""Building, reading and writing WordPiece vocabularies (one token a line)."""

import os
import tempfile

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

from mmkeras import _checks

BERT_RESERVED_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_vocabulary(
    dataset_or_strings,
    vocabulary_size,
    reserved_tokens=BERT_RESERVED_TOKENS,
    lowercase=True,
    learn_params=None,
):
    """Learns a BERT WordPiece vocabulary with tensorflow-text's tool.

    Words are split as BERT does (and as `WordPieceTokenizer` does with the
    same `lowercase`); every character seen gets a token and a `##` token,
    so text made of those characters never maps to the unknown token.

    Args:
        dataset_or_strings: a `tf.data.Dataset` of string tensors or a list
            of strings.
        vocabulary_size: the maximum number of tokens.
        reserved_tokens: tokens placed first, in this order (ids 0, 1, ...).
        lowercase: lowercase and strip accents before counting words.
        learn_params: extra arguments of tensorflow-text's
            `wordpiece_tokenizer_learner_lib.learn`, e.g. `lower_thresh`.

    Returns:
        The tokens, in id order.

    Example:

    >>> vocab = mmkeras.text.build_vocabulary(["the cat sat"] * 20, 100)
    >>> vocab[:2], "cat" in vocab
    (['[PAD]', '[UNK]'], True)
    """
    _checks.positive_int("vocabulary_size", vocabulary_size)
    reserved_tokens = list(reserved_tokens)
    if len(reserved_tokens) >= vocabulary_size:
        raise ValueError(
            "vocabulary_size must be larger than the number of "
            f"reserved_tokens ({len(reserved_tokens)}). Received: "
            f"vocabulary_size={vocabulary_size}"
        )
    dataset = dataset_or_strings
    if not isinstance(dataset, tf.data.Dataset):
        dataset = tf.data.Dataset.from_tensor_slices(list(dataset)).batch(1024)
    vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
        dataset,
        vocabulary_size,
        reserved_tokens,
        bert_tokenizer_params={"lower_case": lowercase},
        learn_params=learn_params,
    )
    # The tool's size search can stop above the target; the tail holds the
    # rarest learned pieces, which the single characters can replace.
    dropped = vocabulary[vocabulary_size:]
    if any(len(token.removeprefix("##")) <= 1 for token in dropped):
        raise ValueError(
            "The reserved tokens and the characters of the text alone need "
            f"more than vocabulary_size={vocabulary_size} tokens. Increase "
            "vocabulary_size."
        )
    return vocabulary[:vocabulary_size]


def save_vocabulary(vocabulary, path):
    """Writes one token a line, atomically: readers never see half a file.

    Example:

    >>> mmkeras.text.save_vocabulary(["[PAD]", "[UNK]", "a"], "vocab.txt")
    """
    directory = os.path.dirname(os.path.abspath(path))
    bad = [t for t in vocabulary if not t or "\n" in t or "\r" in t]
    if bad:
        raise ValueError(
            "vocabulary tokens must be non-empty and have no line breaks. "
            f"Received: {bad[:5]!r}"
        )
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.writelines(token + "\n" for token in vocabulary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load_vocabulary(path):
    """Reads a vocabulary file (one token a line, id = line number).

    Example:

    >>> mmkeras.text.load_vocabulary("vocab.txt")
    ['[PAD]', '[UNK]', 'a']
    """
    if not os.path.isfile(path):
        raise ValueError(
            "vocabulary must be a list of tokens or the path of an existing "
            f"file. Received: vocabulary={str(path)!r}"
        )
    with open(path, encoding="utf-8") as file:
        return [line.rstrip("\r\n") for line in file]
