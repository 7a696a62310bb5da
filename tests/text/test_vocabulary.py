import os

import pytest
import tensorflow as tf
from tokenizers import BertWordPieceTokenizer

import mmkeras
from mmkeras.text import WordPieceTokenizer
from tests.text import _corpus

RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Punctuation, accents, casing, unknown words, numbers, long words.
SENTENCES = _corpus.corpus(size=20, seed=1) + [
    "Hello, World!",
    "HELLO world...",
    "naïve café, résumé & élan",
    "ZÜRICH zürich Zurich",
    "Ünïcödé e\u0301lan",
    "don't can't won't it's",
    "e-mail user@example.com #tag $5",
    "(parens) [brackets] {braces}",
    "\"quotes\" and 'single'",
    "3.14 1,000 2024-01-01 42%",
    "unknown zebra xylophone",
    "tokenizationtokenization",
    "a" * 100,
    "b" * 150,
    "the    cat\tsat\nover",
    "  leading and trailing  ",
    "",
    "!?;:",
    "东京 tokyo",
    "😀 emoji cat",
    "ΑΒΓ αβγ",
    "playerplayedplaying",
    "a.b,c!d?e",
    "Cat's dog's",
    "TOKENIZER Tokenizer tokenizer",
    "1,000,000.50",
    "why? yes; no: ok!",
    "over-under quickly_slowly",
    "~`^|\\<>",
    "word" + "s" * 60,
]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    vocabulary = mmkeras.text.build_vocabulary(
        _corpus.corpus(), 200, learn_params={"lower_thresh": 1}
    )
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    mmkeras.text.save_vocabulary(vocabulary, path)
    return path


def test_reserved_first_and_size_bound(vocab_file):
    vocabulary = mmkeras.text.load_vocabulary(vocab_file)
    assert vocabulary[:5] == RESERVED
    assert 50 < len(vocabulary) <= 200
    assert len(set(vocabulary)) == len(vocabulary)
    assert {"cat", "the", "##s"} <= set(vocabulary)


def test_corpus_has_no_unknown(vocab_file):
    tokenizer = WordPieceTokenizer(vocab_file)
    ragged = tokenizer(_corpus.corpus())
    assert ragged.flat_values.shape[0] > 1000
    assert 1 not in ragged.flat_values.numpy()


def test_dataset_input_and_small_size():
    dataset = tf.data.Dataset.from_tensor_slices(_corpus.corpus(100)).batch(8)
    vocabulary = mmkeras.text.build_vocabulary(
        dataset, 120, reserved_tokens=["[PAD]", "[UNK]"]
    )
    assert vocabulary[:2] == ["[PAD]", "[UNK]"] and len(vocabulary) <= 120
    with pytest.raises(ValueError, match="Increase vocabulary_size"):
        mmkeras.text.build_vocabulary(_corpus.corpus(100), 20)
    with pytest.raises(ValueError, match="vocabulary_size=5"):
        mmkeras.text.build_vocabulary(["a"], 5)


def test_save_vocabulary_is_atomic_and_checked(tmp_path):
    path = tmp_path / "vocab.txt"
    mmkeras.text.save_vocabulary(["[PAD]", "é"], path)
    assert path.read_text(encoding="utf-8") == "[PAD]\né\n"
    with pytest.raises(ValueError, match="line breaks"):
        mmkeras.text.save_vocabulary(["a\nb"], path)
    assert os.listdir(tmp_path) == ["vocab.txt"]


@pytest.mark.parametrize("add_start_end", [False, True])
def test_ids_match_reference(vocab_file, add_start_end):
    reference = BertWordPieceTokenizer(vocab_file, lowercase=True)
    tokenizer = WordPieceTokenizer(vocab_file, add_start_end=add_start_end)
    actual = tokenizer(SENTENCES).to_list()
    expected = [
        e.ids
        for e in reference.encode_batch(
            SENTENCES, add_special_tokens=add_start_end
        )
    ]
    assert len(SENTENCES) >= 50
    for sentence, a, e in zip(SENTENCES, actual, expected, strict=True):
        assert a == e, f"{sentence!r}: {a} != reference {e}"


# tf-text's own normalization (NFKC folding, control characters to spaces)
# differs from BERT here; ours follows the reference.
NORMALIZATION_CASES = ["straße", "ﬁ", "ＣＡＴ", "the\x00cat", "a\u200bb\ufffdc"]


@pytest.mark.parametrize("text", NORMALIZATION_CASES)
def test_normalization_matches_reference(vocab_file, text):
    reference = BertWordPieceTokenizer(vocab_file, lowercase=True)
    tokenizer = WordPieceTokenizer(vocab_file)
    expected = reference.encode(text, add_special_tokens=False).ids
    assert tokenizer(text).numpy().tolist() == expected


# Deliberate or inherited differences, pinned so a change shows.
# Each case: text, our pieces, reference pieces.
DIFFERENCES = [
    # The reference matches special tokens typed in text; we split them so
    # user text cannot inject [MASK] or [SEP].
    ("[MASK]", ["[", "m", "##a", "##s", "##k", "]"], ["[MASK]"]),
    # Word limit: 100 bytes in tf-text, 100 characters in the reference.
    ("α" * 60, ["[UNK]"], ["α"] + ["##α"] * 59),
]


@pytest.mark.parametrize("text, ours, theirs", DIFFERENCES)
def test_known_differences_from_reference(vocab_file, text, ours, theirs):
    reference = BertWordPieceTokenizer(vocab_file, lowercase=True)
    tokenizer = WordPieceTokenizer(vocab_file)
    tokens = [tokenizer.id_to_token(i) for i in tokenizer(text).numpy()]
    assert tokens == ours
    assert reference.encode(text, add_special_tokens=False).tokens == theirs
