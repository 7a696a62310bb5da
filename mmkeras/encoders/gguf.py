"""Reading Llama-architecture GGUF files (llama.cpp's format) as numpy.

A GGUF file is a header (magic `GGUF`, version, metadata key/values, one
info record per tensor: name, dims, ggml type, offset) followed by the
aligned tensor data. The pinned `gguf` package parses it over a memory
map; this module checks what the header promises, reads the backbone
config and the tokenizer from the metadata, and dequantizes the tensors
one at a time into float32 arrays in Keras orientation. It needs no
TensorFlow, torch or llama.cpp.

ggml lists a tensor's dims fastest first, so a linear layer stored as
`(in, out)` in GGUF is a row-major numpy array of shape `(out, in)`: its
Keras kernel is the transpose. llama.cpp's converter stores q and k with
the rotary dimensions of each head paired as (2i, 2i + 1), so the config
says `rope_layout="interleaved"`.
"""

import os

import gguf
import numpy as np

SUPPORTED_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1")
_VERSIONS = (2, 3)
_INTEGERS = {
    gguf.GGUFValueType.UINT8,
    gguf.GGUFValueType.INT8,
    gguf.GGUFValueType.UINT16,
    gguf.GGUFValueType.INT16,
    gguf.GGUFValueType.UINT32,
    gguf.GGUFValueType.INT32,
    gguf.GGUFValueType.UINT64,
    gguf.GGUFValueType.INT64,
}
_FLOATS = {gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64}
_KINDS = {
    "an integer": [_INTEGERS],
    "a number": [_INTEGERS | _FLOATS],
    "a string": [{gguf.GGUFValueType.STRING}],
    "a boolean": [{gguf.GGUFValueType.BOOL}],
    "an array of strings": [
        {gguf.GGUFValueType.ARRAY},
        {gguf.GGUFValueType.STRING},
    ],
    "an array of integers": [{gguf.GGUFValueType.ARRAY}, _INTEGERS],
}
_REQUIRED = object()


class GGUFError(ValueError):
    """A GGUF file mmkeras cannot read; the message names the file."""


class GGUFFormatError(GGUFError):
    """Not a GGUF file, or a header that cannot be parsed."""


class TruncatedGGUFError(GGUFFormatError):
    """The file ends before its header or its tensor data does."""


class UnsupportedArchitectureError(GGUFError):
    """`general.architecture` names a model other than Llama."""


class GGUFMetadataError(GGUFError):
    """A metadata key is missing, of the wrong type, or unsupported."""


class GGUFTensorError(GGUFError):
    """A tensor is missing, unexpected, of the wrong shape or not finite."""


class UnsupportedTensorTypeError(GGUFTensorError):
    """A tensor is stored in a ggml type this reader cannot dequantize."""


