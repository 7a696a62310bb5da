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

    Values are Python literals (`3`, `1e-3`, `"adam"`, `[1, 2]`); anything
    else is taken as a string. The key must exist, so a typo is an error,
    not a silently ignored setting.
    """
    config = copy.deepcopy(config)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ValueError(
                f"Overrides look like key=value or a.b=value. Received: "
                f"{override!r}"
            )
        *parents, leaf = key.split(".")
        target = config
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                break
        if not isinstance(target, dict) or leaf not in target:
            raise ValueError(
                f"Cannot set {key!r}: the config has no such key. Its "
                f"top-level keys are {sorted(config)}."
            )
        target[leaf] = _literal(raw)
    return config


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
