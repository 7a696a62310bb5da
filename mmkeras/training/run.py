"""`train(config, output_dir)`: the loop behind `mmkeras train`."""

import glob
import json
import os

import keras

from mmkeras import _files
from mmkeras import evaluation
from mmkeras.training import _keys
from mmkeras.training import callbacks as mm_callbacks
from mmkeras.training import config as config_lib
from mmkeras.training import strategies

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
BACKUP_DIR = "backup"
# What a resumed run may change: these do not change what it computes.
# `epochs` may change too, to no fewer than the epochs it has trained.
RESUMABLE_KEYS = ("backup_every_steps", "zoo")


def train(
    config,
    output_dir,
    devices=None,
    verbose="auto",
    command=None,
    restart=False,
):
    """Trains the model a config describes; resumes if interrupted.

    The training stream is the config's train dataset repeated, so step `s`
    always sees the same batch when the data function is seeded. A backup
    (all model and optimizer variables, random-seed states and the epoch's
    running metrics included) is written every `backup_every_steps` steps
    and after every epoch; after a crash the same command restores it,
    skips the batches already trained on, finishes the interrupted epoch,
    then the rest: the weights and the history equal the uninterrupted
    run's (tested on every shipped config with SIGKILL mid-epoch).

    Outputs in `output_dir`: `model.keras` (after every epoch, atomic),
    `history.json` (every epoch of the run so far, resumed calls
    included; `mmkeras plot` draws it), TensorBoard logs in `logs/`, the
    backup in `backup/`, `run.json` (the config, the command, which
    `mmkeras evaluate` and `mmkeras zoo make` read, and whether the run
    has finished) and, when the config names an `"evaluator"`,
    `metrics.json` (its metrics of the final model). `run.json` says
    `"finished": true` only once all of these are written; calling
    `train` again on a finished run writes nothing and returns the saved
    model with an empty history.

    A run resumes only with the config it started with: any change but
    `backup_every_steps`, `zoo` or more `epochs` (a finished run then
    trains the new epochs) is a ValueError naming the changed keys.
    `restart=True` starts over instead, after moving the old run aside
    (`restart_run`). Under a multi-worker strategy the chief writes in
    `output_dir` and every other worker in `output_dir/worker-<i>/`.

    Args:
        config: a dict from `load_config` (see `mmkeras/configs/`).
        output_dir: where outputs go; reuse it to resume.
        devices: devices for a `MirroredStrategy` (default: see
            `mmkeras.training.strategy`).
        verbose: Keras' `fit` verbosity.
        command: the command line that runs this training (recorded in
            `run.json`; `mmkeras train` gives it).
        restart: move a run already in `output_dir` to
            `<output_dir>.old-<n>` and train from the start.

    Returns:
        The trained model and the history of the epochs this call ran.
    """
    _keys.check_config(config)
    if restart:
        restart_run(output_dir)
    # First: MultiWorkerMirroredStrategy must exist before any TF op runs.
    strategy = strategies.strategy(devices)
    output_dir = strategies.worker_output_dir(os.fspath(output_dir))
    run = _previous_run(output_dir, config)
    keras.utils.set_random_seed(config.get("seed", 0))
    previous_policy = keras.config.dtype_policy()
    if config.get("mixed_precision"):
        keras.config.set_dtype_policy("mixed_float16")
    try:
        if run and run.get("finished"):
            if run["config"]["epochs"] == config["epochs"]:
                if _keys.changes(run["config"], config):
                    _record(output_dir, config, command, finished=True)
                return _saved_model(config, output_dir, strategy), {}
        _start(output_dir, run, config, command)
        model, history = _train(config, output_dir, strategy, verbose)
        if config.get("evaluator"):
            _files.write_json(
                os.path.join(output_dir, METRICS_FILE),
                evaluation.evaluate(model, config),
            )
    finally:
        keras.config.set_dtype_policy(previous_policy)
    # Last: a run is finished once everything above is written.
    _record(output_dir, config, command, finished=True, previous=run)
    return model, history


def is_finished(output_dir):
    """Whether `output_dir` holds a finished `train` run (its model,
    history and metrics all written)."""
    path = os.path.join(os.fspath(output_dir), RUN_FILE)
    return os.path.isfile(path) and bool(_read_run(path).get("finished"))


def restart_run(output_dir):
    """Moves the run in `output_dir` (this worker's folder) aside, so that
    `train` starts over; nothing is deleted.

    Returns:
        Where it went, `<output_dir>.old-<n>` (the first free `n`), or
        None when `output_dir` is missing or empty.
    """
    output_dir = os.path.normpath(
        strategies.worker_output_dir(os.fspath(output_dir))
    )
    if not os.path.isdir(output_dir) or not os.listdir(output_dir):
        return None
    target = _aside(output_dir)
    try:
        os.rename(output_dir, target)
    except OSError as error:
        raise OSError(
            f"Cannot move the run in {output_dir} aside to {target} "
            f"({error.strerror}); move it yourself or train into another "
            "output directory."
        ) from None
    return target


def _aside(output_dir):
    n = 1
    while os.path.exists(f"{output_dir}.old-{n}"):
        n += 1
    return f"{output_dir}.old-{n}"


