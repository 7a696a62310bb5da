"""Tiny task models, untrained, with tokenizers and label names, for tests
and the zoo's `test_<family>.tiny` entries; seeded, so their outputs are
fixed. Each family builds its own (`mmkeras.models.<family>.builders.tiny`),
so a new family brings its tiny model with it."""

import difflib
import importlib

import keras

from mmkeras.models import Task
from mmkeras.models._tiny import ANSWERS
from mmkeras.models._tiny import IMAGE_SIZE
from mmkeras.models._tiny import TEXT_LENGTH
from mmkeras.models._tiny import WORDS
from mmkeras.models._tiny import tokenizer

__all__ = [
    "ANSWERS",
    "FAMILIES",
    "IMAGE_SIZE",
    "TEXT_LENGTH",
    "WORDS",
    "model",
    "tokenizer",
]


def _builders(family):
    return importlib.import_module(f"mmkeras.models.{family}.builders")


def _families():
    """The folder names of the registered families, in name order."""
    folders = {cls.__module__.split(".")[2] for cls in Task.families.values()}
    return tuple(sorted(folders))


FAMILIES = _families()


def model(family, strings=True, **kwargs):
    """A built tiny model of `family` (a folder of `mmkeras.models`);
    `strings=False` leaves out the preprocessor and label names (tensor
    signatures only)."""
    if family not in FAMILIES:
        close = difflib.get_close_matches(str(family), FAMILIES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"No family named {family!r}.{hint} Families: "
            f"{', '.join(FAMILIES)}"
        )
    keras.utils.set_random_seed(0)
    return _builders(family).tiny(strings=strings, **kwargs)
