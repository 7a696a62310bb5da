"""What each config key takes, and how two configs differ.

`apply_overrides` and `train` check values here, so a wrong value is one
error naming the key, what it takes and what it received; a resumed run
compares its config with the one it started with here.

The training keys (`TRAINING_KEYS`) take fixed kinds of values. A key
inside a spec's `kwargs` (`data.kwargs.num_train`) is any argument of the
function the spec names, and takes a value of the kind of the function's
default (of the config's value when the default is None or missing): an
integer whose default is positive must be positive (a size, a count), a
seed any integer >= 0.
"""

import difflib
import inspect
import json
import math
from collections.abc import Callable
from typing import NamedTuple

from mmkeras.data import DATASETS
from mmkeras.evaluation import EVALUATORS
from mmkeras.models.builders import MODEL_BUILDERS


class Kind(NamedTuple):
    """A kind of value: `accepts(value)`; `convert` makes it canonical;
    `text` kinds take a `--set` value as written."""

    description: str
    accepts: Callable
    convert: Callable = lambda value: value
    text: bool = False


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(minimum=None):
    names = {None: "an integer", 0: "a non-negative integer"}
    return Kind(
        names.get(minimum, "a positive integer"),
        lambda v: _is_int(v) and (minimum is None or v >= minimum),
    )


def _optional(kind):
    return Kind(
        f"{kind.description} or None",
        lambda v: v is None or kind.accepts(v),
        lambda v: v if v is None else kind.convert(v),
        kind.text,
    )


def _is_spec(value):
    return isinstance(value, dict) and ("name" in value) != ("fn" in value)


ANY = Kind("any value", lambda v: True)
BOOLEAN = Kind("True or False", lambda v: isinstance(v, bool))
NUMBER = Kind(
    "a number",
    lambda v: (_is_int(v) or isinstance(v, float)) and math.isfinite(v),
    float,
)
STRING = Kind("a string", lambda v: isinstance(v, str), text=True)
LIST = Kind("a list", lambda v: isinstance(v, (list, tuple)), list)
DICT = Kind("a dict", lambda v: isinstance(v, dict))
SPEC = Kind(
    'a dict with a registered "name" (or a dotted "fn") and "kwargs"',
    _is_spec,
)

# Every config accepts these (the loop's settings and the recipe's parts).
TRAINING_KEYS = {
    "model": SPEC,
    "data": _optional(SPEC),
    "evaluator": _optional(SPEC),
    "epochs": _integer(0),
    "steps_per_epoch": _optional(_integer(1)),
    "validation_steps": _optional(_integer(1)),
    "backup_every_steps": _optional(_integer(1)),
    "seed": _integer(0),
    "mixed_precision": BOOLEAN,
    "callbacks": Kind(
        'a list of {"fn": ..., "kwargs": {...}} dicts',
        lambda v: isinstance(v, list) and all(map(_is_spec, v)),
    ),
    "zoo": DICT,
}
# What a config that leaves a training key out gets.
DEFAULTS = {
    "data": None,
    "evaluator": None,
    "steps_per_epoch": None,
    "validation_steps": None,
    "backup_every_steps": None,
    "seed": 0,
    "mixed_precision": False,
    "callbacks": [],
}
# A key one of two compared configs lacks.
ABSENT = "(absent)"
# The registry each spec key names its function in, and the arguments
# its caller passes itself (not the config's to set).
SPECS = {
    "model": (MODEL_BUILDERS, ()),
    "data": (DATASETS, ("split",)),
    "evaluator": (EVALUATORS, ("model", "config")),
}


def kind_of(name, default):
    """The kind of value a key whose default is `default` takes."""
    if default is None:
        return ANY
    if isinstance(default, bool):
        return BOOLEAN
    if _is_int(default):
        if default > 0 and "seed" not in name:
            return _integer(1)
        return _integer(0 if default >= 0 else None)
    if isinstance(default, float):
        return NUMBER
    if isinstance(default, str):
        return STRING
    return LIST if isinstance(default, (list, tuple)) else DICT


def expected(config, path):
    """The kind of value the dotted `path` (a list of keys) takes in
    `config`; a key the config cannot have is a ValueError listing the
    keys it can."""
    if len(path) == 1:
        if path[0] in TRAINING_KEYS:
            return TRAINING_KEYS[path[0]]
        if path[0] in config:
            return kind_of(path[0], config[path[0]])
        raise _unknown(path, sorted({*TRAINING_KEYS, *config}))
    head, *rest = path
    if head in SPECS and rest[0] == "kwargs" and len(rest) == 2:
        return _argument_kind(head, config.get(head), rest[1])
    if head not in config:
        raise _unknown([head], sorted({*TRAINING_KEYS, *config}))
    target = config
    for depth, key in enumerate(path):
        if not isinstance(target, dict) or key not in target:
            keys = sorted(target) if isinstance(target, dict) else []
            raise _unknown(path[: depth + 1], keys)
        target = target[key]
    return kind_of(path[-1], target)


