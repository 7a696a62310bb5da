"""BERT's text normalization as TensorFlow string ops.

tensorflow-text's `lower_case_nfd_strip_accents` also applies NFKC folding
("™" -> "tm", "…" -> "...") and turns control characters into spaces, so
its ids differ from BERT's reference tokenizer. These ops follow the
reference (Hugging Face `BertNormalizer`) step by step instead.
"""

import tensorflow as tf
import tensorflow_text as tf_text

# White_Space characters; BERT maps them all to a plain space.
_WHITESPACE = r"[\t\n\r\x{0b}\x{0c}\x{85}\p{Z}]"
# Unicode "Other" (control, format, unassigned, private use) and the
# replacement character are dropped.
_CONTROL = r"[\p{C}\x{fffd}]"
# CJK ideographs are words of their own; spaces around them split them.
_CJK = (
    r"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}"
    r"\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}"
    r"\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])"
)


def normalize(text, lowercase):
    """Cleans, splits CJK and, when `lowercase`, strips accents and lowers."""
    text = tf.strings.regex_replace(text, _WHITESPACE, " ")
    text = tf.strings.regex_replace(text, _CONTROL, "")
    text = tf.strings.regex_replace(text, _CJK, r" \1 ")
    if lowercase:
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
        text = tf.strings.lower(text, encoding="utf-8")
    return text
