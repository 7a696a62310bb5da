import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mmkeras
from mmkeras import explain
from mmkeras.cli.main import cli
from mmkeras.testing import tiny_models as tiny


def _image():
    return np.random.default_rng(0).integers(0, 256, (40, 30, 3), "uint8")


@pytest.fixture(scope="module")
def vqa():
    return tiny.model("vqa")


def test_only_captioners_and_vqa_models_are_explained(vqa):
    with pytest.raises(ValueError, match="Received: a VQAModel"):
        explain.retrieval(vqa, ["q"], [_image()], "x.png")


def _saved(model, tmp_path):
    """The paths of `model` saved as .keras and of an image file."""
    model_path = str(tmp_path / "model.keras")
    model.save(model_path)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_image()).save(image_path)
    return model_path, image_path


def test_the_command_answers_a_question_about_the_image(vqa, tmp_path):
    model_path, image_path = _saved(vqa, tmp_path)
    out = tmp_path / "answer.png"
    command = ["explain", model_path, "--image", str(image_path)]
    result = CliRunner().invoke(cli, [*command, "--out", str(out)])
    assert result.exit_code == 2
    assert "this model needs --question" in result.output
    result = CliRunner().invoke(
        cli, [*command, "--question", "what shape?", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    answer, written = result.output.splitlines()[-2:]
    assert answer in vqa.answers and written == str(out)


def test_retrieval_draws_each_texts_best_images_in_order(tmp_path):
    model = tiny.model("dual_encoder")
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (30, 30, 3), "uint8") for _ in range(5)]
    texts = ["a red circle", "a blue square above a green circle"]
    path = tmp_path / "ranked.png"
    indices, scores = explain.retrieval(model, texts, images, str(path), k=3)
    size = tuple(model.input_shapes()["image"][1:3])
    pixels = np.stack([mmkeras.data.preprocess_image(i, size) for i in images])
    expected = np.asarray(model.score(pixels, model.tokenizer(texts))).T
    np.testing.assert_array_equal(indices, np.argsort(-expected, 1)[:, :3])
    np.testing.assert_allclose(
        scores, np.sort(expected, 1)[:, ::-1][:, :3], atol=1e-5
    )
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == 4 * explain.PANEL  # the text, then 3 images
    with pytest.raises(ValueError, match="k must be at most"):
        explain.retrieval(model, texts, images, str(path), k=6)
