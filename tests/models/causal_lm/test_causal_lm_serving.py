"""`CausalLMServing` without an export: its options, what it refuses and
the files the ONNX consumer tokenizes with (the exported artifacts are
tests/export/test_export.py's, shared by every family)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.export import signatures
from mmkeras.models.serving import ExportError
from mmkeras.models.serving import RequestError
from mmkeras.testing import tiny_models as tiny
from mmkeras.text import BytePairTokenizer
from tests.export import consumer_modules

TEXTS = [
    "the capital of france is paris",
    "<|im_start|>user\nthe sky?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|>x<|endoftext|>",
    "it's 'S he'll 12345  the\t\tsky \n\n blue  ",
    "日本語 🇫🇷 café\u00a0x\u3000y\r\n",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def model():
    return tiny.model("causal_lm")


def _run_onnx():
    return consumer_modules.run_onnx()


def test_options_are_checked(model):
    with pytest.raises(ExportError, match=r"fit the model's 128-token"):
        model.serving(max_prompt_length=100, max_new_tokens=29)
    with pytest.raises(ValueError, match="max_new_tokens must be a positiv"):
        model.serving(max_new_tokens=0)
    with pytest.raises(ValueError, match="max_prompt_length must be a posit"):
        model.serving(max_prompt_length=-1)
    serving = model.serving(max_prompt_length=8, max_new_tokens=4)
    specs = serving.generation_specs()
    assert [s.shape.as_list() for s in specs.values()] == [[None, 8]] * 2
    vocabulary = model.tokenizer.vocabulary_size()
    assert serving.id_limits() == {"token_ids": vocabulary, "index": 12}
    # The cache's mask is named apart from the encoder's input.
    assert serving.cache_names == ["key_values", "cache_padding_mask"]


def test_only_a_family_that_pads_text_takes_a_ragged_tokenizer(model):
    # The BPE tokenizer gives ragged ids: the causal LM pads them itself.
    assert model.tokenizer.sequence_length is None
    assert model.serving().pads_text
    fusion = tiny.model("fusion")
    fusion.preprocessor.tokenizer.sequence_length = None
    with pytest.raises(ExportError, match="must have a sequence_length"):
        fusion.serving()


def test_export_options_reach_the_family(model):
    serving = signatures.for_model(
        model, "beam", max_prompt_length=8, max_new_tokens=4
    )
    assert serving.max_prompt_length == 8 and serving.max_new_tokens == 4
    assert type(serving.sampler).__name__ == "BeamSampler"
    with pytest.raises(RequestError, match=r"takes no max_prompt_length"):
        signatures.for_model(tiny.model("fusion"), max_prompt_length=8)


def test_predict_points_to_generate(model):
    serving = model.serving()
    message = (
        r"^a CausalLM continues text prompts and takes no images: run "
        r"`mmkeras generate MODEL --prompt '...'` \(or --chat '...'\)$"
    )
    with pytest.raises(RequestError, match=message):
        serving.predict(["scene.png"])
    with pytest.raises(RequestError, match=message):
        serving.request([b"png"], question="what")


def test_the_consumer_tokenizes_and_pads_as_the_preprocessor(model):
    """run_onnx.py's BytePair, built from the files the ONNX folder
    holds, gives the ids, left padding and text of mmkeras."""
    serving = model.serving(max_prompt_length=40, max_new_tokens=8)
    config = serving.onnx_config()
    assert config["request"] == {"task": "generate"}
    assert config["special_token_ids"] == [2]  # <|im_end|> ends and pads
    settings = config["tokenizer"]
    files = serving.onnx_files()
    vocabulary = [json.loads(line) for line in files["vocabulary.jsonl"]]
    assert vocabulary == model.tokenizer.get_vocabulary()
    module = _run_onnx()
    consumer = module.BytePair(
        **{
            **settings,
            "vocabulary": vocabulary,
            "merges": files["merges.txt"],
        }
    )
    # In a graph, as in the export: padded to the static width.
    expected = tf.function(
        lambda texts: model.preprocessor.generate_preprocess(texts, 40)
    )(tf.constant(TEXTS))
    actual = consumer.prompts(TEXTS)
    for key in ("token_ids", "padding_mask"):
        np.testing.assert_array_equal(actual[key], expected[key].numpy())
    # The export's length check counts the tokens the preprocessor keeps.
    lengths = serving.prompt_lengths(tf.constant(TEXTS)).numpy()
    np.testing.assert_array_equal(lengths, actual["padding_mask"].sum(1))
    assert lengths[TEXTS.index("")] == 1
    ids = model.tokenizer(TEXTS).to_list()
    assert [consumer(text) for text in TEXTS] == ids
    # Merged words, special tokens and bytes all occur.
    flat = {i for row in ids for i in row}
    assert {0, 1, 2} <= flat and max(flat) >= 259
    assert any(3 <= i < 259 for i in flat)
    texts = model.tokenizer.detokenize(tf.ragged.constant(ids)).numpy()
    assert [consumer.detokenize(row) for row in ids] == [
        t.decode() for t in texts
    ]
    # A cut character reads as U+FFFD, as in TensorFlow.
    first_byte = BytePairTokenizer.byte_alphabet()["é".encode()[0]]
    cut = [model.tokenizer.token_to_id(first_byte)]
    assert consumer.detokenize(cut) == "\ufffd"
    with pytest.raises(ValueError, match="prompt 0 has 41 tokens, more"):
        consumer.prompts(["x" * 41])


def test_tokens_with_line_breaks_survive_the_vocabulary_file(tmp_path):
    # Any token, even one with a line break, is one line of the file.
    tokens = ["a\u2028b", "c\nd", "e\x85f"]
    path = tmp_path / "vocabulary.jsonl"
    path.write_text(
        "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tokens),
        encoding="utf-8",
    )
    assert _run_onnx()._json_lines(tmp_path, path.name) == tokens
