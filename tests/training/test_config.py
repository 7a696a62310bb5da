import importlib
import json
import shlex

import pytest

import mmkeras
from mmkeras import training
from mmkeras.data import DATASETS
from mmkeras.evaluation import EVALUATORS
from mmkeras.models.builders import MODEL_BUILDERS
from tests.training import tiny_task

TINY = "tests/training/tiny_task.py"


def test_load_config_from_a_file():
    config = training.load_config(TINY)
    assert config == tiny_task.get_config()


def test_unknown_name_lists_the_shipped_configs():
    with pytest.raises(ValueError, match="Unknown config 'nope'"):
        training.load_config("nope")


def test_missing_file_is_named():
    with pytest.raises(ValueError, match="missing.py does not exist"):
        training.load_config("missing.py")


def test_overrides_parse_literals_and_nested_keys():
    config = training.apply_overrides(
        tiny_task.get_config(),
        ["epochs=5", "data.kwargs={'count': 32}", "seed=7", "model.fn=x.y"],
    )
    assert config["epochs"] == 5
    assert config["data"]["kwargs"] == {"count": 32}
    assert config["model"]["fn"] == "x.y"
    assert tiny_task.get_config()["epochs"] == 3


@pytest.mark.parametrize(
    "override, message",
    [("epochs", "key=value"), ("nope=1", "no such key"), ("a.b=1", "'a.b'")],
)
def test_bad_overrides(override, message):
    with pytest.raises(ValueError, match=message):
        training.apply_overrides(tiny_task.get_config(), [override])


@pytest.mark.parametrize("name", training.list_configs())
def test_every_shipped_config_is_data_naming_registered_functions(name):
    module = importlib.import_module(f"mmkeras.configs.{name}")
    # Recipes only: no builder, dataset or evaluator is defined in a config.
    defined = [
        key
        for key, value in vars(module).items()
        if callable(value)
        and getattr(value, "__module__", None) == module.__name__
    ]
    assert defined == ["get_config"]
    config = training.load_config(name)
    json.dumps(config)  # data: `mmkeras train` records it in run.json
    for spec, registry in (
        (config["model"], MODEL_BUILDERS),
        (config["data"], DATASETS),
        (config.get("evaluator"), EVALUATORS),
    ):
        if spec is None:
            assert config["epochs"] == 0 or registry is EVALUATORS
        elif "name" in spec:
            registry.get(spec["name"])
        else:
            assert not spec["fn"].startswith("mmkeras.configs")
    docstring = module.get_config.__doc__
    assert f"mmkeras train {name}" in docstring
    if "zoo" in config:
        # The entry the docstring's command makes.
        assert "mmkeras zoo make" in docstring
        zoo_name = config["zoo"]["name"].format(**config)
        assert mmkeras.zoo.manifest.NAME_PATTERN.match(zoo_name)


def test_the_zoo_entries_are_made_by_their_recorded_commands():
    for name in mmkeras.zoo.list_models():
        command = mmkeras.zoo.info(name)["command"]
        train, _, make = command.partition(" && ")
        words = shlex.split(train)
        assert words[:2] == ["mmkeras", "train"], command
        config = training.apply_overrides(
            training.load_config(words[2]), words[6::2]
        )
        assert config["zoo"]["name"].format(**config) == name
        assert shlex.split(make) == ["mmkeras", "zoo", "make", words[4]]


@pytest.mark.parametrize(
    "source, kind",
    [
        ("def get_config(:\n", "SyntaxError"),
        ("import no_such_module_here\n", "ModuleNotFoundError"),
        ("def get_config():\n    return undefined_name\n", "NameError"),
    ],
)
def test_a_broken_config_file_is_one_clear_error(tmp_path, source, kind):
    path = tmp_path / "broken.py"
    path.write_text(source)
    with pytest.raises(ValueError, match=f"broken.py failed to load: {kind}"):
        training.load_config(str(path))