def _previous_run(output_dir, config):
    """The `run.json` of a run in `output_dir` (None if there is none);
    a ValueError naming the changed keys if `config` is not the config
    it can resume with."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(
            f"The output directory {output_dir} is a file; give a new or "
            "empty folder for the run (or the folder of a run to resume)."
        )
    path = os.path.join(output_dir, RUN_FILE)
    if not os.path.exists(path):
        return None
    run = _read_run(path)
    history = os.path.join(output_dir, HISTORY_FILE)
    trained = len(mm_callbacks.read_history(history).get("epoch", []))
    refused = [
        f"{key}: {old!r} -> {new!r}"
        + (f" (it has trained {trained})" if key == "epochs" else "")
        for key, old, new in _keys.changes(run["config"], config)
        if key.split(".")[0] not in RESUMABLE_KEYS
        and not (key == "epochs" and new >= trained)
    ]
    if refused:
        raise ValueError(
            f"{output_dir} holds a run of another config, which this one "
            f"cannot resume: {'; '.join(refused)}. Run its own command "
            f"again ({run.get('command') or 'its config is in ' + path}), "
            "train into another output directory, or start over with "
            "`mmkeras train ... --restart` (`train(..., restart=True)`), "
            f"which moves this run to {_aside(os.path.normpath(output_dir))}."
        )
    return run


def _read_run(path):
    try:
        with open(path, encoding="utf-8") as file:
            run = json.load(file)
    except (ValueError, UnicodeDecodeError) as error:
        run = error
    if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
        raise ValueError(
            f"{path} is not a run record ({run}); start over with "
            "`mmkeras train ... --restart` (`train(..., restart=True)`)."
        )
    return run


def _record(output_dir, config, command, finished, previous=None):
    if previous and not _keys.changes(previous["config"], config):
        # The same config: the command that started the run reproduces it.
        config, command = previous["config"], previous.get("command")
    _files.write_json(
        os.path.join(output_dir, RUN_FILE),
        {"config": config, "command": command, "finished": finished},
    )


def _start(output_dir, run, config, command):
    os.makedirs(output_dir, exist_ok=True)
    _remove_partial_writes(output_dir)
    if (
        run is None
        or run.get("finished")
        or _keys.changes(run["config"], config)
    ):
        _record(output_dir, config, command, finished=False)


def _remove_partial_writes(output_dir):
    """Deletes the temporary files of writes a kill interrupted
    (`mmkeras._files` writes `.<name>.<random><suffix>` beside `name`)."""
    names = (RUN_FILE, MODEL_FILE, HISTORY_FILE, METRICS_FILE)
    paths = [os.path.join(output_dir, name) for name in names]
    paths.append(
        os.path.join(output_dir, BACKUP_DIR, mm_callbacks.StepBackup.FILENAME)
    )
    for path in paths:
        directory, name = os.path.split(glob.escape(path))
        for partial in glob.glob(os.path.join(directory, f".{name}.*")):
            os.remove(partial)


def _saved_model(config, output_dir, strategy):
    """The finished run's model: its `model.keras`, or for an encoder
    (which Keras cannot save alone) the model the config builds."""
    path = os.path.join(output_dir, MODEL_FILE)
    with strategy.scope():
        if os.path.exists(path):
            return keras.saving.load_model(path)
        return config_lib.build_model(config)


def _train(config, output_dir, strategy, verbose):
    if config["epochs"] == 0:
        return _untrained(config, output_dir, strategy), {}
    train_data, validation_data = config_lib.build_datasets(config)
    if validation_data is not None and config.get("validation_steps"):
        # The same first batches every epoch: given `validation_steps`,
        # Keras would go on where the last epoch stopped, which a resumed
        # run (a new iterator) cannot repeat.
        validation_data = validation_data.take(config["validation_steps"])
    steps_per_epoch = config.get("steps_per_epoch") or _cardinality(train_data)
    epochs = config["epochs"]
    backup = mm_callbacks.StepBackup(
        os.path.join(output_dir, BACKUP_DIR), config.get("backup_every_steps")
    )
    with strategy.scope():
        model = config_lib.build_model(config)
        if not model.compiled:
            model.compile(jit_compile=False)
        if backup.saved_step(backup.directory):
            _build(model, train_data)
    done_steps = backup.restore(model, steps_per_epoch)
    callbacks = [
        # In this order: see `mmkeras.training.callbacks`.
        mm_callbacks.AtomicModelCheckpoint(
            os.path.join(output_dir, MODEL_FILE)
        ),
        mm_callbacks.HistoryLog(os.path.join(output_dir, HISTORY_FILE)),
        backup,
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


def _build(model, dataset):
    """Creates every variable `fit` would (the model's, the compiled
    metrics', the optimizer's) from the data's shapes, without a step, so
    that a backup can be restored before the first one: a subclassed task
    model has no variables until it sees a batch. (A new run leaves this to
    `fit`: one trace fewer.)"""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is not None:
        dataset = dataset.map(preprocessor)  # what `Task.fit` feeds
    # Keras' own first step of `fit`, which has no public name.
    model._symbolic_build(data_batch=dataset.element_spec)


def _untrained(config, output_dir, strategy):
    """The model as built (converted weights, a seeded test model): a
    config of 0 epochs trains nothing and needs no data. A task model is
    saved as the run's `model.keras`; an encoder, which Keras cannot save
    alone, is built again from the config by `mmkeras zoo make`."""
    with strategy.scope():
        model = config_lib.build_model(config)
    if isinstance(model, keras.Model):
        path = os.path.join(output_dir, MODEL_FILE)
        with _files.atomic_path(path, suffix=".keras") as temporary:
            model.save(temporary)
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
