import keras
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.models.causal_lm import CausalLMBackbone

CONFIG = dict(
    vocabulary_size=40,
    num_layers=2,
    hidden_dim=24,
    num_heads=4,
    num_key_value_heads=2,
    intermediate_dim=40,
    rope_max_wavelength=500.0,
    rope_layout="interleaved",
    layer_norm_epsilon=1e-5,
    tie_word_embeddings=True,
    max_sequence_length=16,
)


def _random_weights(seed, tied=True, config=CONFIG):
    """A canonical Llama weight dict with random values."""
    rng = np.random.default_rng(seed)
    hidden, vocab = config["hidden_dim"], config["vocabulary_size"]
    head_dim = hidden // config["num_heads"]
    kv = config["num_key_value_heads"] * head_dim
    inner = config["intermediate_dim"]

    def normal(*shape, scale=0.3):
        return (scale * rng.standard_normal(shape)).astype("float32")

    weights = {
        "token_embedding": normal(vocab, hidden),
        "final_norm": 1.0 + normal(hidden, scale=0.1),
        "layers": [
            {
                "attention_norm": 1.0 + normal(hidden, scale=0.1),
                "query": normal(hidden, hidden),
                "key": normal(hidden, kv),
                "value": normal(hidden, kv),
                "attention_output": normal(hidden, hidden),
                "mlp_norm": 1.0 + normal(hidden, scale=0.1),
                "gate": normal(hidden, inner),
                "up": normal(hidden, inner),
                "down": normal(inner, hidden),
            }
            for _ in range(config["num_layers"])
        ],
    }
    if not tied:
        weights["output"] = normal(hidden, vocab)
    return weights


