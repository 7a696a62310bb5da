"""Decoding samplers: greedy, beam, top-k and top-p, each one XLA-safe
`while_loop` over a model's `next_fn`; see `Sampler` for the interface."""

import keras

from mmkeras.samplers.beam_sampler import BeamSampler
from mmkeras.samplers.greedy_sampler import GreedySampler
from mmkeras.samplers.sampler import Sampler
from mmkeras.samplers.top_k_sampler import TopKSampler
from mmkeras.samplers.top_p_sampler import TopPSampler

_NAMES = {
    "greedy": GreedySampler,
    "beam": BeamSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
}
_CLASSES = {cls.__name__: cls for cls in _NAMES.values()}


def get(identifier):
    """Returns a sampler from a name, a config dict or an instance.

    Args:
        identifier: a `Sampler` (returned as is); a name (`"greedy"`,
            `"beam"`, `"top_k"`, `"top_p"`) for a sampler with default
            arguments; or a dict `{"class_name": ..., "config": {...}}`
            whose class name is one of those names or a class name, as
            `keras.saving.serialize_keras_object` writes it.

    Example:

    >>> mmkeras.samplers.get("top_k").k
    5
    >>> mmkeras.samplers.get(
    ...     {"class_name": "beam", "config": {"num_beams": 3}}).num_beams
    3
    """
    if isinstance(identifier, Sampler):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _lookup(identifier["class_name"])
        return cls.from_config(identifier.get("config") or {})
    raise ValueError(
        "A sampler identifier must be a name, a config dict with "
        "'class_name' and 'config', or a Sampler. Received: "
        f"identifier={identifier!r}"
    )


def _lookup(name):
    cls = _NAMES.get(name) or _CLASSES.get(name)
    if cls is None:
        valid = ", ".join(repr(n) for n in [*_NAMES, *_CLASSES])
        raise ValueError(f"Unknown sampler {name!r}. Valid names are: {valid}.")
    return cls


def serialize(sampler):
    """The config dict of `sampler`, which `get` turns back into it."""
    return keras.saving.serialize_keras_object(sampler)


__all__ = [
    "BeamSampler",
    "GreedySampler",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "get",
    "serialize",
]
