"""Loading a zoo entry: the one code path behind `mmkeras.zoo.load` and
every `from_preset` (encoders and tasks).

An entry is either one `.keras` file or built by the `loader` its
manifest names (a dotted path, imported only when that entry loads: the
loaders build encoders and models, which this module never imports, so
encoders and tasks can use it for their `from_preset`).
"""

import difflib
import importlib
import json
import zipfile

import keras

from mmkeras.zoo import cache
from mmkeras.zoo import registry
from mmkeras.zoo.errors import ZooError
from mmkeras.zoo.manifest import read_manifest


def load(name, load_weights=True, **overrides):
    """The model of the zoo entry `name`, its files verified first.

    Args:
        name: the entry, `<arch>.<tag>` (`mmkeras.zoo.list_models()`).
        load_weights: False gives the entry's architecture with freshly
            initialised weights.
        **overrides: constructor arguments that replace the entry's
            (e.g. `dropout=0.1`); the weights are copied into the new
            model, each variable from its counterpart.

    Returns:
        The model (a task or an encoder), built.

    Example:

    >>> model = mmkeras.zoo.load("test_fusion.tiny")
    >>> fresh = mmkeras.zoo.load("test_fusion.tiny", load_weights=False)
    """
    return _load(name, None, load_weights, overrides)


def from_preset(cls, name, load_weights=None, **overrides):
    """`cls.from_preset(name)`: a preset of `cls` or a zoo entry of it.

    A preset in `cls.presets` is either constructor arguments (an
    architecture-only size preset, such as `"tiny"`: no weights) or the
    name of the zoo entry that holds its weights; `name` may also be a zoo
    entry of `cls` (or of a subclass) directly.

    Args:
        cls: the class asked.
        name: a key of `cls.presets` or a zoo entry name.
        load_weights: None (default) loads the weights when the preset has
            them; True requires them (an architecture-only preset is an
            error); False gives the architecture alone.
        **overrides: constructor arguments that replace the preset's.
    """
    preset = getattr(cls, "presets", {}).get(name)
    if isinstance(preset, dict):
        if load_weights:
            raise ValueError(
                f"{cls.__name__}'s preset {name!r} is architecture only: "
                "it has no weights. Received: load_weights=True. Pass "
                "load_weights=False (or leave it out) for the architecture, "
                f"or use a preset with weights: {_weighted(cls) or 'none'}"
            )
        return cls(**{**preset, **overrides})
    entry = preset if isinstance(preset, str) else name
    if entry not in registry.list_models():
        raise ValueError(_unknown(cls, name))
    return _load(entry, cls, load_weights is not False, overrides)


def _load(name, cls, load_weights, overrides):
    folder = registry.entry_dir(name)
    manifest = read_manifest(folder)
    if cls is not None and manifest["family"] not in _family_names(cls):
        raise ValueError(
            f"The zoo entry {name!r} holds a {manifest['family']}, which "
            f"is not a {cls.__name__}: call {manifest['family']}.from_preset("
            f"{name!r}) or mmkeras.zoo.load({name!r})"
        )
    files = cache.resolve(manifest, folder)
    model = _build(manifest, files, load_weights)
    if overrides:
        model = _overridden(name, model, overrides, load_weights)
    if load_weights and "class_names" in manifest:
        _name_classes(model, manifest, files, overrides)
    return model


def _build(manifest, files, load_weights):
    if "loader" in manifest:
        module, _, function = manifest["loader"].rpartition(".")
        loader = getattr(importlib.import_module(module), function, None)
        if loader is None:
            raise ZooError(
                f"The manifest of {manifest['name']!r} names the loader "
                f"{manifest['loader']!r}, which {module} lacks: upgrade "
                "mmkeras, or fix the manifest's `loader`."
            )
        return loader(files, manifest, load_weights=load_weights)
    (path,) = [p for n, p in files.items() if n.endswith(".keras")]
    if load_weights:
        return keras.saving.load_model(path, safe_mode=True)
    # The architecture alone: the file's config, built and compiled as
    # `load_model` would, without reading its weights.
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return keras.saving.deserialize_keras_object(config, safe_mode=True)


