import json
import os
import stat

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mmkeras import training
from mmkeras.training.callbacks import HistoryLog
from mmkeras.training.callbacks import read_history
from mmkeras_cli.main import cli

HISTORY = {
    "epoch": [1, 2, 3],
    "loss": [1.0, 0.5, 0.25],
    "accuracy": [0.5, 0.75, 0.9],
    "val_loss": [1.1, 0.6, 0.4],
    "val_accuracy": [0.45, 0.7, 0.85],
    "learning_rate": [1e-3, 1e-3, 1e-3],
}


def test_one_panel_per_metric_with_its_validation_curve(tmp_path):
    path = tmp_path / "curves.png"
    metrics = training.plot_history(HISTORY, str(path))
    assert metrics == ["loss", "accuracy", "learning_rate"]
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (300, 1200, 3)  # three 4x3-inch panels, 100 dpi
    # Both curves' default colours (blue, orange) are drawn.
    assert np.any(np.all(image == [31, 119, 180], -1))
    assert np.any(np.all(image == [255, 127, 14], -1))


def test_a_run_directory_and_the_command(tmp_path):
    (tmp_path / "history.json").write_text(json.dumps(HISTORY))
    out = tmp_path / "curves.png"
    result = CliRunner().invoke(cli, ["plot", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == str(out)
    assert result.output.splitlines()[0] == "loss, accuracy, learning_rate"
    assert Image.open(out).format == "PNG"


def test_bad_histories_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="mmkeras train CONFIG"):
        training.plot_history(tmp_path, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="no metrics to draw"):
        training.plot_history({"epoch": [1]}, str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_epochs_without_a_metric_are_gaps(tmp_path):
    history = {"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [None, 1.5]}
    assert training.plot_history(history, str(tmp_path / "c.png")) == ["loss"]


def test_history_log_replaces_epochs_trained_again(tmp_path):
    path = tmp_path / "history.json"
    log = HistoryLog(path)
    log.on_epoch_end(0, {"loss": 3.0})
    log.on_epoch_end(1, {"loss": 2.0})
    log.on_epoch_end(2, {"loss": 1.0})
    # Resumed from a backup taken during epoch 2: epochs 2 and 3 again.
    log.on_epoch_end(1, {"loss": 2.5, "val_loss": 2.6})
    assert read_history(path) == {
        "epoch": [1, 2],
        "loss": [3.0, 2.5],
        "val_loss": [None, 2.6],
    }


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_the_png_gets_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        training.plot_history({"loss": [1.0, 0.5]}, str(tmp_path / "c.png"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "c.png").st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["c.png"]
