"""TensorFlow's start-up lines, filtered out of stderr.

TensorFlow 2.21 prints them from C++ before its logging reads
`TF_CPP_MIN_LOG_LEVEL`, so only a filter on file descriptor 2 removes
them. Every other line written meanwhile is written back.
"""

import contextlib
import os
import re
import sys
import tempfile

# What `import tensorflow` prints (twice) on a machine without a GPU.
_LOG = rb"[IWE]\d{4} [\d:.]+ +\d+ "
_STARTUP = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR$"
    rb"|" + _LOG + rb"(?:"
    rb"port\.cc:\d+\] oneDNN custom operations are on\."
    rb"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine"
    rb"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    rb")"
    # The second line of cpu_feature_guard's message.
    rb"|To enable the following instructions: .* rebuild TensorFlow with "
    rb"the appropriate compiler flags\.$"
)
_NO_DRIVERS = re.compile(_LOG + rb"cudart_stub\.cc:\d+\] Could not find cuda")
# Listing the devices then fails to start CUDA: expected without drivers,
# a real error with them, so dropped only after the line above.
_NO_CUDA = re.compile(_LOG + rb"cuda_platform\.cc:\d+\] failed call to cuInit")


@contextlib.contextmanager
def startup_lines_filtered():
    """Runs the block with TensorFlow's known start-up lines dropped from
    stderr; other lines written to it meanwhile come out at the end.

    Example:

    ```python
    from mmkeras import _quiet

    with _quiet.startup_lines_filtered():
        import tensorflow as tf

        tf.config.list_physical_devices()
    ```
    """
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter (a closed descriptor 2)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            with open(2, "wb", closefd=False) as stderr:
                stderr.write(_kept(captured.read()))


def _flush_stderr():
    if sys.stderr is not None:  # None under pythonw
        sys.stderr.flush()


def _kept(written):
    """`written` without the start-up lines."""
    lines = written.splitlines(keepends=True)
    no_drivers = any(_NO_DRIVERS.match(line) for line in lines)
    return b"".join(
        line
        for line in lines
        if not _STARTUP.match(line)
        and not (no_drivers and _NO_CUDA.match(line))
    )


def start_tensorflow():
    """Imports Keras and TensorFlow and lists the devices (which prints
    cuInit's failure on a machine without a GPU), without the start-up
    lines. `tf.config.set_visible_devices` still works afterwards."""
    with startup_lines_filtered():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
