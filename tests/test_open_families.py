"""A new family lands in its own folder: outside `mmkeras/models`, nothing
asks which family a model is (no `isinstance` on a task class) or lists
the families by hand; they find what they need through the task class
(`preprocessor_cls`, `serving_cls`, `explain`) and `Task.families`.

Checked on the source with `ast`, so a branch no test executes counts.
"""

import ast
import pathlib

import mmkeras.models
from mmkeras.models import Task

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "mmkeras" / "models"
# The library outside its families, and the tests outside the families'.
CHECKED = [
    path
    for area in ("mmkeras", "tests")
    for path in sorted((ROOT / area).rglob("*.py"))
    if MODELS not in path.parents
    and ROOT / "tests" / "models" not in path.parents
]


def _family_names():
    folders = {
        path.name
        for path in MODELS.iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    classes = set(Task.families)
    for cls in Task.families.values():
        classes.update(
            c.__name__ for c in (cls.preprocessor_cls, cls.serving_cls) if c
        )
    return folders, classes


FOLDERS, CLASSES = _family_names()


def _name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _isinstance_offenders(tree):
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call) and _name(node.func) == "isinstance"
        ):
            continue
        if len(node.args) != 2:
            continue
        kinds = node.args[1]
        names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        for kind in names:
            if _name(kind) in CLASSES:
                yield node.lineno, f"isinstance(..., {_name(kind)})"


def _list_offenders(tree):
    for node in ast.walk(tree):
        if not isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            continue
        items = node.keys if isinstance(node, ast.Dict) else node.elts
        named = set()
        for item in items:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                if item.value in FOLDERS | CLASSES:
                    named.add(item.value)
            elif _name(item) in CLASSES:
                named.add(_name(item))
        if len(named) >= 2:
            yield node.lineno, f"a list of families {sorted(named)}"


def test_the_registry_holds_every_family_folder():
    assert len(FOLDERS) >= 4, FOLDERS
    modules = {cls.__module__.split(".")[2] for cls in Task.families.values()}
    assert modules == FOLDERS
    for cls in Task.families.values():
        assert getattr(mmkeras.models, cls.__name__) is cls
        assert cls.serving_cls is not None, cls


def test_nothing_outside_the_families_asks_which_family():
    offenders = []
    for path in CHECKED:
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, what in (
            *_isinstance_offenders(tree),
            *_list_offenders(tree),
        ):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, "\n".join(offenders)
