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

# What a machine without a GPU prints at `import tensorflow` (twice) and when
# TensorFlow first lists its devices.
_STARTUP = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR$"
    rb"|[IWE]\d{4} [\d:.]+ +\d+ (?:"
    rb"port\.cc:\d+\] oneDNN custom operations are on\."
    rb"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine"
    rb"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    rb"|cuda_platform\.cc:\d+\] failed call to cuInit: "
    rb")"
    # The second line of cpu_feature_guard's message.
    rb"|To enable the following instructions: .* rebuild TensorFlow with "
    rb"the appropriate compiler flags\.$"
)


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
    sys.stderr.flush()
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
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            with open(2, "wb", closefd=False) as stderr:
                stderr.write(_kept(captured.read()))


def _kept(written):
    """`written` without the start-up lines."""
    lines = written.splitlines(keepends=True)
    return b"".join(line for line in lines if not _STARTUP.match(line))


def start_tensorflow():
    """Imports Keras and TensorFlow and lists the devices (which prints
    cuInit's failure on a machine without a GPU), without the start-up
    lines. `tf.config.set_visible_devices` still works afterwards."""
    with startup_lines_filtered():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