class GGUFCheckpoint:
    """A Llama GGUF file: its backbone config, tokenizer and weights.

    Made by `read_gguf`. The file stays memory-mapped; `weights()`
    dequantizes it on each call.

    Attributes:
        path: the file.
        architecture: `general.architecture` (always `"llama"`).
        config: the Llama backbone config (`vocabulary_size`,
            `num_layers`, `hidden_dim`, `num_heads`, `num_key_value_heads`,
            `intermediate_dim`, `rope_max_wavelength`, `rope_layout`,
            `layer_norm_epsilon`, `tie_word_embeddings`,
            `max_sequence_length`).
        tokenizer: the byte-level BPE tokenizer: `model`, `pre`, `tokens`,
            `merges` (`"a b"` strings), `token_types`, `bos_token_id`,
            `eos_token_id`, `chat_template` (or None), and
            `padding_token_id`, `unknown_token_id` and `add_bos_token`
            when the file has them.
        tensor_types: `{ggml tensor name: ggml type name}`.
    """

    def __init__(self, path, architecture, config, tokenizer, reader):
        self.path = path
        self.architecture = architecture
        self.config = config
        self.tokenizer = tokenizer
        self._tensors = {tensor.name: tensor for tensor in reader.tensors}
        self.tensor_types = {
            name: tensor.tensor_type.name
            for name, tensor in self._tensors.items()
        }

    def weights(self):
        """The canonical Llama weight dict, float32 in Keras orientation.

        `{"token_embedding", "final_norm", "output" (untied only),
        "layers": [{"attention_norm", "query", "key", "value",
        "attention_output", "mlp_norm", "gate", "up", "down"}, ...]}`;
        kernels are `(inputs, outputs)`.

        Raises:
            GGUFTensorError: if a tensor dequantizes to NaN or infinity.
        """
        weights = self.global_weights()
        weights["layers"] = [
            self.block_weights(index)
            for index in range(self.config["num_layers"])
        ]
        return weights

    def global_weights(self):
        """`weights()` without `"layers"`: embedding, final norm, output."""
        return {
            key: self._dequantize(name, transpose)
            for key, name, transpose in _global_tensors(self.config)
        }

    def block_weights(self, index):
        """`weights()["layers"][index]` alone.

        Loading a model block by block keeps one block's float32 copy in
        memory at a time instead of the whole model's.
        """
        if not 0 <= index < self.config["num_layers"]:
            raise IndexError(
                f"index must be a block index in [0, "
                f"{self.config['num_layers']}). Received: index={index!r}"
            )
        return {
            key: self._dequantize(f"blk.{index}.{name}", transpose)
            for key, name, transpose in _BLOCK_TENSORS
        }

    def _dequantize(self, name, transpose):
        tensor = self._tensors[name]
        # Corrupt scales overflow; the finiteness check below names them.
        with np.errstate(over="ignore", invalid="ignore"):
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        values = values.reshape(tuple(reversed(tensor.shape.tolist())))
        if transpose:
            values = values.T
        # A copy only for views: of the memory map (F32) or a transpose.
        values = np.require(values, np.float32, ("C", "O", "W"))
        if not np.isfinite(values).all():
            raise GGUFTensorError(
                f"{self.path}: tensor {name!r} ({tensor.tensor_type.name}) "
                "holds NaN or infinite values; the file is corrupt. Convert "
                "or download it again."
            )
        return values

    def __repr__(self):
        return (
            f"GGUFCheckpoint({self.path!r}, architecture="
            f"{self.architecture!r}, num_layers={self.config['num_layers']}"
            f", hidden_dim={self.config['hidden_dim']})"
        )


def read_gguf(path):
    """Reads a Llama GGUF file's header: config, tokenizer, tensor checks.

    Every tensor's name, shape, type and extent is checked here, so
    `weights()` only dequantizes.

    Args:
        path: a `.gguf` file written by llama.cpp's converter (or
            `gguf.GGUFWriter`) for `general.architecture = "llama"`, with a
            byte-level BPE (`"gpt2"`) tokenizer and tensors in one of
            `SUPPORTED_TYPES`.

    Returns:
        A `GGUFCheckpoint`.

    Raises:
        GGUFFormatError: if the file is not GGUF (version 2 or 3,
            little-endian) or its header is corrupt.
        TruncatedGGUFError: if the file ends early.
        UnsupportedArchitectureError: for an architecture other than Llama.
        GGUFMetadataError: for a missing, mistyped or unsupported key.
        UnsupportedTensorTypeError: for a tensor type outside
            `SUPPORTED_TYPES`.
        GGUFTensorError: for a missing, unexpected or misshapen tensor.

    Example:

    >>> checkpoint = mmkeras.encoders.read_gguf(
    ...     "SmolLM2-135M-Instruct.Q4_1.gguf"
    ... )
    >>> checkpoint.config["num_layers"], checkpoint.tokenizer["pre"]
    (30, 'smollm')
    >>> checkpoint.block_weights(0)["key"].shape  # 3 kv heads of 64
    (576, 192)
    """
    path = os.fspath(path)
    reader = _open(path)
    metadata = _Metadata(path, reader.fields)
    architecture = metadata.get("general.architecture", "a string")
    if architecture != "llama":
        raise UnsupportedArchitectureError(
            f"{path} holds a {architecture!r} model (general.architecture); "
            "mmkeras reads only 'llama' GGUF files. Use a Llama-architecture "
            "GGUF (Llama, SmolLM, TinyLlama, ...)."
        )
    tokenizer = _tokenizer(metadata)
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    config = _config(metadata, len(tokenizer["tokens"]), tensors)
    _check_tensors(path, config, tensors)
    return GGUFCheckpoint(path, architecture, config, tokenizer, reader)


