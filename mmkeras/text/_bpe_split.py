"""The pre-tokenizer of BytePairTokenizer in RE2 (no lookahead).

GPT-2's pattern ends in `\\s+(?!\\S)|\\s+`: a whitespace run followed by
a non-space char c gives up its last char, which starts the next match
(` c...` when it is a space). Its matches tile the text, so we cut there
first and the pattern without lookahead gives the same matches on each
part: the text is split into units (whitespace runs, other runs, and single
digits for `smollm`, which `Digits` isolates first); a whitespace run
followed by an other run hands it its last char; each unit is then split by
the pattern with plain `\\s+`. A run before a digit or at the end of a
piece stays whole, as the lookahead wants. docs/text.md has the details.
"""

import tensorflow as tf
import tensorflow_text as tf_text

# Oniguruma's \s (Unicode White_Space); RE2's \s is ASCII only.
_WS = (
    r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}"
    r"\x{202F}\x{205F}\x{3000}"
)
# Letters and numbers of Unicode 16-17 that RE2's tables lack and the
# `tokenizers` library knows; _NEW_DIGITS are numeric to its `Digits` (Rust's
# char::is_numeric) but not to its regex's \p{N}.
_NEW_LETTERS = (
    "1C89-1C8A A7CB-A7CD A7DA-A7DC 105C0-105F3 10D4A-10D65 10D6F-10D85 "
    "10EC2-10EC4 11380-11389 1138B 1138E 11390-113B5 113B7 113D1 113D3 "
    "11BC0-11BE0 13460-143FA 16100-1611D 16D40-16D6C 18CFF 1E5D0-1E5ED "
    "1E5F0 2EBF0-2EE5D"
)
_NEW_NUMBERS = (
    "10D40-10D49 116D0-116E3 11BF0-11BF9 16130-16139 16D70-16D79 "
    "1CCF0-1CCF9 1E5F1-1E5FA"
)
_NEW_DIGITS = "11DE0-11DE9 16FF4-16FF6"


def _ranges(text):
    return "".join(
        "-".join(rf"\x{{{point}}}" for point in span.split("-"))
        for span in text.split()
    )


_L = r"\p{L}" + _ranges(_NEW_LETTERS)
_N = r"\p{N}" + _ranges(_NEW_NUMBERS)
_D = _N + _ranges(_NEW_DIGITS)
_CONTRACTIONS = r"'s|'t|'re|'ve|'m|'ll|'d"
_UNITS = {
    "smollm": rf"[{_D}]|[{_WS}]+|[^{_WS}{_D}]+",
    "gpt2": rf"[{_WS}]+|[^{_WS}]+",
}
_WORDS = {
    "smollm": (
        rf"[{_D}]|{_CONTRACTIONS}| ?[{_L}]+| ?[^{_WS}{_L}{_D}]+|[{_WS}]+"
    ),
    "gpt2": (
        rf"{_CONTRACTIONS}| ?[{_L}]+| ?[{_N}]+| ?[^{_WS}{_L}{_N}]+"
        rf"|[{_WS}]+"
    ),
}
PRE_TOKENIZERS = tuple(_UNITS)
_META = frozenset(r"\.^$|?*+()[]{}")


def special_pattern(special_tokens):
    """An RE2 alternation matching the longest special token first."""
    ordered = sorted(special_tokens, key=lambda token: (-len(token), token))
    return "|".join(_escape(token) for token in ordered)


def split_words(text, pre_tokenizer, special, special_table):
    """Splits a 1-D batch of strings into words, `(batch, (words))`.

    A special token is one word; `special` is its pattern (None for none).
    """
    if special is None:
        pieces = tf.RaggedTensor.from_tensor(text[:, None])
    else:
        pieces = tf_text.regex_split(text, special, special)
    flat = pieces.flat_values
    if special_table is None:
        is_special = tf.zeros_like(flat, tf.bool)
    else:
        is_special = special_table.lookup(flat) >= 0
    words = _split_pieces(tf.where(is_special, "", flat), pre_tokenizer)
    specials = tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(flat, is_special),
        tf.cast(is_special, tf.int64),
        validate=False,
    )
    # A piece is either special (one word) or split (no special word).
    words = tf.concat([specials, words], axis=1)
    return pieces.with_flat_values(words).merge_dims(1, 2)


def _split_pieces(pieces, pre_tokenizer):
    units = tf_text.regex_split(
        pieces, _UNITS[pre_tokenizer], _UNITS[pre_tokenizer]
    )
    flat, rows = units.flat_values, units.value_rowids()
    is_ws = tf.strings.regex_full_match(flat, f"[{_WS}]+")
    is_other = ~is_ws
    if pre_tokenizer == "smollm":
        is_other &= ~tf.strings.regex_full_match(flat, f"[{_D}]")
    same_piece = rows[1:] == rows[:-1]
    # A whitespace run followed by an other run gives it its last char.
    gives = tf.concat([is_ws[:-1] & is_other[1:] & same_piece, [False]], 0)
    gives = gives[: tf.size(is_ws)]  # no units: no [False]
    at = tf.where(gives)
    runs = tf.boolean_mask(flat, gives)
    last = tf.strings.regex_replace(runs, rf"(?s)^.*([{_WS}])$", r"\1")
    head = tf.strings.regex_replace(runs, f"[{_WS}]$", "")
    flat = tf.strings.join(
        [
            tf.tensor_scatter_nd_update(tf.zeros_like(flat), at + 1, last),
            tf.tensor_scatter_nd_update(flat, at, head),
        ]
    )
    keep = flat != ""
    units = tf.ragged.boolean_mask(
        units.with_flat_values(flat), units.with_flat_values(keep)
    )
    words = tf_text.regex_split(
        units.flat_values, _WORDS[pre_tokenizer], _WORDS[pre_tokenizer]
    )
    return units.with_flat_values(words).merge_dims(1, 2)


def _escape(text):
    return "".join("\\" + c if c in _META else c for c in text)
