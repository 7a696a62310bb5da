import contextlib
import json
import os
import shutil

import keras
import numpy as np
import pytest

from mmkeras import _files
from mmkeras import training
from tests.training import runs
from tests.training import tiny_task


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


def test_unknown_config_key_is_an_error():
    with pytest.raises(
        ValueError, match="no key 'epochz'. Did you mean epochs"
    ):
        training.apply_overrides(tiny_task.get_config(), ["epochz=2"])


def test_a_run_records_its_config_and_the_evaluator_s_metrics(tmp_path):
    config = tiny_task.get_config()
    config["evaluator"] = {
        "fn": "tests.training.tiny_task.evaluate",
        "kwargs": {"prefix": "held_out"},
    }
    model, _ = training.train(config, tmp_path, verbose=0, command="train it")
    with open(tmp_path / "run.json") as file:
        assert json.load(file) == {
            "config": config,
            "command": "train it",
            "finished": True,
        }
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


class Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` catches it."""


def _kill_at_write(monkeypatch, number):
    """From now on, write `number` (counting every atomic write of
    `mmkeras._files` from 0) dies after its temporary file is written,
    before it replaces the target; returns the list of files written."""
    writes = []
    atomic_path = _files.atomic_path

    @contextlib.contextmanager
    def dying(path, suffix=".tmp"):
        with atomic_path(path, suffix) as temporary:
            writes.append(os.path.basename(path))
            yield temporary
            if len(writes) - 1 == number:
                raise Killed(path)

    monkeypatch.setattr(_files, "atomic_path", dying)
    return writes


def _evaluated_config():
    config = tiny_task.get_config()
    config.update(
        epochs=2,
        evaluator={"fn": "tests.training.tiny_task.evaluate", "kwargs": {}},
    )
    return config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of `_evaluated_config` and its writes in order."""
    directory = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as monkeypatch:
        writes = _kill_at_write(monkeypatch, None)
        training.train(_evaluated_config(), directory, verbose=0)
    return directory, writes


def test_the_run_is_finished_by_its_last_write(reference):
    _, writes = reference
    # Each epoch: the model, the history, then the backup (steps 4 and 8
    # and the epoch's end); the metrics and the finished record last.
    epoch = ["state.npz", "state.npz", "model.keras", "history.json"]
    epoch.append("state.npz")
    assert writes == ["run.json", *epoch, *epoch, "metrics.json", "run.json"]


@pytest.mark.parametrize(
    "name",
    ["model.keras", "history.json", "state.npz", "metrics.json", "run.json"],
)
def test_a_kill_during_the_final_writes_loses_nothing(
    name, reference, tmp_path, monkeypatch
):
    straight, writes = reference
    _kill_at_write(monkeypatch, len(writes) - 1 - writes[::-1].index(name))
    with pytest.raises(Killed):
        training.train(_evaluated_config(), tmp_path, verbose=0)
    assert not training.is_finished(tmp_path)
    # What SIGKILL leaves of a write: its temporary file.
    folder = tmp_path / "backup" if name == "state.npz" else tmp_path
    (folder / f".{name}.x1y2.tmp").write_text("partial")
    monkeypatch.undo()

    training.train(_evaluated_config(), tmp_path, verbose=0)
    runs.assert_same_run(tmp_path, straight)
    assert not (folder / f".{name}.x1y2.tmp").exists()


def test_a_changed_config_is_refused_by_name(reference, tmp_path, monkeypatch):
    # Killed at its first backup: a run to resume.
    _kill_at_write(monkeypatch, 1)
    with pytest.raises(Killed):
        training.train(_evaluated_config(), tmp_path, verbose=0)
    monkeypatch.undo()
    before = runs.snapshot(tmp_path)
    changed = training.apply_overrides(
        _evaluated_config(), ["seed=1", "data.kwargs.count=48"]
    )
    with pytest.raises(ValueError) as error:
        training.train(changed, tmp_path, verbose=0)
    message = str(error.value)
    assert "data.kwargs.count: 96 -> 48; seed: 0 -> 1." in message
    assert "--restart" in message and f"{tmp_path}.old-1" in message
    assert runs.snapshot(tmp_path) == before

    # Keys that do not change the result may change.
    quieter = training.apply_overrides(
        _evaluated_config(), ["backup_every_steps=None"]
    )
    training.train(quieter, tmp_path, verbose=0)
    runs.assert_same_run(tmp_path, reference[0])
    fewer = training.apply_overrides(_evaluated_config(), ["epochs=1"])
    with pytest.raises(
        ValueError, match=r"epochs: 2 -> 1 \(it has trained 2\)"
    ):
        training.train(fewer, tmp_path, verbose=0)


def test_restart_moves_the_old_run_aside(reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference[0], run)
    kept = runs.snapshot(run)
    changed = training.apply_overrides(_evaluated_config(), ["seed=3"])
    _, history = training.train(changed, run, verbose=0, restart=True)
    assert len(history["loss"]) == 2
    old = tmp_path / "run.old-1"
    assert runs.snapshot(old) == {
        path.replace(str(run), str(old)): value for path, value in kept.items()
    }
    with open(run / "run.json") as file:
        assert json.load(file)["config"]["seed"] == 3
    assert training.restart_run(run) == str(tmp_path / "run.old-2")
    assert training.restart_run(run) is None  # nothing left to move


def test_a_damaged_run_or_a_file_as_output_is_named(tmp_path):
    config = tiny_task.get_config()
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "state.npz").write_bytes(b"junk")
    record = {"config": config, "command": None, "finished": False}
    (tmp_path / "run.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="state.npz cannot be read: it is"):
        training.train(config, tmp_path, verbose=0)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match="run.json is not a run record"):
        training.train(config, tmp_path, verbose=0)
    with pytest.raises(ValueError, match="run.json is a file; give a new"):
        training.train(config, tmp_path / "run.json", verbose=0)