class _EndOfFile(Exception):
    def __init__(self, end):
        super().__init__(end)
        self.end = end


class _Reader(gguf.GGUFReader):
    """GGUFReader that tells a read past the end of the file apart.

    The parent slices its memory map, so a truncated file otherwise shows
    up as a short array and a numpy error somewhere later.
    """

    def _get(self, offset, dtype, count=1, override_order=None):
        end = int(offset) + np.dtype(dtype).itemsize * int(count)
        if end > len(self.data):
            raise _EndOfFile(end)
        return super()._get(offset, dtype, count, override_order)


def _open(path):
    with open(path, "rb") as file:
        start = file.read(8)
        size = os.fstat(file.fileno()).st_size
    if not start:
        raise TruncatedGGUFError(f"{path} is empty, not a GGUF file.")
    if not start.startswith(b"GGUF"[: len(start)]):
        raise GGUFFormatError(
            f"{path} is not a GGUF file: it starts with {start[:4]!r}, not "
            "the magic b'GGUF'. Pass a .gguf file (llama.cpp's format)."
        )
    if len(start) < 8:
        raise TruncatedGGUFError(
            f"{path} is truncated: it has {size} bytes, fewer than the "
            "8-byte GGUF magic and version. Copy or download it again."
        )
    version = int.from_bytes(start[4:], "little")
    if version & 0xFFFF == 0:
        raise GGUFFormatError(
            f"{path} is a big-endian GGUF file; mmkeras reads little-endian "
            "ones. Convert it again on a little-endian machine."
        )
    if version not in _VERSIONS:
        raise GGUFFormatError(
            f"{path} is GGUF version {version}; mmkeras reads versions "
            f"{_VERSIONS}. Convert it with a matching llama.cpp."
        )
    try:
        return _Reader(path)
    except _EndOfFile as error:
        raise TruncatedGGUFError(
            f"{path} is truncated: it has {size} bytes, but its header or "
            f"tensor data needs at least {error.end}. Copy or download it "
            "again."
        ) from None
    except (ValueError, KeyError, IndexError, OverflowError) as error:
        raise GGUFFormatError(
            f"{path} has a corrupt GGUF header ({error}). Convert or "
            "download it again."
        ) from None


class _Metadata:
    def __init__(self, path, fields):
        self.path = path
        self.fields = fields

    def get(self, key, kind, default=_REQUIRED):
        field = self.fields.get(key)
        if field is None:
            if default is _REQUIRED:
                raise GGUFMetadataError(
                    f"{self.path} has no metadata key {key!r}, which mmkeras "
                    "needs for a Llama model. Convert the model again with "
                    "llama.cpp's convert_hf_to_gguf.py."
                )
            return default
        expected = _KINDS[kind]
        if len(field.types) != len(expected) or not all(
            value_type in allowed
            for value_type, allowed in zip(field.types, expected, strict=True)
        ):
            types = "/".join(value_type.name for value_type in field.types)
            raise GGUFMetadataError(
                f"{self.path}: metadata key {key!r} must be {kind}, but it "
                f"holds a {types}."
            )
        try:
            return field.contents()
        except UnicodeDecodeError:
            raise GGUFMetadataError(
                f"{self.path}: metadata key {key!r} is not valid UTF-8; the "
                "file is corrupt. Convert or download it again."
            ) from None

    def positive(self, key, kind="an integer", default=_REQUIRED):
        value = self.get(key, kind, default)
        if not value > 0:
            raise GGUFMetadataError(
                f"{self.path}: metadata key {key!r} must be positive. "
                f"Received: {key}={value!r}"
            )
        return value


