import subprocess
import sys

from click.testing import CliRunner

import mmkeras
from mmkeras.cli.main import cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert mmkeras.__version__ in result.output


def test_help_lists_the_demo():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_usage_error_is_one_line_with_exit_code_2():
    result = CliRunner().invoke(cli, ["demo", "--epochs", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--epochs'" in result.output
    assert "Traceback" not in result.output


def test_console_script_is_installed():
    completed = subprocess.run(
        [sys.executable, "-m", "mmkeras.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert mmkeras.__version__ in completed.stdout


def test_library_error_is_one_line_with_exit_code_1(tmp_path):
    result = CliRunner().invoke(
        cli, ["train", "no_such_config", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: Unknown config 'no_such_config'")
    assert len(result.output.strip().splitlines()) == 1


def test_train_runs_a_config_file(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "tests/training/tiny_task.py",
            "--out",
            str(tmp_path),
            "--set",
            "epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "final epoch" in result.output
    assert (tmp_path / "model.keras").exists()
