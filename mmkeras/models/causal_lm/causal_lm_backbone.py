import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.layers import DecoderOnlyBlock
from mmkeras.layers import RMSNormalization
from mmkeras.layers.attention import _core
from mmkeras.layers.attention.rotary_embedding import LAYOUTS

_LAYER_KEYS = (
    "attention_norm",
    "query",
    "key",
    "value",
    "attention_output",
    "mlp_norm",
    "gate",
    "up",
    "down",
)


@keras.saving.register_keras_serializable(package="mmkeras")
class CausalLMBackbone(keras.Model):
    """A Llama-architecture decoder-only language model (Llama 2/3,
    SmolLM2): token embedding, `num_layers` `DecoderOnlyBlock`s (RMSNorm,
    grouped-query attention with rotary positions, SwiGLU) and a final
    RMSNorm.

    `call({"token_ids", "padding_mask"})` returns the final hidden states
    `(batch, length, hidden_dim)`; `token_logits` turns them into float32
    logits (with tied embeddings, `hidden @ token_embedding.T`). Token
    positions count the real tokens, `cumsum(padding_mask) - 1`, so a
    left-padded prompt starts at position 0 and gives the same outputs as
    the prompt alone. `call_with_cache` runs a prefill or a decoding step
    over a cache from `empty_cache`. `load_llama_weights` and
    `llama_weights` read and write the canonical Llama weight dict (see
    `load_llama_weights`), the one the GGUF converter produces.

    Args:
        vocabulary_size: number of token ids.
        num_layers: number of blocks.
        hidden_dim: width of the hidden states.
        num_heads: query heads per block; must divide `hidden_dim`.
        num_key_value_heads: key/value heads per block; must divide
            `num_heads`.
        intermediate_dim: width of the SwiGLU MLPs.
        rope_max_wavelength: base of the rotary embedding.
        rope_layout: `"interleaved"` (GGUF) or `"half"` (Hugging Face): how
            the query and key projections pair the rotated dimensions.
        layer_norm_epsilon: epsilon of the RMS normalizations.
        tie_word_embeddings: compute the logits with the token embedding
            (transposed) rather than a separate output matrix.
        max_sequence_length: the longest sequence (and cache) accepted.
        dropout: dropout rate in the blocks.
        xla: run each block as one XLA computation: `True`, `False` or
            `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> backbone = mmkeras.models.causal_lm.CausalLMBackbone(
    ...     vocabulary_size=100, num_layers=2, hidden_dim=32, num_heads=4,
    ...     num_key_value_heads=2, intermediate_dim=64,
    ... )
    >>> hidden = backbone({
    ...     "token_ids": np.array([[0, 5, 6]], "int32"),
    ...     "padding_mask": np.array([[False, True, True]]),
    ... })
    >>> backbone.token_logits(hidden).shape
    TensorShape([1, 3, 100])
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        hidden_dim,
        num_heads,
        num_key_value_heads,
        intermediate_dim,
        rope_max_wavelength=10000.0,
        rope_layout="interleaved",
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        max_sequence_length=2048,
        dropout=0.0,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("num_layers", num_layers),
            ("hidden_dim", hidden_dim),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
            ("max_sequence_length", max_sequence_length),
        ):
            _checks.positive_int(name, value)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.positive_int("num_key_value_heads", num_key_value_heads)
        _checks.one_of("rope_layout", rope_layout, LAYOUTS)
        _checks.one_of(
            "tie_word_embeddings", tie_word_embeddings, (True, False)
        )
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.num_key_value_heads = num_key_value_heads
        self.intermediate_dim = intermediate_dim
        self.rope_max_wavelength = rope_max_wavelength
        self.rope_layout = rope_layout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.tie_word_embeddings = tie_word_embeddings
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.xla = _core.check_xla(xla)
        self.head_dim = hidden_dim // num_heads
        self.token_embedding = _TokenEmbedding(
            vocabulary_size,
            hidden_dim,
            tie_weights=tie_word_embeddings,
            lookup_dtype=self.compute_dtype,
            # Computes in the weights' dtype: the logits use them unrounded.
            dtype=self.dtype_policy.variable_dtype,
            name="token_embedding",
        )
        # The blocks check the head grouping and the rotary arguments.
        self.blocks = [
            DecoderOnlyBlock(
                num_heads,
                intermediate_dim,
                num_key_value_heads=num_key_value_heads,
                rope_max_wavelength=rope_max_wavelength,
                rope_layout=rope_layout,
                layer_norm_epsilon=layer_norm_epsilon,
                dropout=dropout,
                xla=xla,
                dtype=self.dtype_policy,
                name=f"block_{index}",
            )
            for index in range(num_layers)
        ]
        self.final_norm = RMSNormalization(
            layer_norm_epsilon, dtype=self.dtype_policy, name="final_norm"
        )
        self.build()

    def build(self, inputs_shape=None):
        # Every shape follows from the config: the weights exist (and can be
        # loaded) before the first call.
        self.token_embedding.build((None, None))
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask = _unpack(inputs)
        length = token_ids.shape[1]
        if length is not None and length > self.max_sequence_length:
            raise ValueError(
                f"token_ids has {length} tokens, more than "
                f"max_sequence_length={self.max_sequence_length}. Truncate "
                "the input or build the backbone with a larger "
                "max_sequence_length."
            )
        self._check_ids(token_ids)
        x = self.token_embedding(token_ids)
        positions = _positions(padding_mask)
        for block in self.blocks:
            x = block(
                x,
                padding_mask=padding_mask,
                positions=positions,
                training=training,
            )
        return self.final_norm(x)

    def _check_ids(self, token_ids):
        """Out-of-range ids, named (eagerly; graphs skip the check)."""
        if not tf.executing_eagerly() or not ops.size(token_ids):
            return
        low, high = int(ops.min(token_ids)), int(ops.max(token_ids))
        if low < 0 or high >= self.vocabulary_size:
            bad = low if low < 0 else high
            raise ValueError(
                f"token_ids must be in [0, vocabulary_size="
                f"{self.vocabulary_size}). Received: token id {bad}"
            )

    def token_logits(self, hidden):
        """Float32 logits `(batch, length, vocabulary_size)` of hidden
        states from `call` or `call_with_cache`."""
        return self.token_embedding(hidden, reverse=True)

    def empty_cache(self, batch_size, max_length):
        """A zero cache `(batch_size, num_layers, 2, max_length,
        num_key_value_heads, head_dim)` in the compute dtype: keys and
        values of every block."""
        _checks.positive_int("max_length", max_length)
        if max_length > self.max_sequence_length:
            raise ValueError(
                f"max_length must be at most max_sequence_length="
                f"{self.max_sequence_length}. Received: "
                f"max_length={max_length}"
            )
        shape = (
            batch_size,
            self.num_layers,
            2,
            max_length,
            self.num_key_value_heads,
            self.head_dim,
        )
        return ops.zeros(shape, self.compute_dtype)

    def call_with_cache(
        self, token_ids, cache, cache_update_index, padding_mask
    ):
        """Runs `token_ids` `(batch, n)` as cache slots `cache_update_index`
        to `cache_update_index + n - 1`: a prefill (`n` the prompt length,
        index 0) or a decoding step (`n = 1`).

        Each block writes its keys and values at those slots and attends
        causally over the cache, to the slots `padding_mask` `(batch,
        max_length)` marks real (it covers the whole cache: left padding
        of the prompt, then the generated tokens). Positions are
        `cumsum(padding_mask) - 1` at those slots.

        Returns:
            `(logits, hidden, cache)`: float32 logits `(batch, n,
            vocabulary_size)`, the final hidden states `(batch, n,
            hidden_dim)` and the updated cache.
        """
        padding_mask = ops.cast(padding_mask, "bool")
        _check_slots(token_ids, cache, cache_update_index, padding_mask)
        cache_update_index = ops.convert_to_tensor(cache_update_index, "int32")
        shape = ops.shape(token_ids)
        positions = ops.slice(
            _positions(padding_mask),
            (0, cache_update_index),
            (shape[0], shape[1]),
        )
        self._check_ids(token_ids)
        x = self.token_embedding(token_ids)
        caches = []
        for index, block in enumerate(self.blocks):
            x, block_cache = block(
                x,
                padding_mask=padding_mask,
                positions=positions,
                cache=cache[:, index],
                cache_update_index=cache_update_index,
            )
            caches.append(block_cache)
        hidden = self.final_norm(x)
        logits = self.token_logits(hidden)
        return logits, hidden, ops.stack(caches, axis=1)

    def load_llama_weights(self, weights):
        """Assigns the canonical Llama weight dict.

        `weights` holds float arrays in Keras orientation (inputs first):
        `token_embedding` `(vocabulary_size, hidden_dim)`, `final_norm`
        `(hidden_dim,)`, `output` `(hidden_dim, vocabulary_size)` only
        when the embeddings are not tied, and `layers`, one dict per block
        with `attention_norm`, `query`, `key`, `value`, `attention_output`,
        `mlp_norm`, `gate`, `up` and `down`. The query and key columns
        pair the rotated dimensions `(2i, 2i + 1)` of each head, as GGUF
        stores them; a `"half"` backbone permutes them to its own layout.
        Every key and shape is checked before anything is assigned.
        """
        entries = self._llama_entries()
        values = _flatten_llama(weights, entries, self.num_layers)
        arrays = []
        for name, _, shape, _ in entries:
            value = np.asarray(values[name], "float32")
            if value.shape != shape:
                raise ValueError(
                    f"Llama weight {name} has shape {value.shape}, but this "
                    f"backbone expects {shape}. Check that the weights and "
                    "the backbone's config (vocabulary_size, hidden_dim, "
                    "num_heads, num_key_value_heads, intermediate_dim) "
                    "describe the same model."
                )
            arrays.append(value)
        for (_, variable, _, rotated), value in zip(
            entries, arrays, strict=True
        ):
            if rotated:
                value = value[:, self._half_columns(value.shape[1])]
            variable.assign(value.reshape(variable.shape))

    def llama_weights(self):
        """The weights as the canonical dict `load_llama_weights` takes
        (float32 numpy arrays)."""
        weights = {"layers": [{} for _ in self.blocks]}
        for name, variable, shape, rotated in self._llama_entries():
            value = ops.convert_to_numpy(variable.value).reshape(shape)
            if rotated:
                value = value[:, np.argsort(self._half_columns(shape[1]))]
            if name.startswith("layers["):
                index, key = name[len("layers[") :].split("].")
                weights["layers"][int(index)][key] = value
            else:
                weights[name] = value
        return weights

    def _llama_entries(self):
        """`(name, variable, canonical shape, rotated)` per weight; rotated
        weights are the query and key kernels of a `"half"` backbone."""
        hidden, vocabulary = self.hidden_dim, self.vocabulary_size
        heads_width = self.num_heads * self.head_dim
        kv_width = self.num_key_value_heads * self.head_dim
        embedding = self.token_embedding
        entries = [
            ("token_embedding", embedding.embeddings, (vocabulary, hidden)),
            ("final_norm", self.final_norm.scale, (hidden,)),
        ]
        if not self.tie_word_embeddings:
            entries.append(
                ("output", embedding.reverse_embeddings, (hidden, vocabulary))
            )
        entries = [(*entry, False) for entry in entries]
        half = self.rope_layout == "half"
        for index, block in enumerate(self.blocks):
            attention, mlp = block.self_attention, block.feed_forward
            for key, variable, shape, rotated in (
                (
                    "attention_norm",
                    block.self_attention_norm.scale,
                    (hidden,),
                    False,
                ),
                (
                    "query",
                    attention.query_dense.kernel,
                    (hidden, heads_width),
                    half,
                ),
                ("key", attention.key_dense.kernel, (hidden, kv_width), half),
                (
                    "value",
                    attention.value_dense.kernel,
                    (hidden, kv_width),
                    False,
                ),
                (
                    "attention_output",
                    attention.output_dense.kernel,
                    (heads_width, hidden),
                    False,
                ),
                ("mlp_norm", block.feed_forward_norm.scale, (hidden,), False),
                (
                    "gate",
                    mlp.gate_dense.kernel,
                    (hidden, self.intermediate_dim),
                    False,
                ),
                (
                    "up",
                    mlp.hidden_dense.kernel,
                    (hidden, self.intermediate_dim),
                    False,
                ),
                (
                    "down",
                    mlp.output_dense.kernel,
                    (self.intermediate_dim, hidden),
                    False,
                ),
            ):
                entries.append(
                    (f"layers[{index}].{key}", variable, shape, rotated)
                )
        return entries

    def _half_columns(self, width):
        """Interleaved-layout columns in half-layout order, per head: the
        half layout's column `i` is the interleaved `2i`, its `i + d / 2`
        the interleaved `2i + 1`."""
        return _interleaved_to_half(width, self.head_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "num_key_value_heads": self.num_key_value_heads,
                "intermediate_dim": self.intermediate_dim,
                "rope_max_wavelength": self.rope_max_wavelength,
                "rope_layout": self.rope_layout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "tie_word_embeddings": self.tie_word_embeddings,
                "max_sequence_length": self.max_sequence_length,
                "dropout": self.dropout,
                "xla": self.xla,
            }
        )
        return config


class _TokenEmbedding(keras.layers.Embedding):
    """The token embedding, and with `reverse=True` the float32 logits of
    hidden states: `hidden @ embeddings.T` when tied, else `hidden @
    reverse_embeddings`. Its dtype policy is the weights' dtype, so that
    under mixed precision the logits use the float32 weights (autocasting
    would round them to 16 bits); the lookup returns `lookup_dtype`."""

    def __init__(
        self, input_dim, output_dim, tie_weights, lookup_dtype, **kwargs
    ):
        super().__init__(input_dim, output_dim, **kwargs)
        self.tie_weights = tie_weights
        self.lookup_dtype = lookup_dtype

    def build(self, inputs_shape=None):
        super().build(inputs_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings",
                shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_initializer,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            return ops.cast(super().call(inputs), self.lookup_dtype)
        shape = ops.shape(inputs)
        hidden = tf.reshape(tf.cast(inputs, tf.float32), (-1, self.output_dim))
        # transpose_b: a transposed copy of the embeddings every decoding
        # step would cost more than the matmul.
        if self.tie_weights:
            logits = tf.matmul(hidden, self.embeddings, transpose_b=True)
        else:
            logits = tf.matmul(hidden, self.reverse_embeddings)
        return tf.reshape(logits, (shape[0], shape[1], self.input_dim))

    def compute_output_shape(self, inputs_shape, reverse=False):
        if reverse:
            return (*inputs_shape[:-1], self.input_dim)
        return super().compute_output_shape(inputs_shape)


def _unpack(inputs):
    if not isinstance(inputs, dict) or set(inputs) != {
        "token_ids",
        "padding_mask",
    }:
        received = type(inputs).__name__
        if isinstance(inputs, dict):
            received += f" with keys {sorted(inputs)}"
        raise ValueError(
            "CausalLMBackbone takes a dict with keys 'token_ids' (batch, "
            "length) int and 'padding_mask' (batch, length) bool. Received: "
            f"{received}"
        )
    token_ids = ops.convert_to_tensor(inputs["token_ids"])
    padding_mask = ops.cast(inputs["padding_mask"], "bool")
    _checks.rank("token_ids", token_ids.shape, 2)
    _checks.rank("padding_mask", padding_mask.shape, 2)
    return token_ids, padding_mask


def _check_slots(token_ids, cache, index, padding_mask):
    """The token ids fit the cache at `index` (when the shapes are known
    and `index` is a Python int), and the mask covers the cache."""
    _checks.rank("token_ids", token_ids.shape, 2)
    _checks.rank("padding_mask", padding_mask.shape, 2)
    slots = cache.shape[3]
    if None not in (slots, padding_mask.shape[1]) and (
        padding_mask.shape[1] != slots
    ):
        raise ValueError(
            f"padding_mask must cover the whole cache: {slots} slots. "
            f"Received: padding_mask with shape {tuple(padding_mask.shape)}"
        )
    count = token_ids.shape[1]
    if count == 0:
        raise ValueError(
            "token_ids must hold at least one token per row. Received: "
            f"token_ids with shape {tuple(token_ids.shape)}"
        )
    static = int(index) if isinstance(index, (int, np.integer)) else None
    if None not in (slots, count, static) and static + count > slots:
        raise ValueError(
            f"{count} token(s) at cache_update_index={int(static)} do not "
            f"fit a cache of {slots} slots. Build the cache with "
            "empty_cache(batch_size, max_length) for a longer max_length."
        )


def _positions(padding_mask):
    """Rotary positions that count the real tokens: `cumsum(mask) - 1`,
    at least 0 (left padding sits at 0 and is masked anyway)."""
    counts = ops.cumsum(ops.cast(padding_mask, "int32"), axis=1)
    return ops.maximum(counts - 1, 0)


def _interleaved_to_half(width, head_dim):
    """Column indices that reorder each head's interleaved pairs `(2i,
    2i + 1)` into halves `(i, i + head_dim / 2)`."""
    head = np.concatenate(
        [np.arange(0, head_dim, 2), np.arange(1, head_dim, 2)]
    )
    starts = np.arange(0, width, head_dim)[:, None]
    return (starts + head[None, :]).reshape(-1)


def _flatten_llama(weights, entries, num_layers):
    """`{name: array}` with the entries' names (`layers[3].query`), after
    checking `weights` has exactly the keys the entries name."""
    names = [name for name, *_ in entries]
    top = [n for n in names if not n.startswith("layers[")] + ["layers"]
    _check_keys("weights", weights, top)
    layers = weights["layers"]
    if not isinstance(layers, (list, tuple)) or len(layers) != num_layers:
        count = len(layers) if isinstance(layers, (list, tuple)) else None
        raise ValueError(
            f"weights['layers'] must be a list of {num_layers} dicts, one "
            f"per block (num_layers={num_layers}). Received: "
            f"{type(layers).__name__} of length {count}"
        )
    flat = {n: weights[n] for n in top if n != "layers"}
    for index, layer in enumerate(layers):
        _check_keys(f"weights['layers'][{index}]", layer, _LAYER_KEYS)
        for key in _LAYER_KEYS:
            flat[f"layers[{index}].{key}"] = layer[key]
    return flat


def _check_keys(where, weights, expected):
    if not isinstance(weights, dict):
        raise ValueError(
            f"{where} must be a dict of Llama weights. Received: "
            f"{type(weights).__name__}"
        )
    missing = [k for k in expected if k not in weights]
    unexpected = sorted(set(weights) - set(expected))
    if not missing and not unexpected:
        return
    problems = []
    if missing:
        problems.append(f"missing {missing}")
    if unexpected:
        problems.append(f"unexpected {unexpected}")
    hint = ""
    if "output" in missing:
        hint = " tie_word_embeddings=False needs an 'output' matrix."
    elif "output" in unexpected:
        hint = (
            " An 'output' matrix means untied embeddings: build the "
            "backbone with tie_word_embeddings=False."
        )
    raise ValueError(
        f"{where} must have the keys {sorted(expected)}; "
        f"{' and '.join(problems)}.{hint}"
    )