def _tokenizer(metadata):
    model = metadata.get("tokenizer.ggml.model", "a string")
    if model != "gpt2":
        raise GGUFMetadataError(
            f"{metadata.path} has a {model!r} tokenizer "
            "(tokenizer.ggml.model); mmkeras reads byte-level BPE ('gpt2') "
            "tokenizers only."
        )
    tokens = metadata.get("tokenizer.ggml.tokens", "an array of strings")
    tokenizer = {
        "model": model,
        "pre": metadata.get("tokenizer.ggml.pre", "a string", "default"),
        "tokens": tokens,
        "merges": metadata.get("tokenizer.ggml.merges", "an array of strings"),
        "token_types": metadata.get(
            "tokenizer.ggml.token_type", "an array of integers"
        ),
        "chat_template": metadata.get(
            "tokenizer.chat_template", "a string", None
        ),
    }
    if len(tokenizer["token_types"]) != len(tokens):
        raise GGUFMetadataError(
            f"{metadata.path}: tokenizer.ggml.token_type has "
            f"{len(tokenizer['token_types'])} entries for {len(tokens)} "
            "tokens; they must match."
        )
    for name in ("bos", "eos", "padding", "unknown"):
        key = f"tokenizer.ggml.{name}_token_id"
        required = _REQUIRED if name in ("bos", "eos") else None
        token_id = metadata.get(key, "an integer", required)
        if token_id is None:
            continue
        if not 0 <= token_id < len(tokens):
            raise GGUFMetadataError(
                f"{metadata.path}: metadata key {key!r} is {token_id}, not a "
                f"token id (the vocabulary has {len(tokens)} tokens)."
            )
        tokenizer[f"{name}_token_id"] = token_id
    add_bos = metadata.get("tokenizer.ggml.add_bos_token", "a boolean", None)
    if add_bos is not None:
        tokenizer["add_bos_token"] = add_bos
    return tokenizer


def _config(metadata, vocabulary_size, tensors):
    hidden_dim = metadata.positive("llama.embedding_length")
    num_heads = metadata.positive("llama.attention.head_count")
    # llama.cpp's defaults for the two optional keys.
    num_key_value_heads = metadata.positive(
        "llama.attention.head_count_kv", default=num_heads
    )
    freq_base = metadata.positive("llama.rope.freq_base", "a number", 1e4)
    epsilon = metadata.positive(
        "llama.attention.layer_norm_rms_epsilon", "a number"
    )
    config = {
        "vocabulary_size": vocabulary_size,
        "num_layers": metadata.positive("llama.block_count"),
        "hidden_dim": hidden_dim,
        "num_heads": num_heads,
        "num_key_value_heads": num_key_value_heads,
        "intermediate_dim": metadata.positive("llama.feed_forward_length"),
        # Stored as float32: the shortest decimal that round-trips it is
        # the value written (1e-05, not 9.999999747378752e-06).
        "rope_max_wavelength": float(str(np.float32(freq_base))),
        "rope_layout": "interleaved",
        "layer_norm_epsilon": float(str(np.float32(epsilon))),
        "tie_word_embeddings": "output.weight" not in tensors,
        "max_sequence_length": metadata.positive("llama.context_length"),
    }
    _check_heads(metadata, config)
    return config


