import json
import os

import pytest
import tensorflow as tf
from click.testing import CliRunner

from mmkeras.cli.main import cli
from mmkeras.models import Task
from mmkeras.testing import tiny_models as tiny


def _invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_export_a_keras_file_to_onnx(tmp_path):
    path = str(tmp_path / "classifier.keras")
    tiny.model("fusion").save(path)
    out = tmp_path / "out"
    result = _invoke("export", path, "--format", "onnx", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"onnx: {out / 'onnx' / '1'}"
    # Each slow step is announced on stderr, then timed.
    assert "onnx: converting graph 'logits'..." in result.stderr
    assert "onnx: verifying in a new process: " in result.stderr
    with open(out / "onnx" / "1" / "verify.json") as file:
        assert json.load(file)["logits/logits"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize(
    "make, code, message",
    [
        (lambda d: str(d / "missing.keras"), 2, "missing.keras' not found"),
        (lambda d: "fusion_gated.colour_match", 1, "Did you mean fusion_gated"),
        (
            lambda d: _write(d / "bad.keras", b"zip?"),
            2,
            "bad.keras' is not a valid Keras file: it is not a zip archive",
        ),
    ],
    ids=["missing", "unknown-name", "corrupt"],
)
def test_bad_model_paths_are_one_line_errors(tmp_path, make, code, message):
    result = _invoke("export", make(tmp_path), "--out", str(tmp_path / "o"))
    assert result.exit_code == code
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not os.path.exists(tmp_path / "o" / "saved_model" / "1")


def test_unknown_format_is_a_usage_error(tmp_path):
    result = _invoke(
        "export", "m.keras", "--format", "tflite", "--out", str(tmp_path)
    )
    assert result.exit_code == 2
    assert "'tflite' is not one of" in result.output


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def test_a_model_that_cannot_be_exported_is_one_line(tmp_path):
    result = _invoke(
        "export", "efficientnet_lite0.imagenet", "--out", str(tmp_path)
    )
    assert result.exit_code == 1
    families = ", ".join(sorted(Task.families))
    assert f"mmkeras exports task models ({families})" in result.output
    assert "VQAModel" in families
    assert "EfficientNetLite0Encoder" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path):
    result = _invoke("--debug", "export", "no_such_entry", "--out", "o")
    assert result.exit_code == 1
    assert "No zoo entry named 'no_such_entry'" in str(result.exception)


def test_a_language_model_export_takes_its_lengths(tmp_path):
    path = str(tmp_path / "lm.keras")
    tiny.model("causal_lm").save(path)
    out = tmp_path / "out"
    result = _invoke(
        "export", path, "--out", str(out), "--no-verify", "--no-xla",
        "--max-prompt-length", "8", "--max-new-tokens", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = tf.saved_model.load(str(out / "saved_model" / "1"))
    spec = loaded.signatures["generate_ids"].structured_input_signature[1]
    assert spec["token_ids"].shape.as_list() == [None, 8]
    outputs = loaded.signatures["generate"](prompts=tf.constant(["sky"]))
    assert outputs["answers"].shape == (1,)


def test_lengths_are_refused_by_models_that_take_no_prompts(tmp_path):
    path = str(tmp_path / "classifier.keras")
    tiny.model("fusion").save(path)
    result = _invoke(
        "export", path, "--out", str(tmp_path / "out"), "--max-new-tokens", "3"
    )
    assert result.exit_code == 1
    assert "FusionClassifier takes no max_new_tokens" in result.output
