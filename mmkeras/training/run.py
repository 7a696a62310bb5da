"""`train(config, output_dir)`: the loop behind `mmkeras train`."""

import json
import os

import keras

from mmkeras import evaluation
from mmkeras.training import callbacks as mm_callbacks
from mmkeras.training import config as config_lib
from mmkeras.training import strategies

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"


def train(config, output_dir, devices=None, verbose="auto", command=None):
    """Trains the model a config describes; resumes if interrupted.

    The training stream is the config's train dataset repeated, so step `s`
    always sees the same batch when the data function is seeded. A backup
    (all model and optimizer variables, random-seed states included) is
    written every `backup_every_steps` steps and after every epoch; after a
    crash the same command restores it, skips the batches already trained
    on, finishes the interrupted epoch, then the rest: the result equals
    the uninterrupted run's (tested with SIGKILL mid-epoch).

    Outputs in `output_dir`: `model.keras` (after every epoch, atomic),
    `history.json` (every epoch of the run so far, resumed calls
    included; `mmkeras plot` draws it), TensorBoard logs in `logs/`, the
    backup in `backup/`, `run.json` (the config and the command, which
    `mmkeras evaluate` and `mmkeras zoo make` read) and, when the config
    names an `"evaluator"`, `metrics.json` (its metrics of the final
    model, measured when the run finishes).
    Under a multi-worker strategy the chief writes there and every other
    worker in `output_dir/worker-<i>/`.

    Args:
        config: a dict from `load_config` (see `mmkeras/configs/`).
        output_dir: where outputs go; reuse it to resume.
        devices: devices for a `MirroredStrategy` (default: see
            `mmkeras.training.strategy`).
        verbose: Keras' `fit` verbosity.
        command: the command line that runs this training (recorded in
            `run.json`; `mmkeras train` gives it).

    Returns:
        The trained model and the history of the epochs this call ran.
    """
    # First: MultiWorkerMirroredStrategy must exist before any TF op runs.
    strategy = strategies.strategy(devices)
    output_dir = strategies.worker_output_dir(os.fspath(output_dir))
    os.makedirs(output_dir, exist_ok=True)
    _write_json(
        os.path.join(output_dir, RUN_FILE),
        {"config": config, "command": command},
    )
    keras.utils.set_random_seed(config.get("seed", 0))
    previous_policy = keras.config.dtype_policy()
    if config.get("mixed_precision"):
        keras.config.set_dtype_policy("mixed_float16")
    try:
        model, history = _train(config, output_dir, strategy, verbose)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    metrics = os.path.join(output_dir, METRICS_FILE)
    if "evaluator" in config and (history or not os.path.exists(metrics)):
        _write_json(metrics, evaluation.evaluate(model, config))
    return model, history


def _train(config, output_dir, strategy, verbose):
    if config["epochs"] == 0:
        return _untrained(config, output_dir, strategy), {}
    train_data, validation_data = config_lib.build_datasets(config)
    steps_per_epoch = config.get("steps_per_epoch") or _cardinality(train_data)
    epochs = config["epochs"]
    with strategy.scope():
        model = config_lib.build_model(config)
        if not model.compiled:
            model.compile(jit_compile=False)
    backup = os.path.join(output_dir, "backup")
    done_steps = mm_callbacks.StepBackup.restore(model, backup)
    callbacks = [
        mm_callbacks.StepBackup(backup, config.get("backup_every_steps")),
        mm_callbacks.AtomicModelCheckpoint(
            os.path.join(output_dir, "model.keras")
        ),
        mm_callbacks.HistoryLog(os.path.join(output_dir, "history.json")),
        keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")),
        *[config_lib.resolve(spec) for spec in config.get("callbacks", [])],
    ]

    def fit(first_step, first_epoch, last_epoch, steps):
        # A new dataset object per call: a second iterator over the same
        # object would reshuffle differently, a first one over a new object
        # repeats the uninterrupted run's order. Keras keeps the iterator
        # across the epochs of one call.
        stream = config_lib.build_datasets(config, "train")
        result = model.fit(
            stream.repeat().skip(first_step),
            initial_epoch=first_epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            validation_data=validation_data,
            callbacks=callbacks,
            shuffle=False,
            verbose=verbose,
        )
        _extend(history, result.history)

    history = {}
    epoch, step_in_epoch = divmod(done_steps, steps_per_epoch)
    if step_in_epoch and epoch < epochs:
        # Finish the interrupted epoch with its remaining steps.
        fit(done_steps, epoch, epoch + 1, steps_per_epoch - step_in_epoch)
        epoch += 1
    if epoch < epochs:
        fit(epoch * steps_per_epoch, epoch, epochs, steps_per_epoch)
    return model, history


def _untrained(config, output_dir, strategy):
    """The model as built (converted weights, a seeded test model): a
    config of 0 epochs trains nothing and needs no data. A task model is
    saved as the run's `model.keras`; an encoder, which Keras cannot save
    alone, is built again from the config by `mmkeras zoo make`."""
    with strategy.scope():
        model = config_lib.build_model(config)
    if isinstance(model, keras.Model):
        path = os.path.join(output_dir, "model.keras")
        temporary = f"{path}.tmp.keras"
        model.save(temporary)
        os.replace(temporary, path)
    return model


def _cardinality(dataset):
    count = int(dataset.cardinality())
    if count < 0:
        raise ValueError(
            "The training dataset's length is unknown or infinite; set "
            "steps_per_epoch in the config."
        )
    return count


def _extend(history, new):
    for key, values in new.items():
        history.setdefault(key, []).extend(float(v) for v in values)


def _write_json(path, value):
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
