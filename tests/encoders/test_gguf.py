"""The GGUF reader: tiny Llama files written here, then the real SmolLM2.

The tiny files' quantized tensors are encoded by this test's own block
quantizers, written from ggml's block layouts (`block_q8_0`: an f16 scale
and 32 int8; `block_q4_0`: an f16 scale and 16 bytes whose low nibbles are
elements 0-15 and high nibbles 16-31, value `(q - 8) * d`; `block_q4_1`:
f16 scale and minimum, then the same nibbles, value `q * d + m`; BF16: the
high half of a float32), so the `gguf` package's dequantizers and the
reader's reshaping and transposes are checked against independent code.
"""

import collections

import gguf
import numpy as np
import pytest

from mmkeras.encoders import gguf as gguf_reader
from tests.models.causal_lm import reference

HIDDEN, HEADS, KV_HEADS, INNER, LAYERS = 32, 4, 2, 64, 2
KV_WIDTH = KV_HEADS * HIDDEN // HEADS
TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [
    chr(code) for code in range(ord("a"), ord("a") + 37)
]
VOCAB = len(TOKENS)
FLOATS = {"F32": np.float32, "F16": np.float16}
TEMPLATE = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
# ggml's block types encoded in this file, by tensor; the rest is F32.
TYPES = {
    "token_embd.weight": "Q8_0",
    "output.weight": "F16",
    "blk.0.attn_q.weight": "Q4_0",
    "blk.0.attn_k.weight": "Q4_1",
    "blk.0.attn_v.weight": "Q8_0",
    "blk.0.attn_output.weight": "F16",
    "blk.0.ffn_gate.weight": "BF16",
    "blk.0.ffn_up.weight": "Q4_1",
    "blk.0.ffn_down.weight": "Q4_0",
    **{
        f"blk.1.{name}.weight": "Q4_1"
        for name in ("attn_q", "attn_k", "attn_v", "attn_output")
        + ("ffn_gate", "ffn_up", "ffn_down")
    },
}
BLOCK_KEYS = {
    "attention_norm": "attn_norm",
    "query": "attn_q",
    "key": "attn_k",
    "value": "attn_v",
    "attention_output": "attn_output",
    "mlp_norm": "ffn_norm",
    "gate": "ffn_gate",
    "up": "ffn_up",
    "down": "ffn_down",
}
SMOLLM2_CONFIG = {
    "vocabulary_size": 49152,
    "num_layers": 30,
    "hidden_dim": 576,
    "num_heads": 9,
    "num_key_value_heads": 3,
    "intermediate_dim": 1536,
    "rope_max_wavelength": 100000.0,
    "rope_layout": "interleaved",
    "layer_norm_epsilon": 1e-5,
    "tie_word_embeddings": True,
    "max_sequence_length": 8192,
}


def test_basics_config_and_tokenizer_of_a_tiny_llama(tmp_path):
    path = _write(tmp_path / "tiny.gguf")
    checkpoint = gguf_reader.read_gguf(path)
    assert checkpoint.architecture == "llama"
    assert checkpoint.config == {
        "vocabulary_size": VOCAB,
        "num_layers": LAYERS,
        "hidden_dim": HIDDEN,
        "num_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "intermediate_dim": INNER,
        "rope_max_wavelength": 100000.0,
        "rope_layout": "interleaved",
        "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": True,
        "max_sequence_length": 128,
    }
    tokenizer = checkpoint.tokenizer
    assert tokenizer["tokens"] == TOKENS
    assert tokenizer["merges"] == ["a b", "ab c"]
    assert tokenizer["token_types"] == [3, 3, 3] + [1] * (VOCAB - 3)
    assert (tokenizer["model"], tokenizer["pre"]) == ("gpt2", "smollm")
    assert tokenizer["bos_token_id"] == 1 and tokenizer["eos_token_id"] == 2
    assert tokenizer["padding_token_id"] == 2
    assert "unknown_token_id" not in tokenizer
    assert tokenizer["chat_template"] == TEMPLATE
    assert checkpoint.tensor_types["blk.0.ffn_gate.weight"] == "BF16"


