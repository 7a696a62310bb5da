"""Every shipped config, killed with SIGKILL mid-epoch and run again,
ends with the weights and the history of an uninterrupted run; running a
finished run again changes nothing."""

import concurrent.futures
import importlib
import multiprocessing
import signal

import numpy as np
import pytest

from mmkeras import training
from tests.training import runs

# The killed runs fork from one server process that imported TensorFlow
# and mmkeras once: a new interpreter for each imported them again (about
# 5 CPU-s a config). A forked run is killed as hard as any.
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["mmkeras.training", "tests.training.tiny_task"])
# One epoch of 3 steps, backed up at step 2 (and at the epoch's end):
# killed after step 3, before the epoch ends, the run resumes mid-epoch
# from step 2 and trains step 3 again. (Resuming in a later epoch:
# tests/training/test_run.py.) The steps run eagerly: three traces of
# each model cost more than their few steps. (The toy's tests in
# test_run.py resume traced steps.)
EAGER = "{'fn': 'tests.training.tiny_task.RunEagerly'}"
STEPS = 3
SCHEDULE = [
    "epochs=1",
    f"steps_per_epoch={STEPS}",
    "backup_every_steps=2",
    "validation_steps=1",
    f"callbacks=[{EAGER}]",
]
KILL_AT_STEP = 3


def tiny_overrides(name):
    module = importlib.import_module(f"mmkeras.configs.{name}")
    assert hasattr(module, "TINY_OVERRIDES"), (
        f"mmkeras/configs/{name}.py has no TINY_OVERRIDES: add the --set "
        "overrides of its smallest run (small data, small model, a cheap "
        "evaluator) so that the resume test can run it."
    )
    overrides = list(module.TINY_OVERRIDES)
    if training.load_config(name)["epochs"] > 0:
        overrides += SCHEDULE
    return overrides


def _killer(marker):
    """The `--set` that adds the SIGKILL after step 3 (once: `marker`)."""
    kill = (
        "{'fn': 'tests.training.tiny_task.KillAtStep', "
        f"'kwargs': {{'step': {KILL_AT_STEP}, 'marker': {str(marker)!r}}}}}"
    )
    return f"callbacks=[{EAGER}, {kill}]"


@pytest.fixture(scope="module")
def killed_runs(request, tmp_path_factory):
    """`{config: Future of its killed run}`, the runs started one at a time
    in the background, in the order the tests need them: each test trains
    its reference while the next configs' processes run."""
    names = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == RESUME_TEST
        and training.load_config(item.callspec.params["name"])["epochs"] > 0
    ]
    root = tmp_path_factory.mktemp("killed")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        yield {
            name: executor.submit(_killed_run, name, root / name)
            for name in names
        }
        executor.shutdown(cancel_futures=True)


def _killed_run(name, directory):
    """Trains the tiny config in `directory/run` in a new process, which
    SIGKILLs itself after step 3; returns the run's directory and the
    process's exit code."""
    overrides = [*tiny_overrides(name), _killer(directory / "killed")]
    process = FORKS.Process(
        target=_train, args=(name, overrides, directory / "run")
    )
    process.start()
    process.join()
    return directory / "run", process.exitcode


def _train(name, overrides, directory):
    config = training.apply_overrides(training.load_config(name), overrides)
    training.train(config, directory, verbose=0)


RESUME_TEST = "test_a_killed_run_resumes_to_the_uninterrupted_run"


@pytest.mark.parametrize("name", training.list_configs())
def test_a_killed_run_resumes_to_the_uninterrupted_run(
    name, killed_runs, tmp_path
):
    overrides = tiny_overrides(name)
    config = training.apply_overrides(training.load_config(name), overrides)
    straight, _ = training.train(config, tmp_path / "straight", verbose=0)
    assert training.is_finished(tmp_path / "straight")

    if config["epochs"] > 0:
        run, exit_code = killed_runs[name].result()
        assert exit_code == -signal.SIGKILL, (
            f"the run to kill exited with {exit_code}: its traceback is "
            "on stderr"
        )
        assert (run.parent / "killed").exists()
        assert not training.is_finished(run)
        resumed, history = training.train(
            training.apply_overrides(config, [_killer(run.parent / "killed")]),
            run,
            verbose=0,
        )
        # Resumed from the backup of step 2: the rest of the epoch.
        assert len(history["loss"]) == 1
        assert int(resumed.optimizer.iterations.numpy()) == STEPS
        for a, b in zip(
            runs.variables(resumed), runs.variables(straight), strict=True
        ):
            np.testing.assert_allclose(a, b, atol=1e-5)
        runs.assert_same_run(run, tmp_path / "straight")

    # A finished run again: nothing trained, no file touched.
    before = runs.snapshot(tmp_path / "straight")
    _, history = training.train(config, tmp_path / "straight", verbose=0)
    assert history == {}
    assert runs.snapshot(tmp_path / "straight") == before
