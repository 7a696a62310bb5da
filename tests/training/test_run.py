import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from mmkeras import training
from tests.training import tiny_task

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
CONFIG = os.path.join("tests", "training", "tiny_task.py")


def _train_command(output_dir, *overrides):
    command = [sys.executable, "-m", "mmkeras.cli", "train", CONFIG]
    command += ["--out", str(output_dir)]
    for override in overrides:
        command += ["--set", override]
    return command


def _run(command):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True
    )


def _weights(output_dir):
    model = keras.saving.load_model(os.path.join(output_dir, "model.keras"))
    return model.get_weights()


def test_train_writes_outputs_and_a_finished_run_is_not_repeated(tmp_path):
    config = tiny_task.get_config()
    model, history = training.train(config, tmp_path, verbose=0)
    assert len(history["loss"]) == 3
    assert int(model.optimizer.iterations.numpy()) == 36
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    for a, b in zip(reloaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path / "logs")
    assert (tmp_path / "history.json").exists()

    again, history = training.train(config, tmp_path, verbose=0)
    assert history == {}
    assert int(again.optimizer.iterations.numpy()) == 36
    # Running the finished command again keeps the run's history.
    logged = training.callbacks.read_history(tmp_path / "history.json")
    assert logged["epoch"] == [1, 2, 3]
    assert len(logged["loss"]) == 3


def test_more_epochs_continue_a_finished_run(tmp_path):
    config = tiny_task.get_config()
    training.train(config, tmp_path, verbose=0)
    longer = training.apply_overrides(config, ["epochs=4"])
    model, history = training.train(longer, tmp_path, verbose=0)
    assert len(history["loss"]) == 1
    assert int(model.optimizer.iterations.numpy()) == 48


def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path):
    straight = _run(_train_command(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]

    marker = tmp_path / "killed"
    killer = (
        "callbacks=[{'fn': 'tests.training.tiny_task.KillAtStep', "
        f"'kwargs': {{'step': 18, 'marker': {str(marker)!r}}}}}]"
    )
    command = _train_command(tmp_path / "crashed", killer)
    crashed = _run(command)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert marker.exists()
    # Killed in epoch 2 (steps 12-23) after the backup at step 16.
    resumed = _run(command)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    for a, b in zip(
        _weights(tmp_path / "crashed"),
        _weights(tmp_path / "straight"),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # The history holds the epoch finished before the crash too.
    history = training.callbacks.read_history(
        tmp_path / "crashed" / "history.json"
    )
    assert history["epoch"] == [1, 2, 3]
    straight_history = training.callbacks.read_history(
        tmp_path / "straight" / "history.json"
    )
    np.testing.assert_allclose(
        history["loss"][0], straight_history["loss"][0], rtol=1e-5
    )


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="no such key.*epochs"):
        training.apply_overrides(tiny_task.get_config(), ["epochz=2"])


def test_a_run_records_its_config_and_the_evaluator_s_metrics(tmp_path):
    config = tiny_task.get_config()
    config["evaluator"] = {
        "fn": "tests.training.tiny_task.evaluate",
        "kwargs": {"prefix": "held_out"},
    }
    model, _ = training.train(config, tmp_path, verbose=0, command="train it")
    with open(tmp_path / "run.json") as file:
        assert json.load(file) == {"config": config, "command": "train it"}
    with open(tmp_path / "metrics.json") as file:
        metrics = json.load(file)
    _, validation = tiny_task.datasets()
    expected = model.evaluate(validation, verbose=0, return_dict=True)
    assert metrics == {"held_out_accuracy": expected["accuracy"]}
    # A finished run is not measured again.
    (tmp_path / "metrics.json").write_text('{"kept": 1}')
    training.train(config, tmp_path, verbose=0)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"kept": 1}


def test_zero_epochs_keep_the_model_as_built_without_data(tmp_path):
    config = tiny_task.get_config()
    config.update(epochs=0, data=None)
    model, history = training.train(config, tmp_path, verbose=0)
    assert history == {}
    assert int(model.optimizer.iterations.numpy()) == 0
    assert sorted(os.listdir(tmp_path)) == ["model.keras", "run.json"]
    saved = keras.saving.load_model(tmp_path / "model.keras")
    for a, b in zip(saved.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
