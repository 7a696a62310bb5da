import pytest

from mmkeras import training
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
