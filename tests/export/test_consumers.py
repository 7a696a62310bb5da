"""The consumer scripts' own logic, without an export: run_onnx.py's
WordPiece tokenizer gives the ids of mmkeras' `WordPieceTokenizer`, so
the ONNX graphs take text without TensorFlow."""

import json
import os

import numpy as np
import pytest

from mmkeras.text import WordPieceTokenizer
from tests.export import consumer_modules

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "red", "circle", "un",
    "##aff", "##able", "caf", "##e", "?", "'", "s", "-", "日", "本",
    "what", "colour", "is", "it", "naive", "resume", "$", "!", ".",
    "Red", "Circle", "##é", "café", "ß",
]  # fmt: skip
TEXTS = [
    "What's the colour of the circle?",
    "Unaffable CAFÉ, naïve résumé!",
    "red-circle/the$red",
    "日本 the\tred\ncircle\x00\u200b",
    "x" * 120,
    "unknownword the",
    "",
    "   ",
    "Red Circle café ß ẞ",
    "the " * 30,
    "\ufffdred \u3000 circle\u2028.",
]


def _run_onnx():
    return consumer_modules.run_onnx()


def _tokenizers():
    return consumer_modules.onnx_tokenizers()


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize("add_start_end", [True, False])
def test_the_consumer_tokenizes_as_mmkeras(lowercase, add_start_end):
    tokenizer = WordPieceTokenizer(
        VOCABULARY,
        sequence_length=12,
        lowercase=lowercase,
        add_start_end=add_start_end,
    )
    consumer = _tokenizers().WordPiece(
        VOCABULARY,
        sequence_length=12,
        lowercase=lowercase,
        add_start_end=add_start_end,
        suffix_indicator="##",
        unknown_token="[UNK]",
        pad_token_id=tokenizer.pad_token_id,
        start_token_id=tokenizer.start_token_id,
        end_token_id=tokenizer.end_token_id,
    )
    expected = np.asarray(tokenizer(TEXTS))
    np.testing.assert_array_equal(consumer(TEXTS), expected)
    # Not a vacuous match: words, pieces and unknown words all occur.
    ids = set(expected.ravel())
    assert {1, 16} <= ids
    assert {7, 8, 9} <= ids if lowercase else {27, 28} <= ids


def test_a_file_pillow_cannot_read_is_named(tmp_path):
    module = _run_onnx()
    graphs = module.Graphs.__new__(module.Graphs)
    graphs.config = {"image_size": [8, 8]}
    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match=f"^{path} is not an image Pillow"):
        graphs.load_images([str(path)])


def test_the_consumer_bpe_gives_the_ids_of_tokenizers_on_smollm2():
    """run_onnx.py's BytePair with SmolLM2's vocabulary, merges and
    control tokens gives the ids of the `tokenizers` library (Digits then
    ByteLevel, as tests/text holds mmkeras' BytePairTokenizer to) on the
    BPE corpus: Unicode, emoji, code, whitespace runs, digits,
    contractions and special tokens."""
    import gguf
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import pre_tokenizers

    from mmkeras._packages import package_file
    from mmkeras.models.causal_lm import presets

    reader = gguf.GGUFReader(package_file(*presets.SMOLLM2_FILE))

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode() for i in field.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    types = reader.fields["tokenizer.ggml.token_type"]
    control = [
        token
        for token, i in zip(tokens, types.data, strict=True)
        if types.parts[i][0] == gguf.TokenType.CONTROL
    ]
    reference = Tokenizer(
        models.BPE(
            vocab={token: i for i, token in enumerate(tokens)},
            merges=[tuple(merge.split(" ")) for merge in merges],
        )
    )
    reference.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    reference.decoder = decoders.ByteLevel()
    reference.add_special_tokens(control)
    corpus_path = os.path.join(
        os.path.dirname(os.path.dirname(__file__)),
        "text",
        "data",
        "bpe_corpus.jsonl",
    )
    with open(corpus_path, encoding="utf-8") as file:
        corpus = [json.loads(line) for line in file]
    corpus += ["", " ", "x  123  ", "it's 'S", "<|im_start|>a<|im_end|>\n"]
    assert len(corpus) >= 2000
    consumer = _tokenizers().BytePair(
        tokens, merges, control, "smollm", False, None, 0, 64
    )
    expected = [encoding.ids for encoding in reference.encode_batch(corpus)]
    mismatches = [
        text
        for text, ids in zip(corpus, expected, strict=True)
        if consumer(text) != ids
    ]
    assert not mismatches, mismatches[:5]
    assert [consumer.detokenize(ids) for ids in expected] == [
        reference.decode(ids, skip_special_tokens=False) for ids in expected
    ]


def test_the_serving_script_takes_one_inputs_file_or_one_a_model(capsys):
    main = consumer_modules.serve_saved_model().main
    models = ["m1", "m2", "m3"]
    with pytest.raises(SystemExit):
        main([*models, "--inputs", "1.npz", "2.npz", "--outputs", *models])
    error = capsys.readouterr().err
    assert "give one --inputs file, or one per model_dir" in error
