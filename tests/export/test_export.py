import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.export import ExportError
from mmkeras.export import verify
from mmkeras.export.signatures import decode_images
from mmkeras.testing import run_export_test
from mmkeras.testing import tiny_models as tiny

CONSUMERS = os.path.join(os.path.dirname(mmkeras.__file__), "export/consumers")
# One verified export per family, shared by the tests of this file (one
# xdist worker runs a whole file: the Makefile's --dist loadfile).
_EXPORTS = {}


def _exported(family, tmp_path_factory):
    if family not in _EXPORTS:
        model = tiny.model(family)
        out_dir = tmp_path_factory.mktemp(family)
        _EXPORTS[family] = model, run_export_test(model, out_dir, "all")
    return _EXPORTS[family]


def _png(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(
        0, 256, (height, width, 3), "uint8"
    )
    return tf.io.encode_png(pixels).numpy()


def _without(tmp_path, *modules):
    """An environment where importing `modules` fails."""
    shadow = tmp_path / "shadow"
    for module in modules:
        (shadow / module).mkdir(parents=True)
        (shadow / module / "__init__.py").write_text(
            f"raise ImportError('{module} must not be needed here')\n"
        )
    return {**os.environ, "PYTHONPATH": str(shadow)}


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_every_artifact_is_written_and_verified(family, tmp_path_factory):
    model, written = _exported(family, tmp_path_factory)
    serving = model.serving()
    signatures = set(serving.functions())
    # Tensors always; strings too, since tiny models have a tokenizer.
    assert serving.default_signature in signatures
    assert len(signatures) >= 2
    assert set(written) == {"saved_model", "saved_model_xla", "onnx"}
    for kind in ("saved_model", "saved_model_xla"):
        with open(os.path.join(written[kind], "verify.json")) as file:
            checked = {key.split("/")[0] for key in json.load(file)}
        assert checked == signatures
        loaded = tf.saved_model.load(written[kind])
        assert set(loaded.signatures) == signatures | {"serving_default"}
    onnx_files = {
        name[: -len(".onnx")]
        for name in os.listdir(written["onnx"])
        if name.endswith(".onnx")
    }
    assert onnx_files == set(serving.onnx_functions())


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_only_the_xla_variant_calls_xla(family, tmp_path_factory):
    _, written = _exported(family, tmp_path_factory)

    def graph(kind):
        with open(os.path.join(written[kind], "saved_model.pb"), "rb") as f:
            return f.read()

    assert b"_XlaMustCompile" not in graph("saved_model")
    assert b"_XlaMustCompile" in graph("saved_model_xla")


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_serving_script_runs_without_mmkeras(
    family, tmp_path, tmp_path_factory
):
    model, written = _exported(family, tmp_path_factory)
    image = tmp_path / "scene.png"
    image.write_bytes(_png(30, 20))
    serving = model.serving()
    inputs = _request(serving, image.read_bytes())
    command = [
        sys.executable,
        os.path.join(CONSUMERS, "serve_saved_model.py"),
        written["saved_model"],
        f"--signature={serving.default_signature}",
    ]
    for name, values in inputs.items():
        for value in values:
            shown = f"@{image}" if name == "image_bytes" else value
            command.append(f"--input={name}={shown}")
    env = _without(tmp_path, "mmkeras")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.splitlines()[-1])
    function = serving.functions()[serving.default_signature]
    expected = function(*(tf.constant(v) for v in inputs.values()))
    assert set(outputs) == set(expected)
    for key, value in expected.items():
        value = value.numpy()
        if value.dtype == object:
            assert outputs[key] == [v.decode() for v in value.ravel()]
        else:
            np.testing.assert_allclose(outputs[key], value, atol=1e-5)


def _request(serving, image_bytes):
    """The default signature's inputs for one image, whatever the family
    asks for: a question, one text, or candidate texts."""
    from mmkeras.models.serving import RequestError

    attempts = [{}, {"question": "what shape is it"}, {"texts": ("red",)}]
    for options in attempts:
        try:
            return serving.request([image_bytes], **options)
        except RequestError:
            continue
    raise AssertionError(f"{type(serving).__name__} takes no request")


