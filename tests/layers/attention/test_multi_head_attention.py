import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers import MultiHeadAttention
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(1)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def _pair(value_features=24):
    """Two attention layers, XLA and plain, sharing weights."""
    xla = MultiHeadAttention(num_heads=4, key_dim=8, xla=True)
    plain = MultiHeadAttention(num_heads=4, key_dim=8, xla=False)
    query, value = _floats(3, 7, 32), _floats(3, 11, value_features)
    xla(query, value)
    plain(query, value)
    plain.set_weights(xla.get_weights())
    return xla, plain, query, value


def test_basics():
    run_layer_test(MultiHeadAttention, **CASES["MultiHeadAttention"])


@pytest.mark.parametrize("masked", [False, True])
def test_xla_and_plain_paths_agree(masked):
    xla, plain, query, value = _pair()
    kwargs = {}
    if masked:
        kwargs = dict(
            value_mask=np.arange(11)[None] < np.array([[11], [6], [1]]),
            attention_mask=rng.random((3, 7, 11)) > 0.3,
        )
    expected, expected_scores = plain(
        query, value, return_attention_scores=True, **kwargs
    )
    # In a graph: eager calls take the plain core.
    actual, scores = tf.function(
        lambda: xla(query, value, return_attention_scores=True, **kwargs)
    )()
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_xla_and_plain_paths_agree_on_causal_self_attention():
    xla, plain, query, _ = _pair(value_features=32)
    np.testing.assert_allclose(
        tf.function(lambda: xla(query, query, use_causal_mask=True))(),
        plain(query, query, use_causal_mask=True),
        atol=1e-5,
    )


def test_matches_numpy_reference():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False)
    query, value = _floats(1, 3, 6), _floats(1, 5, 6)
    mask = np.array([[True, True, False, True, False]])
    actual = layer(query, value, value_mask=mask)
    wq, wk, wv, wo = (w.numpy() for w in layer.weights)
    q = np.einsum("btc,chd->bthd", query, wq) / 2.0
    k = np.einsum("btc,chd->bthd", value, wk)
    v = np.einsum("btc,chd->bthd", value, wv)
    scores = np.einsum("bqhd,bkhd->bhqk", q, k)
    scores = np.where(mask[:, None, None, :], scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = np.einsum(
        "bqhd,hde->bqe", np.einsum("bhqk,bkhd->bqhd", probs, v), wo
    )
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_padded_keys_never_change_real_outputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    query, value = _floats(2, 4, 16), _floats(2, 6, 16)
    mask = np.arange(6)[None] < np.array([[6], [3]])
    before = layer(query, value, value_mask=mask).numpy()
    noisy = np.where(mask[..., None], value, 100.0 * _floats(2, 6, 16))
    after = layer(query, noisy, value_mask=mask).numpy()
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_causal_mask_hides_the_future():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    tokens = _floats(1, 6, 16)
    before = layer(tokens, tokens, use_causal_mask=True).numpy()
    changed = tokens.copy()
    changed[:, 4:] = _floats(1, 2, 16)
    after = layer(changed, changed, use_causal_mask=True).numpy()
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-6)
    assert not np.allclose(after[:, 4:], before[:, 4:])


