import json

import pytest
from click.testing import CliRunner

from mmkeras.cli.main import cli
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    model = tiny.model("causal_lm")
    path = str(tmp_path_factory.mktemp("lm") / "model.keras")
    model.save(path)
    return model, path


def _generate(*args):
    return CliRunner().invoke(cli, ["generate", *args])


def test_prompts_are_continued_one_json_line_each(language_model):
    model, path = language_model
    prompts = ["the sky is", "paris"]
    result = _generate(
        path, "--prompt", prompts[0], "--prompt", prompts[1],
        "--max-new-tokens", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines == model.generate(prompts, max_new_tokens=3)


def test_a_chat_message_is_answered_as_it_is(language_model):
    model, path = language_model
    result = _generate(
        path, "--chat", "is the sky blue", "--max-new-tokens", "4"
    )
    assert result.exit_code == 0, result.output
    answer = model.chat("is the sky blue", max_new_tokens=4)
    assert result.output == answer + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --prompt or --chat (one of the two)"),
        (["--prompt", "a", "--chat", "b"], "give --prompt or --chat"),
        (
            ["--prompt", "a", "--max-new-tokens", "0"],
            "0 is not in the range x>=1",
        ),
    ],
)
def test_bad_options_are_usage_errors(language_model, args, message):
    _, path = language_model
    result = _generate(path, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_model_that_is_not_a_language_model_is_refused(tmp_path):
    path = str(tmp_path / "fusion.keras")
    tiny.model("fusion").save(path)
    result = _generate(path, "--prompt", "hello")
    assert result.exit_code == 2
    assert "is a FusionClassifier, not a language model" in result.output
