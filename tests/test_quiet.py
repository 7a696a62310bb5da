"""`mmkeras._quiet`: TensorFlow's start-up lines leave stderr, nothing
else does (the CLI tests check a real `import mmkeras` prints none)."""

import os
import sys

import pytest

from mmkeras import _quiet

# Written by TensorFlow 2.21 at import and device start-up on this machine.
START_UP = (
    b"WARNING: All log messages before absl::InitializeLog() is called are "
    b"written to STDERR\n"
    b"I0000 00:00:1796537647.207812   27643 port.cc:153] oneDNN custom "
    b"operations are on. You may see slightly different numerical results.\n"
    b"I0000 00:00:1796537647.208235   27643 cudart_stub.cc:31] Could not find "
    b"cuda drivers on your machine, GPU will not be used.\n"
    b"I0000 00:00:1796537647.349258   27643 cpu_feature_guard.cc:227] This "
    b"TensorFlow binary is optimized to use available CPU instructions in "
    b"performance-critical operations.\n"
    b"To enable the following instructions: AVX2 AVX512F FMA, in other "
    b"operations, rebuild TensorFlow with the appropriate compiler flags.\n"
    b"E0000 00:00:1796537719.465473   29598 cuda_platform.cc:52] failed call "
    b"to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR "
    b"(303)\n"
)
# Lines that must stay: a genuine error, and a TensorFlow line from the
# same files that is not a start-up message.
GENUINE = (
    b"E0000 00:00:1.2   1 port.cc:99] something else went wrong\n"
    b"ImportError: a genuine message\n"
    b"partial line, no newline"
)


def test_the_start_up_lines_go_and_every_other_line_stays(capfd):
    lines = START_UP.splitlines(keepends=True)
    with _quiet.startup_lines_filtered():
        os.write(2, b"".join(lines[:2]))
        print("from Python", file=sys.stderr)
        os.write(2, b"".join(lines[2:]) + GENUINE)
    captured = capfd.readouterr()
    assert captured.err == "from Python\n" + GENUINE.decode()
    assert captured.out == ""


def test_lines_written_before_an_error_still_come_out(capfd):
    with pytest.raises(ImportError, match="no such module"):
        with _quiet.startup_lines_filtered():
            os.write(2, START_UP + b"genuine\n")
            raise ImportError("no such module")
    assert capfd.readouterr().err == "genuine\n"
    os.write(2, b"after\n")  # stderr is back
    assert capfd.readouterr().err == "after\n"


def test_a_failed_cuinit_stays_where_cuda_drivers_were_found(capfd):
    """Without drivers, cuInit's failure is expected; with them, it is the
    reason the GPU is not used."""
    cuinit = START_UP.splitlines(keepends=True)[-1]
    assert b"cuInit" in cuinit
    with _quiet.startup_lines_filtered():
        os.write(2, cuinit)
    assert capfd.readouterr().err == cuinit.decode()
