import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Two logical CPUs so MirroredStrategy tests run without GPUs. This must
# happen before TensorFlow initializes its devices, hence at import time.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

# Files that take minutes run first: with `--dist loadfile` (the
# Makefile) a long file started last leaves the other worker idle.
LONGEST_FIRST = (
    "tests/zoo/test_entries.py",
    "tests/training/test_resume.py",
    "tests/export/test_export.py",
    "tests/test_readme.py",
    "tests/models/causal_lm/test_smollm2.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        if path in LONGEST_FIRST:
            return LONGEST_FIRST.index(path)
        return len(LONGEST_FIRST)

    items.sort(key=rank)