def _check_heads(metadata, config):
    path, heads = metadata.path, config["num_heads"]
    if config["hidden_dim"] % heads:
        raise GGUFMetadataError(
            f"{path}: llama.embedding_length ({config['hidden_dim']}) is not "
            f"a multiple of llama.attention.head_count ({heads})."
        )
    if heads % config["num_key_value_heads"]:
        raise GGUFMetadataError(
            f"{path}: llama.attention.head_count ({heads}) is not a multiple "
            "of llama.attention.head_count_kv "
            f"({config['num_key_value_heads']})."
        )
    head_dim = config["hidden_dim"] // heads
    for key in (
        "llama.rope.dimension_count",
        "llama.attention.key_length",
        "llama.attention.value_length",
    ):
        value = metadata.get(key, "an integer", head_dim)
        if value != head_dim:
            raise GGUFMetadataError(
                f"{path}: metadata key {key!r} is {value}, but mmkeras' Llama "
                f"needs the head size {head_dim} (embedding_length / "
                "head_count) there."
            )
    scaling = metadata.get("llama.rope.scaling.type", "a string", "none")
    if scaling != "none":
        raise GGUFMetadataError(
            f"{path}: llama.rope.scaling.type is {scaling!r}; mmkeras' Llama "
            "supports only unscaled RoPE ('none')."
        )


# (Keras key, ggml name suffix, transpose) for each block's tensors.
_BLOCK_TENSORS = (
    ("attention_norm", "attn_norm.weight", False),
    ("query", "attn_q.weight", True),
    ("key", "attn_k.weight", True),
    ("value", "attn_v.weight", True),
    ("attention_output", "attn_output.weight", True),
    ("mlp_norm", "ffn_norm.weight", False),
    ("gate", "ffn_gate.weight", True),
    ("up", "ffn_up.weight", True),
    ("down", "ffn_down.weight", True),
)


def _global_tensors(config):
    tensors = [
        ("token_embedding", "token_embd.weight", False),
        ("final_norm", "output_norm.weight", False),
    ]
    if not config["tie_word_embeddings"]:
        tensors.append(("output", "output.weight", True))
    return tensors


def _expected_dims(config):
    """`{ggml name: dims}`, in ggml order (fastest first)."""
    hidden, vocab = config["hidden_dim"], config["vocabulary_size"]
    head_dim = hidden // config["num_heads"]
    kv_width = config["num_key_value_heads"] * head_dim
    inner = config["intermediate_dim"]
    block = {
        "attn_norm.weight": (hidden,),
        "attn_q.weight": (hidden, hidden),
        "attn_k.weight": (hidden, kv_width),
        "attn_v.weight": (hidden, kv_width),
        "attn_output.weight": (hidden, hidden),
        "ffn_norm.weight": (hidden,),
        "ffn_gate.weight": (hidden, inner),
        "ffn_up.weight": (hidden, inner),
        "ffn_down.weight": (inner, hidden),
    }
    dims = {
        "token_embd.weight": (hidden, vocab),
        "output_norm.weight": (hidden,),
    }
    if not config["tie_word_embeddings"]:
        dims["output.weight"] = (hidden, vocab)
    for index in range(config["num_layers"]):
        dims.update({f"blk.{index}.{k}": v for k, v in block.items()})
    return dims


def _check_tensors(path, config, tensors):
    expected = _expected_dims(config)
    missing = [name for name in expected if name not in tensors]
    unexpected = [name for name in tensors if name not in expected]
    if missing or unexpected:
        raise GGUFTensorError(
            f"{path} does not hold the tensors of a {config['num_layers']}-"
            f"block Llama: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]} ({len(missing)} and {len(unexpected)} in "
            "all). mmkeras' Llama has no biases, rope_freqs or experts."
        )
    for name, dims in expected.items():
        tensor = tensors[name]
        if tuple(tensor.shape.tolist()) != dims:
            raise GGUFTensorError(
                f"{path}: tensor {name!r} has dims "
                f"{tuple(tensor.shape.tolist())} (ggml order), but the "
                f"metadata's config needs {dims}."
            )
        if tensor.tensor_type.name not in SUPPORTED_TYPES:
            raise UnsupportedTensorTypeError(
                f"{path}: tensor {name!r} is stored as "
                f"{tensor.tensor_type.name}, which mmkeras cannot "
                f"dequantize; supported types: {', '.join(SUPPORTED_TYPES)}."
                " Re-quantize the model to one of them."
            )