@pytest.mark.parametrize("xla", [True, False])
def test_cached_decoding_equals_full_causal_pass(xla):
    layer = MultiHeadAttention(num_heads=2, key_dim=8, xla=xla)
    tokens = _floats(2, 6, 16)
    full = layer(tokens, tokens, use_causal_mask=True).numpy()
    cache = layer.empty_cache(batch_size=2, max_length=8)
    steps = []
    for index in range(6):
        step = tokens[:, index : index + 1]
        output, cache = layer(step, step, cache=cache, cache_update_index=index)
        steps.append(output.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


def test_precomputed_cross_attention_cache_equals_direct_call():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    query, value = _floats(2, 3, 16), _floats(2, 5, 12)
    direct = layer(query, value).numpy()
    cache = layer.compute_kv_cache(value)
    assert tuple(cache.shape) == (2, 2, 5, 2, 8)
    cached, returned = layer(query, None, cache=cache)
    np.testing.assert_allclose(cached, direct, atol=1e-6)
    np.testing.assert_array_equal(returned, cache)


def test_fully_masked_rows_stay_finite():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    query = _floats(1, 2, 16)
    outputs = layer(query, query, value_mask=np.zeros((1, 2), bool))
    assert np.all(np.isfinite(outputs))


def test_dropout_is_active_only_in_training():
    layer = MultiHeadAttention(num_heads=2, key_dim=8, dropout=0.5, seed=3)
    query = _floats(2, 5, 16)
    inference = layer(query, query).numpy()
    np.testing.assert_array_equal(layer(query, query).numpy(), inference)
    trained = layer(query, query, training=True).numpy()
    assert not np.allclose(trained, inference)


@pytest.mark.parametrize("value_dim, use_bias", [(None, True), (4, False)])
def test_one_tensor_projects_in_one_matmul_with_the_same_result(
    value_dim, use_bias
):
    layer = MultiHeadAttention(
        num_heads=2, key_dim=8, value_dim=value_dim, use_bias=use_bias
    )
    x = _floats(2, 5, 16)
    fused = layer(x, x, use_causal_mask=True)
    separate = layer(x, x.copy(), use_causal_mask=True)
    np.testing.assert_allclose(fused, separate, atol=1e-6)

    def matmuls(fn):
        graph = tf.function(fn).get_concrete_function(tf.TensorSpec(x.shape))
        ops = [op.type for op in graph.graph.get_operations()]
        return ops.count("MatMul"), ops.count("BatchMatMulV2")

    layer.xla = False  # the XLA core would hide its own matmuls
    # Projections are 2D matmuls (one for q, k and v, one for the
    # output); only the core's scores and weighted sum are batched.
    assert matmuls(lambda t: layer(t, t)) == (2, 2)
    assert matmuls(lambda t: layer(t, t + 0.0)) == (4, 2)


def test_mixed_precision_softmax_is_float32():
    layer = MultiHeadAttention(num_heads=2, key_dim=8, dtype="mixed_float16")
    query = _floats(2, 5, 16) * 300.0
    outputs, scores = layer(query, query, return_attention_scores=True)
    assert outputs.dtype == "float16"
    assert scores.dtype == "float32"
    np.testing.assert_allclose(np.sum(scores, -1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_heads=0, key_dim=8), "num_heads.*Received: num_heads=0"),
        (dict(num_heads=2, key_dim=-1), "key_dim.*Received: key_dim=-1"),
        (dict(num_heads=2, key_dim=8, dropout=1.5), "dropout=1.5"),
        (dict(num_heads=2, key_dim=8, value_dim=0), "value_dim=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**kwargs)


def test_bad_input_rank():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    with pytest.raises(ValueError, match=r"query must have rank 3.*\(2, 16\)"):
        layer(_floats(2, 16), _floats(2, 5, 16))


def test_wrong_feature_size_is_named():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    layer(_floats(1, 2, 16), _floats(1, 3, 12))
    with pytest.raises(ValueError, match=r"value must have 12 features"):
        layer(_floats(1, 2, 16), _floats(1, 3, 16))


def test_cache_needs_equal_key_and_value_dims():
    layer = MultiHeadAttention(num_heads=2, key_dim=8, value_dim=4)
    layer(_floats(1, 2, 16), _floats(1, 2, 16))
    with pytest.raises(ValueError, match="key_dim=8, value_dim=4"):
        layer.empty_cache(1, 4)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_in_place_cache_writes_equal_the_exportable_ones(jit_compile):
    from mmkeras.layers.attention import multi_head_attention as mha

    rng = np.random.default_rng(0)
    cache = rng.standard_normal((2, 2, 7, 3, 4)).astype("float32")
    steps = rng.standard_normal((2, 2, 2, 3, 4)).astype("float32")
    for index in (0, 3, 5):
        in_place = tf.function(
            mha._write_steps_in_place, jit_compile=jit_compile
        )
        expected = cache.copy()
        expected[:, :, index : index + 2] = steps
        np.testing.assert_array_equal(
            in_place(cache, steps, tf.constant(index)), expected
        )
        np.testing.assert_array_equal(
            mha._write_steps(cache, steps, index), expected
        )


def test_inside_jit_compile_the_layers_call_the_plain_core():
    import mmkeras
    from mmkeras.layers.attention import _core

    assert _graph_core(True) is _core.compiled_attention
    layer = MultiHeadAttention(num_heads=2, key_dim=4, xla=True)
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype("float32")
    expected = layer(x, x)

    def compiled(x):
        with mmkeras.layers.inside_jit_compile():
            assert _core.core(True) is _core.attention
            return layer(x, x)

    actual = tf.function(compiled, jit_compile=True)(x)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert _graph_core(True) is _core.compiled_attention


def _graph_core(xla):
    """The core `_core.core(xla)` picks while a tf.function traces."""
    from mmkeras.layers.attention import _core

    picked = []
    tf.function(lambda: picked.append(_core.core(xla)))()
    return picked[0]


def test_eager_calls_take_the_plain_core_and_never_retrace():
    """Layers of several shapes calling the one compiled core eagerly
    retraced it, with TensorFlow's retracing warning (`mmkeras demo`)."""
    from mmkeras.layers.attention import _core

    traces = _core.compiled_attention.experimental_get_tracing_count()
    for heads, length in [(1, 3), (2, 5), (4, 7), (2, 9), (1, 11), (4, 2)]:
        layer = MultiHeadAttention(num_heads=heads, key_dim=4, xla=True)
        x = _floats(2, length, 8)
        layer(x, x, use_causal_mask=length % 2 == 0)
    assert _core.core(True) is _core.attention
    assert _core.compiled_attention.experimental_get_tracing_count() == traces


def test_an_int8_quantized_layer_keeps_its_outputs():
    import warnings

    import keras

    inputs = keras.Input((5, 16))
    layer = MultiHeadAttention(num_heads=2, key_dim=8, xla=False)
    model = keras.Model(inputs, layer(inputs, inputs))
    x = _floats(2, 5, 16)
    expected = model(x).numpy()
    with warnings.catch_warnings():  # "InputLayer has no quantize method"
        warnings.simplefilter("ignore", UserWarning)
        model.quantize("int8")
    # Self-attention read the int8 kernels without their scales: off by
    # hundreds of times the outputs' size.
    np.testing.assert_allclose(
        model(x), expected, atol=0.03 * np.abs(expected).max()
    )


def _grouped(xla=False, rope=None, **kwargs):
    return MultiHeadAttention(
        num_heads=6,
        key_dim=4,
        num_key_value_heads=2,
        use_bias=False,
        rope_max_wavelength=rope,
        xla=xla,
        **kwargs,
    )


def test_grouped_query_attention_basics():
    run_layer_test(
        MultiHeadAttention, **CASES["MultiHeadAttention(grouped, rotary)"]
    )


def test_grouped_query_attention_matches_repeated_key_value_heads():
    """Query head h reads key/value head h // groups (HF's repeat_kv)."""
    layer = _grouped()
    x = _floats(2, 5, 12)
    mask = np.arange(5)[None] < np.array([[5], [3]])
    actual = layer(x, x, value_mask=mask, use_causal_mask=True)
    wq, wk, wv, wo = (w.numpy() for w in layer.weights)
    assert wk.shape == wv.shape == (12, 2, 4)
    q = np.einsum("btc,chd->bthd", x, wq) / 2.0
    k = np.repeat(np.einsum("btc,chd->bthd", x, wk), 3, axis=2)
    v = np.repeat(np.einsum("btc,chd->bthd", x, wv), 3, axis=2)
    scores = np.einsum("bqhd,bkhd->bhqk", q, k)
    allowed = mask[:, None, None, :] & np.tril(np.ones((5, 5), bool))
    scores = np.where(allowed, scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = np.einsum(
        "bqhd,hde->bqe", np.einsum("bhqk,bkhd->bqhd", probs, v), wo
    )
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_grouped_scores_have_every_query_head():
    layer = _grouped()
    x = _floats(2, 5, 12)
    _, scores = layer(x, x, return_attention_scores=True)
    assert scores.shape == (2, 6, 5, 5)
    np.testing.assert_allclose(np.sum(scores, -1), 1.0, atol=1e-5)


@pytest.mark.parametrize("xla", [True, False])
def test_grouped_rotary_cache_holds_key_value_heads_and_decodes_the_same(xla):
    layer = _grouped(xla=xla, rope=10000)
    x = _floats(2, 6, 12)
    full = layer(x, x, use_causal_mask=True).numpy()
    cache = layer.empty_cache(batch_size=2, max_length=8)
    assert tuple(cache.shape) == (2, 2, 8, 2, 4)

    @tf.function  # the XLA core runs in graphs only
    def decode(cache):
        # A prefill of 2 steps, then one step at a time.
        output, cache = layer(
            x[:, :2], x[:, :2], cache=cache, cache_update_index=0
        )
        steps = [output]
        for index in range(2, 6):
            step = x[:, index : index + 1]
            output, cache = layer(
                step, step, cache=cache, cache_update_index=index
            )
            steps.append(output)
        return tf.concat(steps, 1), cache

    decoded, cache = decode(cache)
    np.testing.assert_allclose(decoded, full, atol=1e-5)
    assert tuple(cache.shape) == (2, 2, 8, 2, 4)
    np.testing.assert_array_equal(cache[:, :, 6:], 0.0)


def test_grouped_xla_and_plain_paths_agree():
    x = _floats(3, 7, 12)
    plain, xla = _grouped(rope=100), _grouped(xla=True, rope=100)
    plain(x, x)
    xla(x, x)
    xla.set_weights(plain.get_weights())
    mask = np.arange(7)[None] < np.array([[7], [5], [1]])
    expected = plain(x, x, value_mask=mask, use_causal_mask=True)
    actual = tf.function(
        lambda: xla(x, x, value_mask=mask, use_causal_mask=True)
    )()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_grouped_projections_fused_or_not_agree():
    layer = _grouped(rope=100)
    x = _floats(2, 5, 12)
    fused = layer(x, x, use_causal_mask=True)
    separate = layer(x, x.copy(), use_causal_mask=True)
    np.testing.assert_allclose(fused, separate, atol=1e-6)


def test_a_decoding_step_reads_each_kernel_once():
    """No concatenated q/k/v kernel (a copy of all three) per step."""
    layer = _grouped(rope=100)
    x = _floats(1, 1, 12)
    layer(x, x)
    cache = layer.empty_cache(1, 4)
    graph = (
        tf.function(lambda t: layer(t, t, cache=cache, cache_update_index=1))
        .get_concrete_function(tf.TensorSpec(x.shape))
        .graph
    )
    operations = graph.get_operations()
    assert [op.type for op in operations].count("MatMul") == 4
    # (features, (6 + 2 + 2) * key_dim): the three kernels side by side.
    shapes = [tuple(t.shape) for op in operations for t in op.outputs]
    assert (12, 40) not in shapes
    assert (12, 40) in _fused_shapes(layer, x)


def _fused_shapes(layer, x):
    graph = (
        tf.function(lambda t: layer(t, t))
        .get_concrete_function(tf.TensorSpec(x.shape))
        .graph
    )
    return [tuple(t.shape) for op in graph.get_operations() for t in op.outputs]


def test_positions_rotate_query_and_keys():
    layer = _grouped(rope=100)
    x = _floats(2, 4, 12)
    default = layer(x, x, use_causal_mask=True)
    same = layer(x, x, use_causal_mask=True, positions=np.arange(4)[None])
    np.testing.assert_allclose(same, default, atol=1e-6)
    # Shifting every position changes nothing: only distances count.
    shifted = layer(
        x, x, use_causal_mask=True, positions=np.arange(4)[None] + 7
    )
    np.testing.assert_allclose(shifted, default, atol=1e-5)
    other = layer(
        x, x, use_causal_mask=True, positions=np.array([[0, 2, 4, 6]])
    )
    assert not np.allclose(other, default, atol=1e-3)


def test_grouped_attention_under_mixed_bfloat16():
    x = _floats(2, 5, 12)
    layer = _grouped(rope=100)
    expected = layer(x, x, use_causal_mask=True)
    mixed = _grouped(rope=100, dtype="mixed_bfloat16")
    mixed(x, x)
    mixed.set_weights(layer.get_weights())
    outputs, scores = mixed(
        x, x, use_causal_mask=True, return_attention_scores=True
    )
    assert outputs.dtype == "bfloat16" and scores.dtype == "float32"
    assert mixed.empty_cache(1, 3).dtype == "bfloat16"
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.05
    )


def test_configs_without_the_new_arguments_load_as_before():
    layer = MultiHeadAttention(num_heads=2, key_dim=8)
    x = _floats(1, 3, 16)
    expected = layer(x, x)
    config = layer.get_config()
    for key in ("num_key_value_heads", "rope_max_wavelength", "rope_layout"):
        del config[key]
    loaded = MultiHeadAttention.from_config(config)
    loaded(x, x)
    loaded.set_weights(layer.get_weights())
    np.testing.assert_allclose(loaded(x, x), expected, atol=1e-7)
    assert loaded.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(num_heads=6, num_key_value_heads=4),
            "num_key_value_heads must divide num_heads.*Received: "
            "num_heads=6, num_key_value_heads=4",
        ),
        (dict(num_heads=6, num_key_value_heads=0), "num_key_value_heads=0"),
        (dict(num_heads=2, rope_max_wavelength=0.5), "rope_max_wavelength=0.5"),
        (dict(num_heads=2, rope_layout="x"), "rope_layout must be one of"),
    ],
)
def test_bad_grouping_and_rotary_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(key_dim=4, **kwargs)


def test_rotary_embedding_refuses_cross_attention():
    layer = _grouped(rope=100)
    query, value = _floats(1, 3, 12), _floats(1, 5, 12)
    with pytest.raises(
        ValueError, match="is for self-attention.*query length 3, key length 5"
    ):
        layer(query, value)
    with pytest.raises(ValueError, match="compute_kv_cache precomputes"):
        layer.compute_kv_cache(value)
