"""MODEL arguments: checked without TensorFlow, loaded with mmkeras."""

import os
import zipfile

import click


class ModelArgument(click.ParamType):
    """A zoo entry name or a `.keras` file (with `runs=True`, also a
    `mmkeras train` run directory). A path is checked here, before the
    command imports TensorFlow, so a mistyped one fails at once; a name is
    the zoo's to check."""

    name = "model"

    def __init__(self, runs=False):
        self.runs = runs

    def convert(self, value, param, ctx):
        problem = _path_problem(value, self.runs)
        if problem:
            self.fail(problem, param, ctx)
        return value


MODEL = ModelArgument()
MODEL_OR_RUN = ModelArgument(runs=True)


def load_model(name_or_path):
    """The model a MODEL argument names: a `.keras` file or a zoo entry."""
    import keras

    import mmkeras  # registers the mmkeras classes with Keras

    if not is_path(name_or_path):
        return mmkeras.zoo.load(name_or_path)
    try:
        return keras.saving.load_model(name_or_path)
    except Exception as error:  # zipfile, JSON and Keras errors alike
        cause = error.args[0] if isinstance(error, KeyError) else error
        raise ValueError(
            f"{name_or_path!r} is not a valid Keras file: {cause}"
        ) from error


def shown(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def is_path(value):
    """Zoo names hold no path separator and do not end with `.keras`."""
    return (
        value.endswith(".keras")
        or os.sep in value
        or "/" in value
        or os.path.isfile(value)
    )


def _path_problem(value, runs):
    if not is_path(value):
        return None
    if os.path.isdir(value):
        if runs:
            return None
        inside = os.path.join(value, "model.keras")
        hint = f": give {inside}" if os.path.isfile(inside) else ""
        return f"{value!r} is a folder, not a .keras file{hint}"
    if not os.path.exists(value):
        return (
            f"{value!r} not found: give a .keras file or a zoo entry name "
            "(`mmkeras zoo list`)"
        )
    if not value.endswith(".keras"):
        return (
            f"{value!r} is not a .keras file: give a model saved with "
            "model.save('model.keras'), or a zoo entry name"
        )
    if not zipfile.is_zipfile(value):
        return (
            f"{value!r} is not a valid Keras file: it is not a zip archive "
            "(model.save('model.keras') writes one); it may be empty, "
            "truncated or of another format"
        )
    return None