@pytest.mark.parametrize("tied", [True, False])
def test_weights_are_the_written_tensors_in_keras_orientation(tmp_path, tied):
    originals = _tensors(tied)
    path = _write(tmp_path / "tiny.gguf", tensors=originals)
    weights = gguf_reader.read_gguf(path).weights()
    assert set(weights) == {"token_embedding", "final_norm", "layers"} | (
        set() if tied else {"output"}
    )
    expected = {
        "token_embedding": _decoded(originals, "token_embd.weight"),
        "final_norm": _decoded(originals, "output_norm.weight"),
    }
    if not tied:
        expected["output"] = _decoded(originals, "output.weight").T
    for index, block in enumerate(weights["layers"]):
        for key, name in BLOCK_KEYS.items():
            expected[f"{index}.{key}"] = _decoded(
                originals, f"blk.{index}.{name}.weight"
            ).T
            weights[f"{index}.{key}"] = block[key]
    del weights["layers"]
    assert set(weights) == set(expected)
    for key, value in weights.items():
        assert value.dtype == np.float32 and value.flags.c_contiguous, key
        assert value.flags.writeable and value.flags.owndata, key
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
    shapes = {key: value.shape for key, value in weights.items()}
    assert shapes["token_embedding"] == (VOCAB, HIDDEN)
    assert shapes["0.key"] == shapes["1.value"] == (HIDDEN, KV_WIDTH)
    assert shapes["0.down"] == (INNER, HIDDEN)
    assert shapes["1.gate"] == (HIDDEN, INNER)


@pytest.mark.parametrize("ggml_type", ["Q8_0", "Q4_0", "Q4_1", "F16", "BF16"])
def test_each_type_is_within_its_error_bound(ggml_type):
    values = np.random.default_rng(1).normal(0, 0.5, (64, 96))
    values = values.astype(np.float32)
    encoded = _encode(values, ggml_type)
    decoded = gguf.quants.dequantize(
        encoded, gguf.GGMLQuantizationType[ggml_type]
    ).reshape(values.shape)
    np.testing.assert_array_equal(
        decoded, _decode(encoded, ggml_type).reshape(values.shape)
    )
    error = np.abs(decoded - values)
    assert (error <= _bound(values, ggml_type)).all()
    assert error.max() > 0  # each of them loses something


def test_optional_keys_take_llama_cpp_defaults(tmp_path):
    path = _write(
        tmp_path / "tiny.gguf",
        metadata={
            "llama.attention.head_count_kv": None,
            "llama.rope.freq_base": None,
            "tokenizer.ggml.padding_token_id": None,
        },
        tensors=_tensors(kv_heads=HEADS),
    )
    checkpoint = gguf_reader.read_gguf(path)
    assert checkpoint.config["num_key_value_heads"] == HEADS
    assert checkpoint.config["rope_max_wavelength"] == 10000.0
    assert "padding_token_id" not in checkpoint.tokenizer


def test_block_weights_checks_its_index(tmp_path):
    checkpoint = gguf_reader.read_gguf(_write(tmp_path / "tiny.gguf"))
    with pytest.raises(IndexError, match=r"\[0, 2\)\. Received: index=2"):
        checkpoint.block_weights(2)


