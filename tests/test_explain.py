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


def test_display_pixels_inverts_the_image_converter():
    converter = mmkeras.layers.ImageConverter(
        scale=(2.0, 4.0, 1.0), offset=(-1.0, 0.5, 0.0)
    )
    image = _image()
    converted = np.asarray(converter(image[None]))[0]
    np.testing.assert_allclose(
        explain.display_pixels(converted, converter), image, atol=1e-3
    )


def test_a_sheet_wraps_panels_into_rows_with_their_labels():
    panels = [
        (explain.panel(_image()), "a label long enough to wrap onto lines"),
        (explain.text_panel("some text"), ""),
        (explain.panel(_image()), "third"),
    ]
    assert panels[0][0].shape == (explain.PANEL, explain.PANEL, 3)
    picture = np.asarray(explain.sheet(panels, columns=2))
    assert picture.shape[1] == 2 * explain.PANEL
    row = picture.shape[0] // 2
    assert row > explain.PANEL + 12  # the wrapped label's two lines
    np.testing.assert_allclose(
        picture[1 : explain.PANEL - 1, 1 : explain.PANEL - 1],
        panels[0][0][1:-1, 1:-1],
    )
    # The third panel starts the second row.
    np.testing.assert_allclose(
        picture[row + 1 : row + explain.PANEL - 1, 1 : explain.PANEL - 1],
        panels[2][0][1:-1, 1:-1],
    )
