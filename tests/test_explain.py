import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mmkeras
from mmkeras import explain
from mmkeras.cli.main import cli
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def captioner():
    return tiny.model("captioner")


def _image():
    return np.random.default_rng(0).integers(0, 256, (40, 30, 3), "uint8")


def test_one_panel_per_word_after_the_image(captioner, tmp_path):
    path = tmp_path / "where.png"
    caption = explain.caption_attention(captioner, _image(), str(path))
    pixels = mmkeras.data.preprocess_image(_image(), (24, 24))[None]
    assert caption == captioner.generate(pixels)[0]
    ids = captioner.generate(pixels, return_strings=False)[0]
    words = int(np.sum(~np.isin(ids[1:], [0, captioner.end_token_id])))
    panels = 1 + words
    columns = min(panels, explain.PANELS_PER_ROW)
    rows = -(-panels // columns)
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == columns * explain.PANEL
    assert sheet.shape[0] % rows == 0 and sheet.shape[0] > rows * explain.PANEL
    if words:
        # A map panel is the image, dimmed where the model did not look.
        first = sheet[: explain.PANEL, : explain.PANEL].astype(int)
        second = sheet[: explain.PANEL, explain.PANEL : 2 * explain.PANEL]
        assert np.all(second <= first + 1)
        assert np.any(second < first - 10)
        assert np.abs(second - first).min() <= 1  # the brightest spot


@pytest.fixture(scope="module")
def vqa():
    return tiny.model("vqa")


def test_vqa_attention_answers_and_draws_the_question_map(vqa, tmp_path):
    path = tmp_path / "answer.png"
    question = "what shape is the small object left of the big red circle?"
    answer = explain.vqa_attention(vqa, _image(), question, str(path))
    size = tuple(vqa.input_shapes()["image"][1:3])
    inputs = {
        "image": mmkeras.data.preprocess_image(_image(), size)[None],
        "question_ids": vqa.tokenizer([question]),
    }
    assert answer == vqa.answers[int(np.argmax(vqa(inputs)[0]))]
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == 2 * explain.PANEL
    short = tmp_path / "short.png"
    explain.vqa_attention(vqa, _image(), "what shape?", str(short))
    # The long question wraps onto more lines under its panel.
    assert sheet.shape[0] > np.asarray(Image.open(short)).shape[0]


def test_the_maps_are_distributions_over_image_tokens(captioner):
    images = np.random.default_rng(1).random((2, 24, 24, 3), "float32")
    ids = captioner.generate(images, return_strings=False)
    maps = np.asarray(captioner.cross_attention_maps(images, ids))
    assert maps.shape == (2, ids.shape[1], 36)  # 24 / 4: a 6x6 grid
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)


def test_only_captioners_and_vqa_models_are_explained(vqa):
    with pytest.raises(ValueError, match="Received: a VQAModel"):
        explain.caption_attention(vqa, _image(), "x.png")
    with pytest.raises(ValueError, match="Received: a FusionClassifier"):
        explain.vqa_attention(tiny.model("fusion"), _image(), "q", "x.png")
    with pytest.raises(ValueError, match="Received: a VQAModel"):
        explain.retrieval(vqa, ["q"], [_image()], "x.png")


def _saved(model, tmp_path):
    """The paths of `model` saved as .keras and of an image file."""
    model_path = str(tmp_path / "model.keras")
    model.save(model_path)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_image()).save(image_path)
    return model_path, image_path


def test_the_command_prints_the_caption_and_writes_the_png(captioner, tmp_path):
    model_path, image_path = _saved(captioner, tmp_path)
    out = tmp_path / "maps.png"
    result = CliRunner().invoke(
        cli,
        ["explain", model_path, "--image", str(image_path), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == str(out)
    assert Image.open(out).format == "PNG"


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
