import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.testing import run_serialization_test
from mmkeras.text import WordPieceTokenizer

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  # 0-4
    "un", "##aff", "##able", "hello", "world",  # 5-9
    ",", "!", "the", "cat", "##s",  # 10-14
]  # fmt: skip


def ids(tokenizer, text):
    return keras.ops.convert_to_numpy(tokenizer(text)).tolist()


def test_basics():
    tokenizer = WordPieceTokenizer(VOCAB, sequence_length=6)
    text = np.array(["Hello, world!", "unaffable cats", ""])
    expected = [[8, 10, 9, 11, 0, 0], [5, 6, 7, 13, 14, 0], [0] * 6]
    np.testing.assert_array_equal(tokenizer(text), expected)
    run_serialization_test(tokenizer, (text,))


def test_known_ids():
    tokenizer = WordPieceTokenizer(VOCAB)
    assert ids(tokenizer, "unaffable") == [5, 6, 7]
    assert ids(tokenizer, "HÉLLO hello") == [8, 8]
    assert ids(tokenizer, "hello,world!") == [8, 10, 9, 11]
    assert ids(tokenizer, "hello zebra unaffablez") == [8, 1, 1]
    assert tokenizer.unknown_token_id == 1 and tokenizer.mask_token_id == 4


def test_lowercase_false_keeps_case_and_accents():
    tokenizer = WordPieceTokenizer(VOCAB + ["Héllo"], lowercase=False)
    assert ids(tokenizer, "Héllo hello Hello") == [15, 8, 1]


def test_ragged_batch_and_scalar():
    tokenizer = WordPieceTokenizer(VOCAB)
    ragged = tokenizer(["the cats", "hello"])
    assert isinstance(ragged, tf.RaggedTensor) and ragged.dtype == tf.int32
    assert ragged.to_list() == [[12, 13, 14], [8]]
    assert ids(tokenizer, "the cat") == [12, 13]


def test_padding_truncation_and_start_end():
    tokenizer = WordPieceTokenizer(VOCAB, sequence_length=4, add_start_end=True)
    assert ids(tokenizer, ["cat", "the cats hello"]) == [
        [2, 13, 3, 0],
        [2, 12, 13, 3],
    ]
    assert ids(tokenizer, "hello") == [2, 8, 3, 0]
    ragged = WordPieceTokenizer(VOCAB, add_start_end=True)(["cat"])
    assert ragged.to_list() == [[2, 13, 3]]


def test_detokenize_round_trip():
    tokenizer = WordPieceTokenizer(VOCAB, sequence_length=8, add_start_end=True)
    text = ["Unaffable CATS", "héllo world"]
    detokenized = tokenizer.detokenize(tokenizer(text)).numpy().tolist()
    assert detokenized == [b"unaffable cats", b"hello world"]
    single = tokenizer.detokenize([2, 5, 6, 1, 3, 0])
    assert single.numpy() == b"unaff [UNK]"


def test_vocabulary_accessors(tmp_path):
    path = tmp_path / "vocab.txt"
    mmkeras.text.save_vocabulary(VOCAB, path)
    tokenizer = WordPieceTokenizer(str(path))
    assert tokenizer.get_vocabulary() == VOCAB
    assert tokenizer.vocabulary_size() == 15
    assert tokenizer.token_to_id("##aff") == 6
    assert tokenizer.id_to_token(6) == "##aff"
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        tokenizer.token_to_id("zebra")


def test_tf_data_map():
    tokenizer = WordPieceTokenizer(VOCAB, sequence_length=3)
    dataset = tf.data.Dataset.from_tensor_slices(["the cats", "hello"])
    assert [x.tolist() for x in dataset.map(tokenizer).as_numpy_iterator()] == [
        [12, 13, 14],
        [8, 0, 0],
    ]
    ragged = WordPieceTokenizer(VOCAB)
    batches = dataset.batch(2).map(ragged)
    assert [b.to_list() for b in batches] == [[[12, 13, 14], [8]]]


def test_saved_model(tmp_path):
    module = tf.Module()
    module.tokenizer = WordPieceTokenizer(VOCAB, sequence_length=5)
    module.tokenize = tf.function(
        module.tokenizer, input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    for text in (["unaffable!"], ["the cats", "Hello zebra"]):
        expected = module.tokenizer(text)
        np.testing.assert_array_equal(
            loaded.tokenize(tf.constant(text)), expected
        )
    assert loaded.tokenize(tf.constant(["unaffable!"])).numpy().tolist() == [
        [5, 6, 7, 11, 0]
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sequence_length": 0}, "sequence_length=0"),
        ({"vocabulary": []}, "vocabulary=[]"),
        ({"vocabulary": "/no/such/vocab.txt"}, "/no/such/vocab.txt"),
        ({"vocabulary": ["[PAD]", "[PAD]"]}, "duplicates: ['[PAD]']"),
        ({"vocabulary": ["[PAD]", "a"]}, "no unknown token '[UNK]'"),
        ({"special_tokens": {"start": "<s>"}, "add_start_end": True}, "'<s>'"),
        ({"special_tokens": {"bos": "<s>"}}, "special_tokens keys"),
    ],
)
def test_bad_arguments(kwargs, message):
    kwargs = {"vocabulary": VOCAB, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        WordPieceTokenizer(**kwargs)


def test_bad_inputs():
    tokenizer = WordPieceTokenizer(VOCAB)
    with pytest.raises(TypeError, match="takes strings.*dtype int32"):
        tokenizer([1, 2])
    with pytest.raises(ValueError, match="rank 2"):
        tokenizer([["a"]])
    with pytest.raises(TypeError, match="dtype float32"):
        tokenizer(keras.Input(shape=()))