def test_onnx_captions_need_only_onnxruntime(tmp_path, tmp_path_factory):
    model, written = _exported("captioner", tmp_path_factory)
    image = tmp_path / "scene.png"
    image.write_bytes(_png(24, 24))
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(CONSUMERS, "run_onnx.py"),
            written["onnx"],
            f"--image={image}",
        ],
        capture_output=True,
        text=True,
        env=_without(tmp_path, "mmkeras", "tensorflow", "keras"),
    )
    assert result.returncode == 0, result.stderr
    caption = json.loads(result.stdout)["caption"]
    # Same size, so Pillow's decoding gives the same pixels as TF's.
    pixels = decode_images(
        tf.constant([image.read_bytes()]), model.preprocessor
    )
    assert caption == model.generate(pixels)[0]


@pytest.fixture(scope="module")
def served_vqa(tmp_path_factory):
    model = tiny.model("vqa")
    out_dir = tmp_path_factory.mktemp("served")
    path = mmkeras.export.export(model, out_dir, verify=False, xla=False)
    return tf.saved_model.load(path["saved_model"]).signatures["answer"]


def _answer(served, images, questions):
    return served(
        image_bytes=tf.constant(images), question=tf.constant(questions)
    )


@pytest.mark.parametrize(
    "image, message",
    [
        (b"not an image", "Unknown image file format"),
        (b"", "image_bytes holds an empty string"),
        (_png(20, 20)[:40], "Invalid PNG"),
    ],
    ids=["corrupt", "empty", "truncated"],
)
def test_bad_image_bytes_are_an_invalid_argument(served_vqa, image, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _answer(served_vqa, [image], ["what shape"])
    # The model serves the next request.
    assert _answer(served_vqa, [_png(8, 8)], ["what"])["answer"].shape == 1


def test_batches_of_different_lengths_are_an_invalid_argument(served_vqa):
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="image_bytes and question must hold the same number",
    ):
        _answer(served_vqa, [_png(8, 8)] * 2, ["what"])


@pytest.mark.parametrize(
    "size", [(1, 1), (4000, 4000)], ids=["1x1", "4000x4000"]
)
def test_any_image_size_gets_an_answer(served_vqa, size):
    outputs = _answer(served_vqa, [_png(*size)], ["what shape"])
    assert outputs["answer"].numpy()[0].decode() in tiny.ANSWERS
    assert 0.0 < float(outputs["score"][0]) <= 1.0


def test_long_and_empty_questions_are_truncated_or_padded(served_vqa):
    long_question = "what " * 2_000  # 10,000 characters
    outputs = _answer(served_vqa, [_png(8, 8)] * 3, [long_question, "", "red"])
    assert outputs["answer"].shape == 3
    assert np.all(np.isfinite(outputs["score"].numpy()))


def test_tensor_signatures_only_without_a_tokenizer(tmp_path):
    model = tiny.model("fusion", strings=False)
    written = run_export_test(model, tmp_path, "saved_model", xla=False)
    assert set(written) == {"saved_model"}
    loaded = tf.saved_model.load(written["saved_model"])
    assert set(loaded.signatures) == {"logits", "serving_default"}


def test_a_failed_verification_leaves_no_version(tmp_path, monkeypatch):
    model = tiny.model("fusion", strings=False)
    monkeypatch.setattr(verify, "TOLERANCE", -1.0)
    with pytest.raises(ExportError, match="differs from the Keras model"):
        mmkeras.export.export(model, tmp_path, format="all", xla=False)
    # The SavedModel failed first; nothing is left of it or of the rest.
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]
    assert os.listdir(tmp_path / "saved_model") == []


def test_versions_count_up(tmp_path):
    model = tiny.model("fusion", strings=False)
    paths = [
        mmkeras.export.export(model, tmp_path, verify=False, xla=False)
        for _ in range(2)
    ]
    assert [p["saved_model"] for p in paths] == [
        str(tmp_path / "saved_model" / "1"),
        str(tmp_path / "saved_model" / "2"),
    ]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        mmkeras.export.export(tiny.model("fusion"), tmp_path, format="tflite")
    unbuilt = mmkeras.models.FusionClassifier(
        mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
        mmkeras.encoders.TransformerTextEncoder.from_preset(
            "tiny", vocabulary_size=20
        ),
        num_classes=2,
    )
    with pytest.raises(ExportError, match="not built"):
        mmkeras.export.export(unbuilt, tmp_path)
    import keras

    other = keras.Sequential([keras.layers.Dense(2)])
    other(np.zeros((1, 3)))
    with pytest.raises(
        ExportError, match=r"exports task models \(.*FusionClassifier.*\)"
    ):
        mmkeras.export.export(other, tmp_path)
