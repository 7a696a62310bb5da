import json

import pytest
import tensorflow as tf

from mmkeras import training
from mmkeras.training import strategies


def _tf_config(monkeypatch, task_type, index, chief=False):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    if chief:
        cluster["chief"] = ["127.0.0.1:3"]
    config = {"cluster": cluster, "task": {"type": task_type, "index": index}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))


def test_single_process_defaults(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert training.num_workers() == 1
    assert training.is_chief()
    assert training.strategy() is tf.distribute.get_strategy()
    assert strategies.worker_output_dir("out") == "out"


def test_mirrored_over_given_devices(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = training.strategy(devices=["/cpu:0", "/cpu:1"])
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2


def test_workers_and_chief_from_tf_config(monkeypatch):
    _tf_config(monkeypatch, "worker", 0)
    assert training.num_workers() == 2
    assert training.is_chief()
    _tf_config(monkeypatch, "worker", 1)
    assert not training.is_chief()
    assert strategies.worker_output_dir("out") == "out/worker-1"
    _tf_config(monkeypatch, "worker", 0, chief=True)
    assert training.num_workers() == 3
    assert not training.is_chief()
    _tf_config(monkeypatch, "chief", 0, chief=True)
    assert training.is_chief()


def test_bad_tf_config_is_named(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        training.num_workers()
    monkeypatch.setenv("TF_CONFIG", "[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        training.num_workers()
