"""Shared test helpers: every layer test goes through these."""

from mmkeras.testing.layer_test import run_layer_test
from mmkeras.testing.layer_test import run_serialization_test

__all__ = ["run_layer_test", "run_serialization_test"]
