"""Two local worker processes train one model with
MultiWorkerMirroredStrategy and end with identical weights."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np

import mmkeras  # noqa: F401 - registers the layers for load_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_end_with_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        environment = dict(
            os.environ,
            TF_CONFIG=json.dumps(tf_config),
            TF_CPP_MIN_LOG_LEVEL="3",
        )
        command = [
            sys.executable, "-m", "mmkeras_cli", "train",
            os.path.join("tests", "training", "tiny_task.py"),
            "--out", str(tmp_path), "--set", "epochs=2",
            # The XLA-compiled blocks under the multi-worker strategy.
            "--set", "model.kwargs.xla=True",
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]

    chief = keras.saving.load_model(tmp_path / "model.keras")
    other = keras.saving.load_model(tmp_path / "worker-1" / "model.keras")
    assert int(chief.optimizer.iterations.numpy()) == 24
    for a, b in zip(chief.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 2
