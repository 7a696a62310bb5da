"""README.md runs as written: its ```python blocks and ```sh command
lines, in the README's order, in one temporary working directory (the
python blocks share one namespace, so a block may use what an earlier one
defined, and the commands use the files the blocks write).

A command line is split with shlex (comments after `#` dropped, lines
joined at a trailing backslash): `mmkeras ...` runs through click's
CliRunner, `python <script> ...` runs the repository's script in a fresh
process, and `make ...` is left out: `make demo` and `make test` are
what CI itself runs, and tests/test_demo.py runs the demo's job. Any
other command fails the test, so the README names none this test cannot
run. A block preceded by `<!-- skip: reason -->` is skipped, and a skip
needs a reason."""

import pathlib
import re
import shlex
import subprocess
import sys

from click.testing import CliRunner

from mmkeras.cli.main import cli

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"
BLOCK = re.compile(
    r"(?:<!--\s*skip:(?P<reason>[^>]*)-->\s*\n)?"
    r"```(?P<language>\w+)\n(?P<code>.*?)```",
    re.DOTALL,
)
# The CI runs them; tests/test_demo.py runs the demo.
EXEMPT = {"make"}
# Options naming a file or directory the command promises to write.
WRITES = ("--out", "--catalogue")


def blocks():
    """`(language, code, skip reason or None)` of every fenced block."""
    return [
        (match["language"], match["code"], match["reason"])
        for match in BLOCK.finditer(README.read_text())
    ]


def commands(code):
    """The argument lists of a sh block, one per command."""
    joined = re.sub(r"\\\n", " ", code)
    return [
        words
        for line in joined.splitlines()
        if (words := shlex.split(line, comments=True))
    ]


def test_the_readme_has_code_and_commands():
    languages = [language for language, _, _ in blocks()]
    assert set(languages) == {"python", "sh"}
    assert languages.count("python") >= 5
    assert sum(
        len(commands(code))
        for language, code, _ in blocks()
        if language == "sh"
    ) >= 10


def test_commands_are_split_as_a_shell_splits_them():
    code = 'mmkeras a --t "is it red ?"  # note\npython s.py \\\n  --x=1\n'
    assert commands(code) == [
        ["mmkeras", "a", "--t", "is it red ?"],
        ["python", "s.py", "--x=1"],
    ]


def test_the_readme_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for number, (language, code, reason) in enumerate(blocks(), 1):
        where = f"README.md block {number} ({language})"
        if reason is not None:
            assert reason.strip(), f"{where}: a skip needs a reason"
            continue
        if language == "python":
            _run_python(code, namespace, where)
        elif language == "sh":
            for words in commands(code):
                _run_command(words, tmp_path, where)
        else:
            raise AssertionError(f"{where}: no runner for {language!r}")


def _run_python(code, namespace, where):
    try:
        exec(compile(code, where, "exec"), namespace)
    except Exception as error:
        raise AssertionError(f"{where} failed: {error!r}\n{code}") from error


def _run_command(words, cwd, where):
    line = shlex.join(words)
    program, *arguments = words
    if program in EXEMPT:
        return
    if program == "mmkeras":
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 0, (
            f"{where}: {line} exited with {result.exit_code}:\n"
            f"{result.output}\n{result.exception!r}"
        )
    elif program == "python":
        script, *options = arguments
        result = subprocess.run(
            [sys.executable, str(REPOSITORY / script), *options],
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (
            f"{where}: {line} exited with {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    else:
        raise AssertionError(
            f"{where}: {line}: no runner for {program!r}; the README's "
            "commands are mmkeras, python <script> and make"
        )
    for option, value in zip(words, words[1:], strict=False):
        if option in WRITES:
            assert (cwd / value).exists(), f"{where}: {line} wrote no {value}"
