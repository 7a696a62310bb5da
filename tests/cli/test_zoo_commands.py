"""`mmkeras evaluate`, `mmkeras zoo make` and `mmkeras zoo cards` as
commands (their end-to-end runs are in tests/zoo/test_make.py)."""

from click.testing import CliRunner

import mmkeras
from mmkeras.cli.main import cli


def _invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_zoo_cards_writes_the_page_of_every_card(tmp_path):
    out = tmp_path / "cards.md"
    result = _invoke("zoo", "cards", "--catalogue", "zoo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert out.read_text() == mmkeras.zoo.entries.model_cards_page("zoo")


def test_the_help_lists_the_new_commands():
    assert "evaluate" in _invoke("--help").output
    zoo_help = _invoke("zoo", "--help").output
    assert "make" in zoo_help and "cards" in zoo_help


def test_zoo_make_of_a_folder_that_is_no_run_is_one_line(tmp_path):
    result = _invoke("zoo", "make", str(tmp_path), "--catalogue", str(tmp_path))
    assert result.exit_code == 1
    assert "is not a training run: it has no run.json" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_evaluate_of_an_unknown_name_offers_the_closest(tmp_path):
    result = _invoke("evaluate", "fusion_gated.colour_match")
    assert result.exit_code == 1
    assert "Did you mean fusion_gated.color_match" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_zoo_make_into_another_catalogue_leaves_the_docs_cards_alone(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "model-cards.md"
    page.write_text("the repository's cards\n")
    run = str(tmp_path / "run")
    runner = CliRunner()
    family = "model.kwargs.family=fusion"
    trained = runner.invoke(
        cli, ["train", "test_tiny", "--out", run, "--set", family]
    )
    assert trained.exit_code == 0, trained.output
    made = runner.invoke(cli, ["zoo", "make", run, "--catalogue", "mine"])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "mine" / "test_fusion.tiny" / "manifest.json").exists()
    assert page.read_text() == "the repository's cards\n"