@pytest.mark.parametrize("architecture", ["gpt2", "falcon"])
def test_other_architectures_are_refused(tmp_path, architecture):
    path = _write(tmp_path / "other.gguf", architecture=architecture)
    with pytest.raises(gguf_reader.UnsupportedArchitectureError) as info:
        gguf_reader.read_gguf(path)
    message = str(info.value)
    assert str(path) in message and f"'{architecture}'" in message
    assert "reads only 'llama'" in message


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"llama.block_count": None}, "no metadata key 'llama.block_count'"),
        (
            {"llama.block_count": "two"},
            "'llama.block_count' must be an integer, but it holds a STRING",
        ),
        (
            {"llama.attention.head_count": 0},
            "must be positive. Received: llama.attention.head_count=0",
        ),
        (
            {"llama.attention.head_count": 3},
            r"embedding_length \(32\) is not a multiple of .*head_count \(3\)",
        ),
        (
            {"llama.rope.dimension_count": 4},
            "'llama.rope.dimension_count' is 4, .* head size 8",
        ),
        (
            {"llama.rope.scaling.type": "yarn"},
            "scaling.type is 'yarn'",
        ),
        (
            {"tokenizer.ggml.model": "llama"},
            "has a 'llama' tokenizer .* byte-level BPE",
        ),
        (
            {"tokenizer.ggml.eos_token_id": 40},
            "'tokenizer.ggml.eos_token_id' is 40, not a token id",
        ),
        (
            {"tokenizer.ggml.merges": None},
            "no metadata key 'tokenizer.ggml.merges'",
        ),
    ],
)
def test_bad_metadata_is_named(tmp_path, metadata, message):
    path = _write(tmp_path / "bad.gguf", metadata=metadata)
    with pytest.raises(gguf_reader.GGUFMetadataError, match=message) as info:
        gguf_reader.read_gguf(path)
    assert str(info.value).startswith(str(path))


def test_unsupported_tensor_types_are_named(tmp_path):
    tensors = _tensors()
    values = tensors["blk.1.ffn_up.weight"][0]
    tensors["blk.1.ffn_up.weight"] = (values, "Q5_0")
    path = _write(tmp_path / "q5.gguf", tensors=tensors)
    with pytest.raises(gguf_reader.UnsupportedTensorTypeError) as info:
        gguf_reader.read_gguf(path)
    assert str(info.value) == (
        f"{path}: tensor 'blk.1.ffn_up.weight' is stored as Q5_0, which "
        "mmkeras cannot dequantize; supported types: F32, F16, BF16, Q8_0, "
        "Q4_0, Q4_1. Re-quantize the model to one of them."
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"blk.0.attn_k.weight": np.zeros((HIDDEN, HIDDEN), np.float32)},
            r"tensor 'blk.0.attn_k.weight' has dims \(32, 32\) \(ggml order\)"
            r", but the metadata's config needs \(32, 16\)",
        ),
        (
            {"blk.1.ffn_norm.weight": None},
            r"missing \['blk.1.ffn_norm.weight'\], unexpected \[\]",
        ),
        (
            {"blk.0.attn_q.bias": np.zeros(HIDDEN, np.float32)},
            r"missing \[\], unexpected \['blk.0.attn_q.bias'\]",
        ),
    ],
)
def test_unexpected_tensors_are_named(tmp_path, change, message):
    tensors = _tensors()
    tensors.update(
        {
            name: None if value is None else (value, "F32")
            for name, value in change.items()
        }
    )
    path = _write(tmp_path / "bad.gguf", tensors=tensors)
    with pytest.raises(gguf_reader.GGUFTensorError, match=message) as info:
        gguf_reader.read_gguf(path)
    assert str(info.value).startswith(str(path))


def test_non_finite_weights_are_refused(tmp_path):
    tensors = _tensors()
    norm = tensors["blk.1.attn_norm.weight"][0].copy()
    norm[3] = np.nan
    tensors["blk.1.attn_norm.weight"] = (norm, "F32")
    checkpoint = gguf_reader.read_gguf(_write(tmp_path / "nan.gguf", tensors))
    with pytest.raises(gguf_reader.GGUFTensorError, match="'blk.1.attn_norm"):
        checkpoint.weights()


@pytest.mark.parametrize(
    "content, error, message",
    [
        (b"", gguf_reader.TruncatedGGUFError, "is empty, not a GGUF file"),
        (
            b"PK\x03\x04" + bytes(60),
            gguf_reader.GGUFFormatError,
            r"not a GGUF file: it starts with b'PK\\x03\\x04'",
        ),
        (b"GGU", gguf_reader.TruncatedGGUFError, "it has 3 bytes"),
        (
            b"GGUF\x04\x00\x00\x00" + bytes(60),
            gguf_reader.GGUFFormatError,
            r"GGUF version 4; mmkeras reads versions \(2, 3\)",
        ),
    ],
)
def test_files_that_are_not_gguf_are_named(tmp_path, content, error, message):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(error, match=message) as info:
        gguf_reader.read_gguf(path)
    assert str(info.value).startswith(str(path))


