"""Model builders: named functions that build and compile a task model
from hyper-parameters, which a training config names as
`"model": {"name": "color_match_fusion", "kwargs": {...}}`.

A family registers its builders in its folder's `builders.py` (found
here by folder, so a new family adds builders without touching this
file).

Example:

>>> model = mmkeras.models.builders.MODEL_BUILDERS.call(
...     {"name": "color_match_fusion", "kwargs": {"fusion": "gated"}})
"""

import importlib
import pathlib

from mmkeras._registry import Registry


class _Builders(Registry):
    """A `Registry` that first imports every family's `builders.py`."""

    def get(self, name):
        _discover()
        return super().get(name)

    def names(self):
        _discover()
        return super().names()


MODEL_BUILDERS = _Builders("model builder")
register_builder = MODEL_BUILDERS.register


def _discover():
    folder = pathlib.Path(__file__).parent
    for path in sorted(folder.glob("*/builders.py")):
        importlib.import_module(f"mmkeras.models.{path.parent.name}.builders")
