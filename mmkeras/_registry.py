"""Registries of named functions: what a training config names.

A config is data (big_vision style): it names its model builder
(`mmkeras.models.builders`), its datasets (`mmkeras.data`) and its
evaluator (`mmkeras.evaluation`) as `{"name": ..., "kwargs": {...}}`,
and these registries turn the names back into functions.
"""

import difflib
import importlib


class Registry:
    """Functions of one kind by name, filled by `register` decorators.

    Args:
        kind: what the functions are, for error messages ("dataset").

    Example:

    >>> evaluators = Registry("evaluator")
    >>> @evaluators.register("constant")
    ... def constant(model, config):
    ...     return {"score": 1.0}
    >>> evaluators.call({"name": "constant"}, None, {})
    {'score': 1.0}
    """

    def __init__(self, kind):
        self.kind = kind
        self._functions = {}

    def register(self, name):
        """A decorator that registers a function under `name`."""

        def decorate(function):
            known = self._functions.get(name)
            if known is not None and known is not function:
                raise ValueError(
                    f"Two {self.kind}s are named {name!r} "
                    f"({_where(known)} and {_where(function)}); rename one."
                )
            self._functions[name] = function
            return function

        return decorate

    def names(self):
        """The registered names, sorted."""
        return sorted(self._functions)

    def get(self, name):
        """The function registered as `name`; an unknown name lists the
        closest ones."""
        if name not in self._functions:
            close = difflib.get_close_matches(str(name), self._functions, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}.{hint} Registered "
                f"{self.kind}s: {', '.join(self.names()) or 'none'}."
            )
        return self._functions[name]

    def resolve(self, spec):
        """The function a config entry names: `{"name": registered}`, or
        `{"fn": "package.module.function"}` for functions outside the
        library (a user's or a test's config)."""
        if not isinstance(spec, dict) or ("name" in spec) == ("fn" in spec):
            raise ValueError(
                f"A config's {self.kind} is a dict with a registered "
                '"name" (or a dotted "fn") and optional "kwargs". '
                f"Received: {spec!r}"
            )
        if "name" in spec:
            return self.get(spec["name"])
        return import_function(spec["fn"])

    def call(self, spec, *args, **extra):
        """Calls the function `spec` names with `*args`, its `kwargs` and
        `extra` keyword arguments (which win)."""
        function = self.resolve(spec)
        return function(*args, **{**spec.get("kwargs", {}), **extra})


def import_function(path):
    """The function at the dotted `path` ("package.module.function")."""
    module_name, _, attribute = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ModuleNotFoundError, AttributeError, ValueError):
        raise ValueError(
            f"Cannot import {path!r} named by the config: give a "
            "registered name or the dotted path of an importable function."
        ) from None


def _where(function):
    return f"{function.__module__}.{function.__qualname__}"