def test_big_endian_and_corrupt_headers_are_named(tmp_path):
    path = _write(tmp_path / "big.gguf", endianess=gguf.GGUFEndian.BIG)
    with pytest.raises(gguf_reader.GGUFFormatError, match="big-endian"):
        gguf_reader.read_gguf(path)
    content = bytearray(_write(tmp_path / "tiny.gguf").read_bytes())
    # The first key is general.architecture: 24 header bytes, its 8-byte
    # length and 20 characters, then its value type, made unknown.
    assert content[32:52] == b"general.architecture"
    content[52:56] = (99).to_bytes(4, "little")
    path.write_bytes(bytes(content))
    with pytest.raises(gguf_reader.GGUFFormatError, match="corrupt GGUF"):
        gguf_reader.read_gguf(path)
    content = bytearray(_write(tmp_path / "tiny.gguf").read_bytes())
    start = content.index(TEMPLATE.encode())
    content[start] = 0xFF  # never valid in UTF-8
    path.write_bytes(bytes(content))
    with pytest.raises(
        gguf_reader.GGUFMetadataError,
        match="'tokenizer.chat_template' is not valid UTF-8",
    ):
        gguf_reader.read_gguf(path)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.gguf"):
        gguf_reader.read_gguf(tmp_path / "absent.gguf")


def test_a_tiny_file_cut_anywhere_is_truncated(tmp_path):
    content = _write(tmp_path / "tiny.gguf").read_bytes()
    reader = gguf.GGUFReader(tmp_path / "tiny.gguf")
    header = reader.data_offset
    end = max(t.data_offset + t.n_bytes for t in reader.tensors)
    # Each byte of the fixed header and around the end of the tensor
    # infos, every 13th elsewhere (each field type is cut a few times).
    cuts = sorted(
        {*range(64), *range(64, header, 13), *range(header - 64, header + 1)}
        | {*range(header + 7, end, 997)}
    )
    path = tmp_path / "cut.gguf"
    for cut in cuts:
        path.write_bytes(content[:cut])
        with pytest.raises(gguf_reader.TruncatedGGUFError) as info:
            gguf_reader.read_gguf(path)
        assert str(info.value).startswith(f"{path} is "), cut
        assert "truncated" in str(info.value) or cut == 0, cut


@pytest.fixture(scope="module")
def smollm2():
    return gguf_reader.read_gguf(reference.smollm2_path())


@pytest.fixture(scope="module")
def smollm2_raw(smollm2):
    return gguf.GGUFReader(smollm2.path)


def test_smollm2_config_and_tensor_types(smollm2):
    assert smollm2.config == SMOLLM2_CONFIG
    types = smollm2.tensor_types
    assert collections.Counter(types.values()) == {
        "Q4_1": 210,
        "F32": 61,
        "Q8_0": 1,
    }
    assert types["token_embd.weight"] == "Q8_0"
    assert {n for n, t in types.items() if t == "F32"} == {
        "output_norm.weight",
        *(
            f"blk.{i}.{n}_norm.weight"
            for i in range(30)
            for n in "attn ffn".split()
        ),
    }


def test_smollm2_tokenizer(smollm2):
    tokenizer = smollm2.tokenizer
    assert len(tokenizer["tokens"]) == 49152
    assert len(tokenizer["merges"]) == 48900
    assert tokenizer["merges"][0] == "Ġ t"
    assert (tokenizer["model"], tokenizer["pre"]) == ("gpt2", "smollm")
    assert tokenizer["bos_token_id"] == 1 and tokenizer["eos_token_id"] == 2
    assert tokenizer["tokens"][1:3] == ["<|im_start|>", "<|im_end|>"]
    assert tokenizer["padding_token_id"] == 2
    assert tokenizer["unknown_token_id"] == 0
    assert tokenizer["add_bos_token"] is False
    assert tokenizer["token_types"].count(3) == 17
    assert (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM"
        in tokenizer["chat_template"]
    )


