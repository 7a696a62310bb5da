import json

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from mmkeras.cli.main import cli
from mmkeras.export.signatures import decode_images
from mmkeras.testing import tiny_models as tiny


@pytest.fixture()
def image(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (24, 24, 3), "uint8")
    path = tmp_path / "scene.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return str(path)


def _saved(model, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    return path


def _predict(*args):
    result = CliRunner().invoke(cli, ["predict", *args])
    return result, [json.loads(line) for line in result.output.splitlines()]


@pytest.mark.parametrize("sampler", ["greedy", "beam"])
def test_a_captioner_captions_each_image(tmp_path, image, sampler):
    model = tiny.model("captioner")
    result, lines = _predict(
        _saved(model, tmp_path),
        "--image",
        image,
        "--image",
        image,
        "--sampler",
        sampler,
    )
    assert result.exit_code == 0, result.output
    encoded = tf.constant([open(image, "rb").read()])
    pixels = decode_images(encoded, model.preprocessor)
    expected = model.generate(pixels, sampler=sampler)[0]
    assert [line["captions"] for line in lines] == [expected, expected]


def test_a_vqa_model_answers_the_question(tmp_path, image):
    result, lines = _predict(
        _saved(tiny.model("vqa"), tmp_path),
        "--image",
        image,
        "--question",
        "what shape is it",
    )
    assert result.exit_code == 0, result.output
    assert lines[0]["answer"] in tiny.ANSWERS
    assert 0.0 < lines[0]["score"] <= 1.0


def test_missing_inputs_are_usage_errors(tmp_path, image):
    path = _saved(tiny.model("fusion"), tmp_path)
    result = CliRunner().invoke(cli, ["predict", path, "--image", image])
    assert result.exit_code == 2
    assert "give one --text per --image" in result.output


def test_a_model_without_a_tokenizer_cannot_take_text(tmp_path, image):
    path = _saved(tiny.model("vqa", strings=False), tmp_path)
    result = CliRunner().invoke(
        cli, ["predict", path, "--image", image, "--question", "what"]
    )
    assert result.exit_code == 2
    assert "has no tokenizer or label names" in result.output


@pytest.mark.parametrize(
    "command, extra, message",
    [
        ("predict", ["--question", "what"], "takes no question"),
        ("predict", ["--text", "red"], "takes no texts"),
        ("explain", ["--question", "what"], "takes no question"),
    ],
)
def test_inputs_a_model_cannot_use_are_usage_errors(
    tmp_path, image, command, extra, message
):
    path = _saved(tiny.model("captioner"), tmp_path)
    arguments = [command, path, "--image", image, *extra]
    if command == "explain":
        arguments += ["--out", str(tmp_path / "where.png")]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "where.png").exists()


@pytest.fixture(scope="module")
def captioner_path(tmp_path_factory):
    return _saved(tiny.model("captioner"), tmp_path_factory.mktemp("model"))


@pytest.mark.parametrize("command, content", [("explain", b"")])
def test_a_file_that_is_no_image_is_one_line(
    tmp_path, captioner_path, command, content
):
    """TensorFlow's decoding error, raised inside the model or tf.data, is
    one line, without TensorFlow's {{function_node ...}} prefix."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    arguments = [command, captioner_path, "--image", str(path)]
    if command == "explain":
        arguments += ["--out", str(tmp_path / "where.png")]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1
    assert "image" in result.output
    assert "function_node" not in result.output
    assert "Graph execution error" not in result.output
    result = CliRunner().invoke(cli, ["--debug", *arguments])
    assert result.exception is not None


def test_a_file_that_is_no_image_is_named(tmp_path, captioner_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not an image")
    result = CliRunner().invoke(
        cli, ["predict", captioner_path, "--image", str(path)]
    )
    assert result.exit_code == 2, result.output
    assert "notes.txt" in result.output


def test_a_sampler_is_refused_by_a_model_that_does_not_generate(
    tmp_path, image
):
    path = _saved(tiny.model("fusion"), tmp_path)
    arguments = ["--image", image, "--text", "red", "--sampler", "beam"]
    result = CliRunner().invoke(cli, ["predict", path, *arguments])
    assert result.exit_code == 2, result.output
    assert "sampler" in result.output


def test_the_pretrained_towers_predict(tmp_path):
    from skimage import data

    photo = tmp_path / "chelsea.png"
    photo.write_bytes(tf.io.encode_png(data.chelsea()).numpy())
    result, rows = _predict(
        "efficientnet_lite0.imagenet", "--image", str(photo)
    )
    assert result.exit_code == 0, result.output
    assert rows[0]["top5"][0]["class"] == "Egyptian_cat"
    result, rows = _predict(
        "minilm_l6.sentence", "--text", "a cat", "--text", "a kitten"
    )
    assert result.exit_code == 0, result.output
    assert len(rows) == 2
    assert json.dumps(rows[0]).count("384") >= 1
