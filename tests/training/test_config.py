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
        [
            "epochs=5",
            "data.kwargs={'count': 32}",
            "seed=7",
            "model.fn=tests.training.tiny_task.model",
        ],
    )
    assert config["epochs"] == 5
    assert config["data"]["kwargs"] == {"count": 32}
    assert config["seed"] == 7
    assert tiny_task.get_config()["epochs"] == 3


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs", "Overrides look like key=value"),
        ("epochs=-1", "epochs must be a non-negative integer, received -1"),
        ("epochs=two", "epochs must be a non-negative integer, received 'two'"),
        ("epochs=1.5", "epochs must be a non-negative integer, received 1.5"),
        ("epochs=True", "epochs must be a non-negative integer, received True"),
        (
            "backup_every_steps=0",
            "backup_every_steps must be a positive integer or None, received 0",
        ),
        ("seed=-3", "seed must be a non-negative integer, received -3"),
        (
            "mixed_precision=1",
            "mixed_precision must be True or False, received 1",
        ),
        (
            "data.kwargs.batch_size=0",
            "data.kwargs.batch_size must be a positive integer, received 0",
        ),
        ("data.kwargs.count=5.0", "must be a positive integer, received 5.0"),
        (
            "model.kwargs.xla=maybe",
            "xla must be True or False, received 'maybe'",
        ),
        (
            "nope=1",
            "The config has no key 'nope'. Valid keys there: backup_every",
        ),
        ("epochz=1", "The config has no key 'epochz'. Did you mean epochs?"),
        ("a.b=1", "The config has no key 'a'."),
        (
            "data.kwargs.cuont=1",
            "data.kwargs has no key 'cuont': 'tests.training.tiny_task."
            "datasets' takes no such argument. Did you mean count? Valid keys "
            "there: batch_size, count, seed.",
        ),
    ],
)
def test_bad_overrides_name_the_key_what_it_takes_and_the_value(
    override, message
):
    with pytest.raises(ValueError) as error:
        training.apply_overrides(tiny_task.get_config(), [override])
    assert message in str(error.value)
    if "=" in override:
        assert str(error.value).startswith(f"--set {override}: ")


@pytest.mark.parametrize("name", training.list_configs())
def test_every_config_takes_the_training_keys(name):
    config = training.apply_overrides(
        training.load_config(name),
        ["backup_every_steps=7", "validation_steps=2", "seed=3"],
    )
    assert config["backup_every_steps"] == 7
    assert config["validation_steps"] == 2


def test_overrides_reach_any_argument_of_the_named_function():
    # The recipe leaves train_images to the dataset's default.
    config = training.apply_overrides(
        training.load_config("vqa_sort_of_clevr"),
        ["data.kwargs.train_images=4", "model.kwargs.learning_rate=1"],
    )
    assert config["data"]["kwargs"] == {"train_images": 4}
    assert config["model"]["kwargs"]["learning_rate"] == 1.0
    # A key that takes a string takes the text as written.
    config = training.apply_overrides(
        training.load_config("fusion_color_match"), ["zoo.version=3"]
    )
    assert config["zoo"]["version"] == "3"


def test_a_config_with_an_unknown_or_wrong_key_is_refused(tmp_path):
    config = tiny_task.get_config()
    config["epoch"] = 3
    with pytest.raises(ValueError, match="no key 'epoch'. Did you mean epochs"):
        training.train(config, tmp_path / "run", verbose=0)
    config = tiny_task.get_config()
    config["epochs"] = -1
    with pytest.raises(ValueError, match="epochs must be a non-negative"):
        training.train(config, tmp_path / "run", verbose=0)
    config = tiny_task.get_config()
    config["data"]["kwargs"] = {"count": "many"}
    with pytest.raises(ValueError, match="count must be a positive integer"):
        training.train(config, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


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
