"""`mmkeras zoo make RUN_DIR`: a zoo entry from a finished training run,
and `mmkeras evaluate` on runs and entries; end to end on the shipped
colour-match config with tiny overrides."""

import json
import os
import shlex

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import mmkeras
from mmkeras.cli.main import cli
from mmkeras.zoo import make

OVERRIDES = [
    "epochs=1",
    "data.kwargs={'num_train': 64, 'num_validation': 32, 'batch_size': 16}",
    "model.kwargs={'fusion': 'gated', 'hidden_dim': 16}",
]


def _invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "fusion")
    words = ["train", "fusion_color_match", "--out", out]
    for override in OVERRIDES:
        words += ["--set", override]
    _invoke(*words)
    return out


@pytest.fixture(scope="module")
def entry(run, tmp_path_factory):
    catalogue = tmp_path_factory.mktemp("catalogue")
    cards = catalogue / "cards.md"
    output = _invoke(
        "zoo", "make", run, "--catalogue", str(catalogue), "--cards", str(cards)
    )
    return catalogue, cards, output


def test_the_run_records_its_config_command_and_metrics(run):
    with open(os.path.join(run, "run.json")) as file:
        recorded = json.load(file)
    assert recorded["config"]["model"]["kwargs"]["fusion"] == "gated"
    words = shlex.split(recorded["command"])
    assert words[:5] == ["mmkeras", "train", "fusion_color_match", "--out", run]
    assert words[5::2] == ["--set"] * 3 and words[6::2] == OVERRIDES
    with open(os.path.join(run, "metrics.json")) as file:
        metrics = json.load(file)
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    raw = mmkeras.data.color_match_arrays(32, seed=1)
    predicted = model.predict(raw, verbose=0).argmax(-1)
    assert metrics == {
        "validation_accuracy": pytest.approx(np.mean(predicted == raw["label"]))
    }


def test_make_writes_the_entry_its_config_names(run, entry):
    catalogue, cards, output = entry
    folder = catalogue / "fusion_gated.color_match"
    assert output.splitlines()[0] == str(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    with open(os.path.join(run, "run.json")) as file:
        command = json.load(file)["command"]
    assert manifest["command"] == (
        f"{command} && mmkeras zoo make {run} --catalogue {catalogue}"
    )
    with open(os.path.join(run, "metrics.json")) as file:
        assert manifest["metrics"] == json.load(file)
    assert manifest["family"] == "FusionClassifier"
    assert manifest["version"] == "2"
    assert manifest["description"].startswith("`gated` fusion of a tiny")
    assert manifest["evaluation"]["evaluator"]["name"] == "accuracy"
    assert [f["name"] for f in manifest["files"]] == [
        "model.keras",
        "golden.npz",
    ]
    card = (folder / "MODEL_CARD.md").read_text()
    assert manifest["command"] in card and "| validation_accuracy |" in card
    assert "`mmkeras predict fusion_gated.color_match --image" in card
    assert cards.read_text() == mmkeras.zoo.entries.model_cards_page(
        str(catalogue)
    )


def test_the_entry_loads_matches_its_golden_outputs_and_re_measures(
    run, entry, monkeypatch
):
    catalogue, _, _ = entry
    monkeypatch.setenv("MMKERAS_ZOO_CATALOGUE", str(catalogue))
    name = "fusion_gated.color_match"
    model = mmkeras.zoo.load(name)
    golden = mmkeras.zoo.download(name)["golden.npz"]
    assert mmkeras.zoo.golden_difference(model, golden) == 0.0
    with np.load(golden) as data:
        raw = mmkeras.data.color_match_arrays(32, seed=1)
        inputs, _ = model.preprocessor(raw)
        np.testing.assert_array_equal(data["input/image"], inputs["image"][:4])
    recorded = mmkeras.zoo.info(name)["metrics"]["validation_accuracy"]
    expected = f"validation_accuracy: {recorded:.4f} (recorded {recorded:.4f})"
    assert _invoke("evaluate", name).strip() == expected
    assert _invoke("evaluate", run).strip() == expected
    keras_file = os.path.join(run, "model.keras")
    assert _invoke("evaluate", keras_file).strip() == expected


def test_a_name_replaces_the_config_s_and_is_recorded(run, tmp_path):
    manifest = make.make_entry(run, "other_fusion.tiny", str(tmp_path))
    assert manifest["name"] == "other_fusion.tiny"
    assert manifest["command"].endswith(
        f"mmkeras zoo make {run} --name other_fusion.tiny "
        f"--catalogue {tmp_path}"
    )
    assert (tmp_path / "other_fusion.tiny" / "model.keras").exists()


def test_untrained_test_models_get_golden_outputs_on_random_inputs(tmp_path):
    out = str(tmp_path / "test_vqa")
    _invoke(
        "train", "test_tiny", "--out", out, "--set", "model.kwargs.family=vqa"
    )
    assert sorted(os.listdir(out)) == ["model.keras", "run.json"]
    manifest = make.make_entry(out, catalogue=str(tmp_path / "zoo"))
    assert manifest["name"] == "test_vqa.tiny" and manifest["metrics"] == {}
    written = tmp_path / "zoo" / "test_vqa.tiny" / "golden.npz"
    shipped = mmkeras.zoo.download("test_vqa.tiny")["golden.npz"]
    tolerance = mmkeras.zoo.golden_tolerance(shipped)
    with np.load(written) as new, np.load(shipped) as old:
        assert sorted(new.files) == sorted(old.files)
        for key in new.files:
            if key.startswith("input/"):
                np.testing.assert_array_equal(new[key], old[key])
            else:
                # Outputs move by round-off when a kernel changes.
                np.testing.assert_allclose(new[key], old[key], atol=tolerance)


def test_a_run_without_a_recorded_command_is_refused(run, tmp_path):
    copy = tmp_path / "run"
    copy.mkdir()
    with open(os.path.join(run, "run.json")) as file:
        recorded = json.load(file)
    recorded["command"] = None
    (copy / "run.json").write_text(json.dumps(recorded))
    (copy / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="records no training command"):
        make.make_entry(str(copy), catalogue=str(tmp_path))


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "is not a training run: it has no run.json"),
        (
            {"run.json": {"config": {"evaluator": {}}, "command": "x"}},
            "has no metrics.json",
        ),
        (
            {"run.json": {"config": {"epochs": 1}, "command": "x"}},
            "has no zoo.name; pass --name",
        ),
    ],
    ids=["no-run", "unfinished", "no-name"],
)
def test_incomplete_runs_are_named(tmp_path, files, message):
    for name, value in files.items():
        (tmp_path / name).write_text(json.dumps(value))
    with pytest.raises(ValueError, match=message):
        make.make_entry(str(tmp_path), catalogue=str(tmp_path))


def test_an_entry_without_evaluation_cannot_be_re_measured():
    result = CliRunner().invoke(cli, ["evaluate", "test_fusion.tiny"])
    assert result.exit_code == 1
    assert "records no evaluation" in result.output
