"""Training configs: small Python modules with a `get_config()`.

A config is a plain dict (big_vision style): the docstring of `get_config`
states the command, the data, the expected metric and the time it takes.
`model`, `data` and `evaluator` name registered functions
(`mmkeras.models.builders.MODEL_BUILDERS`, `mmkeras.data.DATASETS`,
`mmkeras.evaluation.EVALUATORS`) as `{"name": ..., "kwargs": {...}}`; a
user's or a test's config may name any importable function as
`{"fn": "package.module.function", "kwargs": {...}}` instead.
"""

import ast
import copy
import importlib
import importlib.util
import os

from mmkeras import _registry
from mmkeras.data.registry import build_splits
from mmkeras.models.builders import MODEL_BUILDERS
from mmkeras.training import _keys

REQUIRED_KEYS = ("model", "data", "epochs")


def load_config(name_or_path):
    """Loads `mmkeras.configs.<name>` or a `.py` file; returns its dict."""
    if name_or_path.endswith(".py"):
        if not os.path.isfile(name_or_path):
            raise ValueError(f"Config file {name_or_path} does not exist.")
        spec = importlib.util.spec_from_file_location(
            "mmkeras_user_config", name_or_path
        )
        module = importlib.util.module_from_spec(spec)
        _run_user_code(name_or_path, spec.loader.exec_module, module)
    else:
        try:
            module = importlib.import_module(f"mmkeras.configs.{name_or_path}")
        except ModuleNotFoundError:
            raise ValueError(
                f"Unknown config {name_or_path!r}. Pass a name from "
                f"mmkeras/configs/ ({', '.join(list_configs())}) or the "
                "path of a .py file with a get_config() function."
            ) from None
    if not hasattr(module, "get_config"):
        raise ValueError(f"Config {name_or_path} has no get_config().")
    config = _run_user_code(name_or_path, module.get_config)
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ValueError(f"Config {name_or_path} lacks the keys {missing}.")
    _keys.check_config(config, f"Config {name_or_path}")
    return config


def _run_user_code(name, function, *args):
    """Runs a config's code; its errors (a typo, a failed import) become
    one line naming the config, not a traceback from the CLI."""
    try:
        return function(*args)
    except Exception as error:
        raise ValueError(
            f"Config {name} failed to load: {type(error).__name__}: {error}"
        ) from error


def list_configs():
    """Names of the configs that ship in `mmkeras.configs`."""
    directory = os.path.join(os.path.dirname(__file__), "..", "configs")
    return sorted(
        name[:-3]
        for name in os.listdir(directory)
        if name.endswith(".py") and not name.startswith("_")
    )


def apply_overrides(config, overrides):
    """Returns a copy of `config` with `key.sub=value` overrides applied.

    Values are Python literals (`3`, `1e-3`, `[1, 2]`, `None`); a key that
    takes a string takes the text as written (`model.kwargs.fusion=gated`).
    Each value is checked against what its key takes: the training keys
    every config accepts (`epochs`, `steps_per_epoch`, `validation_steps`,
    `backup_every_steps`, `seed`, `mixed_precision`, ...), or any argument
    of the function a spec names (`data.kwargs.num_train`), of the kind of
    its value in the config or its default. A wrong kind, a count below 1
    or an unknown key is a ValueError naming the override, the key, what
    it takes and what it received, e.g. `--set epochs=-1: epochs must be
    a non-negative integer, received -1`.
    """
    config = copy.deepcopy(config)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ValueError(
                f"Overrides look like key=value or a.b=value. Received: "
                f"{override!r}"
            )
        try:
            _set(config, key.split("."), raw)
        except ValueError as error:
            raise ValueError(f"--set {override}: {error}") from None
    _keys.check_config(config)
    return config


def _set(config, path, raw):
    kind = _keys.expected(config, path)
    value = _literal(raw)
    if kind.text and not isinstance(value, str):
        value = raw  # `zoo.version=3` means the text "3"
    value = _keys.check_value(".".join(path), value, kind)
    target = config
    for key in path[:-1]:
        target = target.setdefault(key, {})  # a spec without "kwargs"
    target[path[-1]] = value


def resolve(spec):
    """Calls the function a `{"fn": "mmkeras....", "kwargs": {}}` names
    (a config's `callbacks`)."""
    function = _registry.import_function(spec["fn"])
    return function(**spec.get("kwargs", {}))


def build_model(config):
    """The compiled model the config's `model` names."""
    return MODEL_BUILDERS.call(config["model"])


def build_datasets(config, split=None):
    """`(train, validation)` of the config's `data`, or the one `split`
    (`"train"` or `"validation"`)."""
    return build_splits(config["data"], split)


def _literal(raw):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
