import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.captioner import CaptionerServing
from mmkeras.models.serving import ExportError
from mmkeras.testing import tiny_models as tiny
from tests.export import consumer_modules


def _run_onnx():
    return consumer_modules.run_onnx()


@pytest.fixture(scope="module")
def captioner():
    return tiny.model("captioner")


def _pixels(captioner, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch, 24, 24, 3), "uint8")
    return captioner.preprocessor.generate_preprocess(images).numpy()


def test_signatures_with_and_without_a_tokenizer(captioner):
    serving = captioner.serving()
    assert isinstance(serving, CaptionerServing)
    assert set(serving.functions()) == {"generate", "logits", "caption"}
    assert serving.default_signature == "caption"
    tensors_only = tiny.model("captioner", strings=False).serving()
    assert set(tensors_only.functions()) == {"generate", "logits"}
    assert "vocabulary" not in tensors_only.onnx_config()


def test_the_caption_signature_decodes_bytes_in_the_graph(captioner):
    serving = captioner.serving(sampler="beam")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 30, 20, 3), "uint8")
    encoded = [tf.io.encode_png(image).numpy() for image in images]
    outputs = serving.functions()["caption"](tf.constant(encoded))
    captions = [c.decode() for c in outputs["captions"].numpy()]
    # The preprocessor's converter resizes, as the graph's decoding does.
    assert captions == captioner.generate(images, sampler="beam")


def test_the_graphs_decode_as_generate(captioner):
    """The encoder and decoder-step functions, looped by the ONNX
    consumer's numpy code with `present_*` fed back as `past_*`, give the
    tokens of `generate`, greedy and with beam search."""
    pixels = _pixels(captioner)
    for sampler in ["greedy", mmkeras.samplers.BeamSampler(num_beams=3)]:
        serving = captioner.serving(sampler=sampler)
        graphs = _graphs_of(serving)
        ids = graphs.generate({"image": pixels})
        expected = captioner.generate(
            pixels, sampler=sampler, return_strings=False
        )
        np.testing.assert_array_equal(ids, expected)
        np.testing.assert_array_equal(
            ids, serving.functions()["generate"](pixels)["token_ids"]
        )
    texts = graphs.detokenize(ids)
    assert texts == captioner.preprocessor.detokenize(ids)


def _graphs_of(serving):
    """`run_onnx.Graphs` running the tf.functions tf2onnx converts."""
    module = _run_onnx()
    graphs = module.Graphs.__new__(module.Graphs)
    graphs.config = serving.onnx_config()
    graphs.vocabulary = serving.tokenizer.get_vocabulary()
    functions = serving.onnx_functions()
    graphs.sessions = functions

    def run(name, inputs):
        if name == "generate":
            return {"token_ids": graphs.generate(inputs)}
        return _call(functions[name], inputs)

    graphs.run = run
    return graphs


def _call(function, inputs):
    """A graph's function on inputs by name (its signature's order)."""
    args = [inputs[spec.name] for spec in function.input_signature]
    return {key: value.numpy() for key, value in function(*args).items()}


def test_the_cache_entries_are_named_by_their_path(captioner):
    serving = captioner.serving()
    names = ["cross_0", "cross_1", "self_0", "self_1"]
    assert serving.cache_names == names
    pixels = _pixels(captioner, batch=2)
    encoded = _call(serving.onnx_functions()["encoder"], {"image": pixels})
    assert set(encoded) == {*names, "initial_token_ids", "start_index"}
    cache = captioner.build_cache(pixels, captioner.sequence_length)
    np.testing.assert_allclose(encoded["cross_1"], cache["cross"][1])
    assert encoded["self_0"].shape == (2, 2, 12, 2, 8)
    np.testing.assert_array_equal(encoded["initial_token_ids"][:, 0], 2)
    assert int(encoded["start_index"]) == 1
    step = serving.onnx_functions()["decoder_step"]
    outputs = _call(
        step,
        {
            "token_ids": encoded["initial_token_ids"][:, :1],
            "index": np.array(0, "int32"),
            **{f"past_{name}": encoded[name] for name in names},
        },
    )
    assert set(outputs) == {"logits", *(f"present_{n}" for n in names)}
    # The pad token is never chosen; the step wrote position 0 only.
    assert np.all(outputs["logits"][:, 0] == -1e9)
    written = outputs["present_self_0"]
    assert np.any(written[:, :, 0]) and not np.any(written[:, :, 1:])


def test_onnx_config_says_how_to_decode(captioner):
    config = captioner.serving(sampler="beam").onnx_config()
    assert config["image_size"] == [24, 24]
    assert config["image_scale"] == 1.0 and config["image_offset"] == 0.0
    assert config["start_token_id"] == 2 and config["end_token_id"] == 3
    assert config["max_length"] == 12
    assert config["generation_inputs"] == ["image"]
    assert config["sampler"]["class_name"] == "BeamSampler"
    assert config["special_token_ids"] == [0, 2, 3, 4]
    assert config["vocabulary"] == "vocabulary.txt"


def test_stochastic_samplers_cannot_be_decoded_by_the_onnx_consumer(
    captioner,
):
    with pytest.raises(ExportError, match="sampler=TopKSampler"):
        captioner.serving(sampler="top_k").onnx_config()


def test_the_consumer_converts_images_as_the_converter(tmp_path):
    module = _run_onnx()
    graphs = module.Graphs.__new__(module.Graphs)
    graphs.config = {
        "image_size": [12, 10],
        "image_scale": [2.0, 1.0, 0.5],
        "image_offset": -1.0,
    }
    pixels = np.random.default_rng(0).integers(0, 256, (12, 10, 3), "uint8")
    path = tmp_path / "image.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    converted = graphs.load_images([str(path)])
    converter = mmkeras.layers.ImageConverter(
        (12, 10), scale=[2.0, 1.0, 0.5], offset=-1.0
    )
    np.testing.assert_allclose(
        converted, converter(pixels[None]).numpy(), atol=1e-6
    )