def _name_classes(model, manifest, files, overrides):
    """`model.class_names`: the entry's class names (its manifest's
    `class_names` file, one per line), given to a model whose classifier
    has as many classes; overrides that drop or resize the classifier
    leave the model without names."""
    path = files[manifest["class_names"]["file"]]
    names = read_class_names(path)
    classes = getattr(model, "num_classes", None)
    if classes != len(names) and not overrides:
        raise ZooError(
            f"{path} holds {len(names)} class names, but the model of "
            f"{manifest['name']!r} has {classes} classes; the entry is "
            "inconsistent: remake it with `mmkeras zoo make`."
        )
    if getattr(model, "include_top", True) and classes == len(names):
        model.class_names = names


def read_class_names(path):
    """The class names in the file `path`: UTF-8, one per line, in class
    order (index i names logit i)."""
    with open(path, encoding="utf-8") as file:
        names = file.read().splitlines()
    bad = [
        i for i, name in enumerate(names) if name != name.strip() or not name
    ]
    if bad:
        raise ZooError(
            f"{path}: line {bad[0] + 1} is not a class name (empty, or "
            "spaces around it); the file holds one name per line."
        )
    return tuple(names)


def _overridden(name, model, overrides, load_weights):
    config = model.get_config()
    unknown = sorted(set(overrides) - set(config))
    if unknown:
        raise ValueError(
            f"{type(model).__name__} of {name!r} has no argument "
            f"{', '.join(unknown)}. Received: overrides {sorted(overrides)}. "
            f"Its arguments are {', '.join(sorted(config))}."
        )
    changed = type(model).from_config({**config, **overrides})
    build_config = model.get_build_config()
    if build_config:
        changed.build_from_config(build_config)
    if getattr(model, "compiled", False) and model.get_compile_config():
        changed.compile_from_config(model.get_compile_config())
    if load_weights:
        _copy_weights(name, model, changed, overrides)
    return changed


def _copy_weights(name, source, target, overrides):
    """Each of `target`'s variables from `source`: in order when the
    shapes agree, else by path inside the model (an override such as
    `include_top=False` drops variables)."""
    pairs = list(zip(source.weights, target.weights, strict=False))
    same = len(source.weights) == len(target.weights) and all(
        tuple(s.shape) == tuple(t.shape) for s, t in pairs
    )
    if not same:
        by_path = {_inner(s.path): s for s in source.weights}
        pairs = [(by_path.get(_inner(t.path)), t) for t in target.weights]
        missing = [
            t.path
            for s, t in pairs
            if s is None or tuple(s.shape) != tuple(t.shape)
        ]
        if missing:
            raise ZooError(
                f"The overrides {sorted(overrides)} change the architecture "
                f"of {name!r} so that its weights have nothing for "
                f"{', '.join(missing[:3])}"
                f"{' and more' if len(missing) > 3 else ''}; pass "
                "load_weights=False for the architecture alone"
            )
    for s, t in pairs:
        t.assign(s)


def _inner(path):
    # Without the outer layer's own name, which differs between instances.
    return path.split("/", 1)[-1]


def _family_names(cls):
    names, pending = set(), [cls]
    while pending:
        current = pending.pop()
        names.add(current.__name__)
        pending.extend(current.__subclasses__())
    return names


def _weighted(cls):
    presets = getattr(cls, "presets", {})
    names = [n for n, v in presets.items() if isinstance(v, str)]
    return ", ".join(sorted(names + _entries_of(cls)))


def _entries_of(cls):
    # The sound entries only: a damaged manifest of another family must
    # not break the message about this one.
    families = _family_names(cls)
    manifests, _ = registry.list_entries()
    return [
        name
        for name, manifest in manifests.items()
        if manifest["family"] in families
    ]


def _unknown(cls, name):
    presets = getattr(cls, "presets", {})
    entries = _entries_of(cls)
    close = difflib.get_close_matches(str(name), [*presets, *entries], n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    weighted = sorted(n for n, v in presets.items() if isinstance(v, str))
    return (
        f"Unknown preset for {cls.__name__}. Received: name={name!r}. "
        f"Available presets: {', '.join(sorted(presets)) or 'none'} (with "
        f"weights: {', '.join(weighted) or 'none'}; the others are "
        "architecture only); zoo entries: "
        f"{', '.join(entries) or 'none'}.{hint}"
    )