def _numpy_llama(weights, token_ids, config=CONFIG):
    """An independent Llama forward pass in float64 numpy, one sequence at
    a time without padding: RMSNorm, RoPE on interleaved pairs, grouped-
    query causal attention (query head h reads key/value head h // group),
    SwiGLU, tied or separate output."""
    heads, kv_heads = config["num_heads"], config["num_key_value_heads"]
    eps, base = config["layer_norm_epsilon"], config["rope_max_wavelength"]
    w = {k: np.float64(v) for k, v in weights.items() if k != "layers"}
    x = w["token_embedding"][token_ids]
    length, hidden = x.shape
    head_dim = hidden // heads

    def rms_norm(x, scale):
        return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * scale

    def rope(t):  # (length, heads, head_dim), pairs (2i, 2i + 1)
        out = t.copy()
        for i in range(head_dim // 2):
            angle = np.arange(length)[:, None] * base ** (-2 * i / head_dim)
            a, b = t[..., 2 * i], t[..., 2 * i + 1]
            out[..., 2 * i] = a * np.cos(angle) - b * np.sin(angle)
            out[..., 2 * i + 1] = b * np.cos(angle) + a * np.sin(angle)
        return out

    for layer in weights["layers"]:
        layer = {k: np.float64(v) for k, v in layer.items()}
        h = rms_norm(x, layer["attention_norm"])
        q = rope((h @ layer["query"]).reshape(length, heads, head_dim))
        k = rope((h @ layer["key"]).reshape(length, kv_heads, head_dim))
        v = (h @ layer["value"]).reshape(length, kv_heads, head_dim)
        attended = np.empty((length, heads, head_dim))
        for head in range(heads):
            kv = head // (heads // kv_heads)
            scores = q[:, head] @ k[:, kv].T / np.sqrt(head_dim)
            scores[np.triu_indices(length, 1)] = -np.inf
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            attended[:, head] = probs @ v[:, kv]
        x = x + attended.reshape(length, -1) @ layer["attention_output"]
        h = rms_norm(x, layer["mlp_norm"])
        gate = h @ layer["gate"]
        x = x + (gate / (1 + np.exp(-gate)) * (h @ layer["up"])) @ layer["down"]
    x = rms_norm(x, w["final_norm"])
    return x @ (w["output"] if "output" in w else w["token_embedding"].T)


def _backbone(weights=None, **overrides):
    backbone = CausalLMBackbone(**{**CONFIG, **overrides})
    backbone.load_llama_weights(
        weights
        or _random_weights(0, overrides.get("tie_word_embeddings", True))
    )
    return backbone


def _logits(backbone, token_ids, padding_mask):
    hidden = backbone({"token_ids": token_ids, "padding_mask": padding_mask})
    return backbone.token_logits(hidden).numpy()


TOKENS = np.array([[3, 17, 8, 29, 4, 11, 36]], "int32")


@pytest.mark.parametrize(
    "layout, tied", [("interleaved", True), ("half", False)]
)
def test_logits_match_a_numpy_llama(layout, tied):
    weights = _random_weights(1, tied)
    backbone = _backbone(weights, rope_layout=layout, tie_word_embeddings=tied)
    logits = _logits(backbone, TOKENS, np.ones(TOKENS.shape, bool))
    assert logits.dtype == np.float32 and logits.shape == (1, 7, 40)
    expected = _numpy_llama(weights, TOKENS[0])
    np.testing.assert_allclose(logits[0], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_llama_weights_round_trip(layout):
    weights = _random_weights(2, tied=False)
    backbone = _backbone(weights, rope_layout=layout, tie_word_embeddings=False)
    returned = backbone.llama_weights()
    assert sorted(returned) == sorted(weights)
    for key in ("token_embedding", "final_norm", "output"):
        np.testing.assert_array_equal(returned[key], weights[key])
    for got, given in zip(returned["layers"], weights["layers"], strict=True):
        assert sorted(got) == sorted(given)
        for key in given:
            assert got[key].dtype == np.float32
            np.testing.assert_array_equal(got[key], given[key])


def test_the_half_layout_stores_permuted_query_columns():
    """A half-layout backbone holds HF's columns: GGUF's pair (2i, 2i + 1)
    of a head lands at (i, i + head_dim / 2)."""
    weights = _random_weights(3)
    backbone = _backbone(weights, rope_layout="half")
    kernel = backbone.blocks[0].self_attention.query_dense.kernel.numpy()
    query = weights["layers"][0]["query"].reshape(24, 4, 6)
    np.testing.assert_array_equal(kernel[:, :, :3], query[:, :, 0::2])
    np.testing.assert_array_equal(kernel[:, :, 3:], query[:, :, 1::2])


@pytest.fixture(scope="module")
def backbone():
    return _backbone(xla=False)


def _cached_logits(backbone, token_ids, padding_mask, prefill, max_length):
    """Prefill `prefill` tokens, then decode the rest one at a time."""
    batch, length = token_ids.shape
    cache_mask = np.ones((batch, max_length), bool)
    cache_mask[:, :length] = padding_mask
    cache = backbone.empty_cache(batch, max_length)
    logits, hidden, cache = backbone.call_with_cache(
        token_ids[:, :prefill], cache, 0, cache_mask
    )
    assert hidden.shape == (batch, prefill, 24)
    steps = [logits]
    for index in range(prefill, length):
        logits, _, cache = backbone.call_with_cache(
            token_ids[:, index : index + 1], cache, index, cache_mask
        )
        steps.append(logits)
    return np.concatenate(steps, 1)


def test_prefill_and_decoding_equal_the_full_pass(backbone):
    tokens = np.array([[5, 9, 2, 33, 7, 1], [0, 0, 0, 14, 22, 6]], "int32")
    mask = tokens != 0  # the second row is left-padded
    full = _logits(backbone, tokens, mask)
    cached = _cached_logits(backbone, tokens, mask, prefill=4, max_length=8)
    assert cached.dtype == np.float32
    np.testing.assert_allclose(cached[mask], full[mask], atol=1e-5)
    # The left-padded row equals its prompt run alone, unpadded.
    alone = _logits(backbone, tokens[1:, 3:], np.ones((1, 3), bool))
    np.testing.assert_allclose(full[1, 3:], alone[0], atol=1e-5)
    np.testing.assert_allclose(cached[1, 3:], alone[0], atol=1e-5)


def test_xla_blocks_decode_the_same_in_a_function(backbone):
    compiled = _backbone(xla=True)
    tokens = np.array([[5, 9, 2, 33], [0, 14, 22, 6]], "int32")
    mask = tokens != 0
    cache_mask = np.concatenate([mask, np.ones((2, 1), bool)], 1)

    def step(model):
        @tf.function
        def run(cache):
            logits, _, cache = model.call_with_cache(
                tokens[:, :3], cache, 0, cache_mask
            )
            step_logits, _, cache = model.call_with_cache(
                tokens[:, 3:], cache, tf.constant(3), cache_mask
            )
            return tf.concat([logits, step_logits], 1), cache

        return run(model.empty_cache(2, 5))

    (expected, expected_cache), (actual, cache) = step(backbone), step(compiled)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(cache, expected_cache, atol=1e-5)
    assert cache.shape == (2, 2, 2, 5, 2, 6)


def test_under_mixed_bfloat16(backbone):
    mixed = _backbone(dtype="mixed_bfloat16")
    mask = np.ones(TOKENS.shape, bool)
    hidden = mixed({"token_ids": TOKENS, "padding_mask": mask})
    assert hidden.dtype == "bfloat16"
    logits = mixed.token_logits(hidden)
    assert logits.dtype == "float32"
    assert mixed.empty_cache(1, 4).dtype == "bfloat16"
    expected = _logits(backbone, TOKENS, mask)
    # Logits are float32 from the float32 embeddings; the error is the
    # bfloat16 activations'.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(logits, expected, atol=0.05 * scale)
    # Tied logits use the float32 weights (a bfloat16 copy would round the
    # product of float32 hidden states by 3 digits).
    exact = mixed.token_logits(tf.cast(hidden, "float32"))
    np.testing.assert_allclose(
        exact,
        np.asarray(hidden, "float32")
        @ mixed.token_embedding.embeddings.numpy().T,
        rtol=1e-5,
        atol=1e-5,
    )


def test_saves_and_loads(tmp_path, backbone):
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == backbone.get_config()
    mask = np.ones(TOKENS.shape, bool)
    np.testing.assert_array_equal(
        _logits(loaded, TOKENS, mask), _logits(backbone, TOKENS, mask)
    )
    clone = CausalLMBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    assert {k for k in backbone.get_config()} >= set(CONFIG)


def test_shape_mismatch_names_the_key_and_both_shapes():
    backbone = CausalLMBackbone(**CONFIG)
    before = backbone.get_weights()
    weights = _random_weights(4)
    weights["layers"][1]["key"] = np.zeros((24, 24), "float32")
    with pytest.raises(
        ValueError,
        match=r"Llama weight layers\[1\]\.key has shape \(24, 24\), but this "
        r"backbone expects \(24, 12\)",
    ):
        backbone.load_llama_weights(weights)
    # Nothing was assigned.
    for after, previous in zip(backbone.get_weights(), before, strict=True):
        np.testing.assert_array_equal(after, previous)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda w: w.update(output=np.zeros((24, 40))),
            "unexpected \\['output'\\]. An 'output' matrix means untied "
            "embeddings: build the backbone with tie_word_embeddings=False",
        ),
        (lambda w: w.pop("final_norm"), "missing \\['final_norm'\\]"),
        (lambda w: w["layers"].pop(), "list of 2 dicts.*length 1"),
        (
            lambda w: w["layers"][0].pop("gate"),
            "weights\\['layers'\\]\\[0\\] must have the keys.*; missing "
            "\\['gate'\\]",
        ),
    ],
)
def test_bad_weight_dicts_are_explained(change, message):
    weights = _random_weights(5)
    change(weights)
    with pytest.raises(ValueError, match=message):
        CausalLMBackbone(**CONFIG).load_llama_weights(weights)


