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
    assert sheet.shape[:2] == (rows * (explain.PANEL + 18), columns * 160)
    if words:
        # A map panel is the image tinted red where the model looked.
        first = sheet[: explain.PANEL, : explain.PANEL].astype(int)
        second = sheet[: explain.PANEL, explain.PANEL : 2 * explain.PANEL]
        assert np.all(second[..., 0] >= first[..., 0] - 1)
        assert np.any(second[..., 0] > first[..., 0] + 10)


def test_the_maps_are_distributions_over_image_tokens(captioner):
    images = np.random.default_rng(1).random((2, 24, 24, 3), "float32")
    ids = captioner.generate(images, return_strings=False)
    maps = np.asarray(captioner.cross_attention_maps(images, ids))
    assert maps.shape == (2, ids.shape[1], 36)  # 24 / 4: a 6x6 grid
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)


def test_only_captioners_are_explained(tmp_path):
    with pytest.raises(ValueError, match="Received: a VQAModel"):
        explain.caption_attention(tiny.model("vqa"), _image(), "x.png")


def test_the_command_prints_the_caption_and_writes_the_png(captioner, tmp_path):
    model_path = str(tmp_path / "captioner.keras")
    captioner.save(model_path)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_image()).save(image_path)
    out = tmp_path / "maps.png"
    result = CliRunner().invoke(
        cli,
        ["explain", model_path, "--image", str(image_path), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == str(out)
    assert Image.open(out).format == "PNG"