def _argument_kind(spec_key, spec, name):
    if not _is_spec(spec):
        raise ValueError(
            f"{spec_key}.kwargs.{name}: {spec_key} is {spec!r}, not a spec "
            f'naming a function; set {spec_key} to {{"name": ...}} first.'
        )
    parameters, open_ended = arguments(spec_key, spec)
    current = spec.get("kwargs", {}).get(name)
    if name not in parameters:
        if open_ended:
            return kind_of(name, current)
        raise _unknown(
            [spec_key, "kwargs", name],
            sorted(parameters),
            f"{_function_name(spec_key, spec)} takes no such argument",
        )
    default = parameters[name]
    if default is None or default is inspect.Parameter.empty:
        return kind_of(name, current)  # the recipe's value says more
    return kind_of(name, default)


def arguments(spec_key, spec):
    """`({name: default}, open_ended)`: the arguments a config can give
    the function `spec` names (`inspect.Parameter.empty` for required
    ones), and whether it takes `**kwargs` too."""
    registry, passed = SPECS[spec_key]
    function = registry.resolve(spec)
    parameters = inspect.signature(function).parameters.values()
    named = {
        p.name: p.default
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in passed
    }
    return named, any(p.kind == p.VAR_KEYWORD for p in parameters)


def check_config(config, name="The config"):
    """Checks every training key and every spec's arguments of `config`;
    raises one ValueError naming the first wrong key."""
    missing = [key for key in ("model", "epochs") if key not in config]
    if missing:
        raise ValueError(f"{name} lacks the keys {missing}.")
    try:
        json.dumps(config)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be JSON data (numbers, strings, lists, dicts, "
            f"None), which run.json records: {error}"
        ) from None
    unknown = sorted(set(config) - set(TRAINING_KEYS))
    if unknown:
        raise _unknown([unknown[0]], sorted(TRAINING_KEYS), where=name)
    for key, kind in TRAINING_KEYS.items():
        if key in config:
            check_value(key, config[key], kind)
    if config.get("data") is None and config["epochs"] > 0:
        raise ValueError(
            f"{name} trains (epochs={config['epochs']}) but names no data; "
            'set "data" to a dataset spec, or epochs=0.'
        )
    for key in SPECS:
        if config.get(key) is not None:
            _check_arguments(key, config[key])


def _check_arguments(spec_key, spec):
    kwargs = spec.get("kwargs", {})
    check_value(f"{spec_key}.kwargs", kwargs, DICT)
    parameters, _ = arguments(spec_key, spec)
    for name, value in kwargs.items():
        kind = _argument_kind(spec_key, spec, name)
        check_value(f"{spec_key}.kwargs.{name}", value, kind)
    missing = [
        name
        for name, default in parameters.items()
        if default is inspect.Parameter.empty and name not in kwargs
    ]
    if missing:
        raise ValueError(
            f"{spec_key}.kwargs lacks {', '.join(missing)}, which "
            f"{_function_name(spec_key, spec)} requires; add them to the "
            "config."
        )


def check_value(key, value, kind):
    """`value` made canonical (an int for a number becomes a float), or a
    ValueError naming `key`, what it takes and what it received."""
    if not kind.accepts(value):
        raise ValueError(
            f"{key} must be {kind.description}, received {value!r}"
        )
    return kind.convert(value)


def changes(old, new):
    """`[(dotted key, old value, new value)]` where two configs differ,
    once every left-out training key and function argument is given its
    default (so writing a default out is no change)."""
    return _differences(_effective(old), _effective(new), "")


def _effective(config):
    config = {**DEFAULTS, **json.loads(json.dumps(config))}
    for key in SPECS:
        spec = config.get(key)
        try:
            parameters, _ = arguments(key, spec)
        except (ValueError, TypeError):
            continue  # no function: compare the spec as written
        defaults = {
            name: default
            for name, default in parameters.items()
            if default is not inspect.Parameter.empty
        }
        spec["kwargs"] = json.loads(
            json.dumps({**defaults, **spec.get("kwargs", {})}, default=str)
        )
    return config


def _differences(old, new, prefix):
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [(prefix, old, new)]
    found = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}.{key}" if prefix else str(key)
        found += _differences(old.get(key, ABSENT), new.get(key, ABSENT), name)
    return found


def _unknown(path, known, problem=None, where="The config"):
    if len(path) == 1:
        message = f"{where} has no key {path[0]!r}"
    else:
        message = f"{'.'.join(path[:-1])} has no key {path[-1]!r}"
    if problem:
        message += f": {problem}"
    close = difflib.get_close_matches(path[-1], known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ValueError(
        f"{message}.{hint} Valid keys there: {', '.join(known) or 'none'}."
    )


def _function_name(spec_key, spec):
    registry, _ = SPECS[spec_key]
    if "name" in spec:
        return f"the {registry.kind} {spec['name']!r}"
    return repr(spec["fn"])