def test_bad_inputs_and_arguments(backbone):
    with pytest.raises(ValueError, match="keys 'token_ids'.*Received: dict"):
        backbone({"token_ids": TOKENS})
    with pytest.raises(
        ValueError, match="vocabulary_size=40\\). Received: token id 40"
    ):
        backbone({"token_ids": TOKENS + 4, "padding_mask": TOKENS > 0})
    with pytest.raises(ValueError, match="at least one token per row"):
        backbone.call_with_cache(
            TOKENS[:, :0], backbone.empty_cache(1, 4), 0, np.ones((1, 4), bool)
        )
    with pytest.raises(ValueError, match="17 tokens, more than max_sequence"):
        backbone(
            {
                "token_ids": np.zeros((1, 17), "int32"),
                "padding_mask": np.ones((1, 17), bool),
            }
        )
    with pytest.raises(ValueError, match="max_length=17"):
        backbone.empty_cache(1, 17)
    cache, mask = backbone.empty_cache(1, 4), np.ones((1, 4), bool)
    with pytest.raises(
        ValueError, match=r"2 token\(s\) at cache_update_index=3 do"
    ):
        backbone.call_with_cache(TOKENS[:, :2], cache, 3, mask)
    with pytest.raises(ValueError, match="must cover the whole cache: 4 slots"):
        backbone.call_with_cache(TOKENS[:, :1], cache, 0, mask[:, :3])
    with pytest.raises(ValueError, match="num_key_value_heads must divide"):
        CausalLMBackbone(**{**CONFIG, "num_key_value_heads": 3})
    with pytest.raises(ValueError, match="hidden_dim must be divisible"):
        CausalLMBackbone(**{**CONFIG, "num_heads": 5})
