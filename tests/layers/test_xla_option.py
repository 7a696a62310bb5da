"""The `xla` option: `"auto"` by default everywhere, plain on CPUs,
compiled on accelerators, saved as given, and the same outputs as
`True` and `False`."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.layers.attention import _core

rng = np.random.default_rng(3)
TOKENS = rng.standard_normal((2, 5, 16)).astype("float32")
IMAGE = rng.standard_normal((2, 7, 24)).astype("float32")
MASK = np.arange(5)[None] < np.array([[5], [3]])


def _classes_with_xla():
    modules = (mmkeras.layers, mmkeras.encoders, mmkeras.models)
    classes = {
        value
        for module in modules
        for value in vars(module).values()
        if inspect.isclass(value)
        and "xla" in inspect.signature(value.__init__).parameters
    }
    return sorted(classes, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", _classes_with_xla(), ids=lambda c: c.__name__)
def test_every_xla_option_defaults_to_auto(cls):
    default = inspect.signature(cls.__init__).parameters["xla"].default
    assert default == "auto"


def test_the_classes_with_an_xla_option_are_found():
    names = {cls.__name__ for cls in _classes_with_xla()}
    assert {
        "MultiHeadAttention",
        "TransformerEncoderBlock",
        "TransformerDecoderBlock",
        "ViTImageEncoder",
    } <= names
    # Task models are found too (named by module: family names stay in
    # their folders).
    assert any(
        cls.__module__.startswith("mmkeras.models.")
        for cls in _classes_with_xla()
    )


@pytest.mark.parametrize("xla", ["yes", "AUTO", 1, None, "false"])
def test_other_values_are_refused_naming_the_choices(xla):
    with pytest.raises(ValueError) as error:
        mmkeras.layers.TransformerEncoderBlock(2, 8, xla=xla)
    assert str(error.value) == (
        'xla must be True, False or "auto" (compile with XLA on a GPU or '
        f"TPU, run plain on CPUs). Received: xla={xla!r}"
    )


def _traced(block, spec):
    """The concrete function of `block` on `spec` and its number of
    `_XlaMustCompile` calls."""
    function = tf.function(block).get_concrete_function(spec)
    graph = function.graph
    nodes = [op.node_def for op in graph.get_operations()] + [
        node
        for inner in graph._functions.values()
        for node in inner.definition.node_def
    ]
    return function, sum(node.attr["_XlaMustCompile"].b for node in nodes)


def test_auto_compiles_on_accelerators_only(monkeypatch, decoders):
    spec = tf.TensorSpec(TOKENS.shape)
    attention = mmkeras.layers.MultiHeadAttention(2, 8)
    assert _traced(decoders["auto"], spec)[1] == 0
    assert _traced(lambda x: attention(x, x), spec)[1] == 0
    monkeypatch.setattr(_core, "_has_accelerator", lambda: True)
    compiled, calls = _traced(decoders["auto"], spec)
    assert calls == 1
    assert _traced(lambda x: attention(x, x), spec)[1] == 1
    np.testing.assert_allclose(
        compiled(TOKENS), decoders[False](TOKENS), atol=1e-5
    )
    # Explicit choices hold on any device.
    assert _traced(decoders[False], spec)[1] == 0
    monkeypatch.setattr(_core, "_has_accelerator", lambda: False)
    assert _traced(decoders[True], spec)[1] == 1


@pytest.fixture(scope="module")
def decoders():
    """Three decoder blocks with the same weights, one per xla value."""
    blocks = {
        xla: mmkeras.layers.TransformerDecoderBlock(2, 32, xla=xla)
        for xla in ("auto", True, False)
    }
    for block in blocks.values():
        block(TOKENS, IMAGE)
    weights = blocks["auto"].get_weights()
    for block in blocks.values():
        block.set_weights(weights)
    return blocks


def test_auto_true_and_false_give_the_same_outputs_and_gradients(decoders):
    def run(block):
        @tf.function  # the compiled path runs in graphs only
        def step():
            with tf.GradientTape() as tape:
                outputs = block(TOKENS, IMAGE, decoder_padding_mask=MASK)
                loss = tf.reduce_sum(outputs**2)
            return outputs, tape.gradient(loss, block.trainable_variables)

        return step()

    results = {xla: run(block) for xla, block in decoders.items()}
    expected_outputs, expected_gradients = results[False]
    for outputs, gradients in results.values():
        np.testing.assert_allclose(outputs, expected_outputs, atol=1e-5)
        for actual, expected in zip(gradients, expected_gradients, strict=True):
            np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_auto_true_and_false_decode_the_same_with_a_cache(decoders):
    cross = decoders[False].compute_cross_attention_cache(IMAGE)

    def decode(block):
        @tf.function
        def run():
            cache = block.empty_cache(batch_size=2, max_length=3)
            steps = []
            for index in range(3):
                output, cache = block(
                    TOKENS[:, index : index + 1],
                    self_attention_cache=cache,
                    self_attention_cache_update_index=index,
                    cross_attention_cache=cross,
                )
                steps.append(output)
            return tf.concat(steps, axis=1)

        return run()

    expected = decode(decoders[False])
    for xla in ("auto", True):
        np.testing.assert_allclose(decode(decoders[xla]), expected, atol=1e-5)
    full = decoders[False](TOKENS[:, :3], IMAGE)
    np.testing.assert_allclose(expected, full, atol=1e-5)


@pytest.mark.parametrize("xla", ["auto", True, False])
def test_the_option_is_saved_as_given(tmp_path, xla):
    inputs = keras.Input((5,), dtype="int32")
    encoder = mmkeras.encoders.TransformerTextEncoder.from_preset(
        "tiny", vocabulary_size=20, sequence_length=5, num_layers=1, xla=xla
    )
    model = keras.Model(inputs, encoder(inputs)["pooled"])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    block = loaded.layers[-1].blocks[0]
    assert block.get_config()["xla"] == xla
    assert block.attention.xla == xla
    ids = np.array([[3, 4, 5, 0, 0]], "int32")
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)
