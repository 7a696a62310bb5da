"""`mmkeras zoo list` and `download --all` with one damaged manifest: the
sound entries still show, the damaged one is named, the exit code is 1."""

import pytest
from click.testing import CliRunner

import mmkeras
from mmkeras_cli.main import cli


@pytest.fixture
def damaged_catalogue(tmp_path, monkeypatch):
    entry = tmp_path / "broken.entry"
    entry.mkdir()
    (entry / "manifest.json").write_text("{not json")
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(tmp_path))
    return tmp_path


def test_list_shows_the_sound_entries_and_names_the_damaged_one(
    damaged_catalogue,
):
    result = CliRunner().invoke(cli, ["zoo", "list"])
    assert result.exit_code == 1
    assert "efficientnet_lite0.imagenet" in result.stdout
    assert "broken.entry" not in result.stdout
    assert "Error: broken.entry:" in result.stderr
    assert "manifest" in result.stderr
    sound, _ = mmkeras.zoo.list_entries()
    assert all(name in result.stdout for name in sound)


def test_download_all_fetches_the_sound_entries_then_fails(
    damaged_catalogue, tmp_path, monkeypatch
):
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMKERAS_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["zoo", "download", "--all"])
    assert result.exit_code == 1, result.output
    assert "caption_transformer_small.shapes model.keras:" in result.stdout
    assert result.stderr.count("Error: ") == 1
    assert "Error: broken.entry:" in result.stderr


def test_train_restart_moves_the_old_run_aside(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    result = CliRunner().invoke(
        cli, ["train", "test_tiny", "--out", str(out), "--restart"]
    )
    assert result.exit_code == 0, result.output
    assert f"Moved the previous run to {out}.old-1" in result.stdout
    assert (tmp_path / "run.old-1" / "notes.txt").read_text() == "kept"
    assert (out / "model.keras").exists()
