"""Shared test helpers: every layer and export test goes through these."""

from mmkeras.testing.export_test import run_export_test
from mmkeras.testing.generation_test import run_generation_test
from mmkeras.testing.layer_test import run_layer_test
from mmkeras.testing.layer_test import run_serialization_test
from mmkeras.testing.task_test import run_task_test

__all__ = [
    "run_export_test",
    "run_generation_test",
    "run_layer_test",
    "run_serialization_test",
    "run_task_test",
]
