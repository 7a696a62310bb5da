"""The datasets a training config names: `{"name": "color_match",
"kwargs": {...}}` -> a function returning `(train, validation)` raw
`tf.data.Dataset`s of dicts, batched; the model's preprocessor maps them
in `fit` and `evaluate`. Each also takes `split="train"` or
`split="validation"` and then builds that one only (evaluators and
`mmkeras zoo make` need the validation examples, not the training set).

Example:

>>> train, validation = mmkeras.data.DATASETS.call(
...     {"name": "color_match", "kwargs": {"num_train": 64}})
"""

import inspect

from mmkeras._registry import Registry

DATASETS = Registry("dataset")
register_dataset = DATASETS.register
SPLITS = ("train", "validation")


def pick(split, train, validation):
    """`(train(), validation())`, or the one `split` names: what a
    registered dataset function returns."""
    if split is None:
        return train(), validation()
    if split not in SPLITS:
        raise ValueError(
            f"split must be None (both), 'train' or 'validation'. "
            f"Received: split={split!r}"
        )
    return train() if split == "train" else validation()


def build_splits(spec, split=None):
    """`(train, validation)` of the datasets `spec` names (a config's
    `"data"`), or the one `split`: built alone by the registered
    functions, picked from the pair for a function that takes no
    `split` (a user's `{"fn": ...}`)."""
    if split is None:
        return DATASETS.call(spec)
    function = DATASETS.resolve(spec)
    if "split" in inspect.signature(function).parameters:
        return DATASETS.call(spec, split=split)
    pick(split, lambda: None, lambda: None)  # checks `split`
    train, validation = DATASETS.call(spec)
    return train if split == "train" else validation