def test_smollm2_block_matches_an_independent_decode(smollm2, smollm2_raw):
    block = smollm2.block_weights(0)
    raw = {t.name: t for t in smollm2_raw.tensors}
    for key, name in BLOCK_KEYS.items():
        tensor = raw[f"blk.0.{name}.weight"]
        decoded = _decode(np.asarray(tensor.data), tensor.tensor_type.name)
        decoded = decoded.reshape(tuple(reversed(tensor.shape.tolist())))
        np.testing.assert_array_equal(block[key], decoded.T, err_msg=key)
    assert block["key"].shape == (576, 192)
    assert block["down"].shape == (1536, 576)


def test_smollm2_cut_short_is_truncated(smollm2, smollm2_raw, tmp_path):
    header = smollm2_raw.data_offset
    path = tmp_path / "cut.gguf"
    with open(smollm2.path, "rb") as source:
        content = source.read(header + 2**20)
    # In the counts, in the token list, in the first tensor's data.
    for cut in (20, 500_000, header + 2**20):
        path.write_bytes(content[:cut])
        with pytest.raises(gguf_reader.TruncatedGGUFError) as info:
            gguf_reader.read_gguf(path)
        assert str(info.value).startswith(f"{path} is truncated: it has ")


def _tensors(tied=True, kv_heads=KV_HEADS):
    """`{ggml name: (numpy array (out, in), ggml type)}` of a tiny Llama."""
    rng = np.random.default_rng(0)
    kv_width = kv_heads * HIDDEN // HEADS

    def normal(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    tensors = {
        "token_embd.weight": normal(VOCAB, HIDDEN),
        "output_norm.weight": 1 + normal(HIDDEN),
    }
    if not tied:
        tensors["output.weight"] = normal(VOCAB, HIDDEN)
    for index in range(LAYERS):
        tensors.update(
            {
                f"blk.{index}.attn_norm.weight": 1 + normal(HIDDEN),
                f"blk.{index}.attn_q.weight": normal(HIDDEN, HIDDEN),
                f"blk.{index}.attn_k.weight": normal(kv_width, HIDDEN),
                f"blk.{index}.attn_v.weight": normal(kv_width, HIDDEN),
                f"blk.{index}.attn_output.weight": normal(HIDDEN, HIDDEN),
                f"blk.{index}.ffn_norm.weight": 1 + normal(HIDDEN),
                f"blk.{index}.ffn_gate.weight": normal(INNER, HIDDEN),
                f"blk.{index}.ffn_up.weight": normal(INNER, HIDDEN),
                f"blk.{index}.ffn_down.weight": normal(HIDDEN, INNER),
            }
        )
    return {
        name: (value, TYPES.get(name, "F32")) for name, value in tensors.items()
    }


def _write(
    path,
    tensors=None,
    *,
    architecture="llama",
    metadata=None,
    endianess=gguf.GGUFEndian.LITTLE,
):
    """A tiny Llama GGUF; `metadata` values replace (None: drop) keys."""
    values = {
        "llama.block_count": LAYERS,
        "llama.context_length": 128,
        "llama.embedding_length": HIDDEN,
        "llama.feed_forward_length": INNER,
        "llama.attention.head_count": HEADS,
        "llama.attention.head_count_kv": KV_HEADS,
        "llama.rope.freq_base": 100000.0,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.tokens": TOKENS,
        "tokenizer.ggml.merges": ["a b", "ab c"],
        "tokenizer.ggml.token_type": [3, 3, 3] + [1] * (VOCAB - 3),
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.padding_token_id": 2,
        "tokenizer.chat_template": TEMPLATE,
    }
    values.update(metadata or {})
    writer = gguf.GGUFWriter(path, architecture, endianess=endianess)
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, value)
    for name, entry in (tensors or _tensors()).items():
        if entry is not None:
            values, ggml_type = entry
            _add_tensor(writer, name, values, ggml_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_tensor(writer, name, values, ggml_type):
    if ggml_type in FLOATS:
        writer.add_tensor(name, values.astype(FLOATS[ggml_type]))
        return
    raw_type = gguf.GGMLQuantizationType[ggml_type]
    if ggml_type == "Q5_0":  # only to be refused; the package encodes it
        encoded = gguf.quants.quantize(values, raw_type)
    else:
        encoded = _encode(values, ggml_type)
    writer.add_tensor(name, encoded, raw_dtype=raw_type)


def _decoded(tensors, name):
    values, ggml_type = tensors[name]
    return _decode(_encode(values, ggml_type), ggml_type).reshape(values.shape)


def _encode(values, ggml_type):
    """ggml's bytes for float32 `values`, one row of blocks per row."""
    rows = values.shape[0]
    if ggml_type == "F32":
        return values.view(np.uint8).reshape(rows, -1)
    if ggml_type == "F16":
        return values.astype(np.float16).view(np.uint8).reshape(rows, -1)
    if ggml_type == "BF16":
        high = (values.view(np.uint32) >> 16).astype(np.uint16)
        return high.view(np.uint8).reshape(rows, -1)
    blocks = values.reshape(-1, 32).astype(np.float64)
    if ggml_type == "Q8_0":
        scale = np.abs(blocks).max(axis=1, keepdims=True) / 127
        scale16 = scale.astype(np.float16)
        quants = np.clip(np.round(blocks / scale16), -127, 127)
        parts = [scale16.view(np.uint8), quants.astype(np.int8).view(np.uint8)]
    else:
        if ggml_type == "Q4_0":
            index = np.abs(blocks).argmax(axis=1)[:, None]
            scale16 = (np.take_along_axis(blocks, index, 1) / -8).astype(
                np.float16
            )
            quants = np.floor(blocks / scale16 + 8.5)
            parts = [scale16.view(np.uint8)]
        else:  # Q4_1
            low = blocks.min(axis=1, keepdims=True).astype(np.float16)
            scale16 = ((blocks.max(axis=1, keepdims=True) - low) / 15).astype(
                np.float16
            )
            quants = np.floor((blocks - low) / scale16 + 0.5)
            parts = [scale16.view(np.uint8), low.view(np.uint8)]
        quants = np.clip(quants, 0, 15).astype(np.uint8)
        parts.append(quants[:, :16] | (quants[:, 16:] << 4))
    return np.concatenate(parts, axis=1).reshape(rows, -1)


def _decode(encoded, ggml_type):
    """Flat float32 values of ggml bytes, from the block layouts."""
    if ggml_type in FLOATS:
        return encoded.view(FLOATS[ggml_type]).astype(np.float32).ravel()
    if ggml_type == "BF16":
        high = encoded.view(np.uint16).astype(np.uint32)
        return (high << 16).view(np.float32).ravel()
    size = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20}[ggml_type]
    blocks = encoded.reshape(-1, size)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    if ggml_type == "Q8_0":
        return (blocks[:, 2:].view(np.int8) * scale).ravel()
    packed = blocks[:, -16:]
    quants = np.concatenate([packed & 15, packed >> 4], axis=1)
    if ggml_type == "Q4_0":
        return ((quants.astype(np.float32) - 8) * scale).ravel()
    low = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    return (quants * scale + low).ravel()


def _bound(values, ggml_type):
    """Each element's largest error for its type: half a step, or one
    step where Q4_0 clips the side opposite its extreme value, plus the
    f16 rounding of the scale (and minimum) times the quant."""
    if ggml_type in ("F16", "BF16"):
        # F16 rounds (and has subnormals), BF16 truncates.
        bits = {"F16": 11, "BF16": 7}[ggml_type]
        return np.abs(values) * 2.0**-bits + 2.0**-24
    blocks = values.reshape(-1, 32)
    top = np.abs(blocks).max(axis=1, keepdims=True)
    if ggml_type == "Q8_0":
        bound = top / 254 + top * 2.0**-11
    elif ggml_type == "Q4_0":
        bound = top / 8 + top * 2.0**-10
    else:
        spread = np.ptp(blocks, axis=1, keepdims=True)
        bound = spread / 30 + (spread + top) * 2.0**-10
    return np.broadcast_to(bound, blocks.shape).reshape(values.shape)
