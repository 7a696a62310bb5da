import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

import mmkeras
from mmkeras.cli.main import cli
from mmkeras_cli import models

ENTRY = "test_vision_language.tiny"


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    """The tiny zoo entry, loaded from a cache of this module's own."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMKERAS_CACHE", str(cache))
        yield mmkeras.zoo.load(ENTRY)


@pytest.fixture
def photo(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 30, 3), "uint8")
    path = tmp_path / "photo.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path


def _chat(*args):
    return CliRunner().invoke(cli, ["chat", *args])


def test_the_answer_is_the_model_s_chat_on_one_line(entry, photo, monkeypatch):
    # The loaded entry itself: one trace of its decoding loop for both
    # (loading by name is `mmkeras explain`'s test).
    monkeypatch.setattr(models, "load_model", lambda name: entry)
    result = _chat(
        ENTRY, "--image", str(photo), "what is this", "--max-new-tokens", "5"
    )
    assert result.exit_code == 0, result.output
    answer = entry.chat(
        photo.read_bytes(), "<image>\nwhat is this", max_new_tokens=5
    )
    assert result.output == " ".join(answer.splitlines()) + "\n"
    assert len(result.output.splitlines()) == 1
    # --sampler reaches generate (a bad one is the sampler's error).
    sampled = _chat(ENTRY, "--image", str(photo), "hi", "--sampler", "nosuch")
    assert sampled.exit_code == 1
    assert "nosuch" in sampled.output


def test_bad_requests_are_named_usage_errors(entry, photo, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cases = [
        (["--image", str(tmp_path / "nosuch.png"), "hi"], "does not exist"),
        (["--image", str(corrupt), "hi"], "is not an image TensorFlow can"),
        (["--image", str(photo), "  "], "the message is empty"),
        (["--image", str(photo), "<image> hi"], "the message holds <image>"),
        (["hi"], "Missing option '--image'"),
    ]
    for args, message in cases:
        result = _chat(ENTRY, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_other_models_are_pointed_to_their_command(entry, photo, tmp_path):
    from mmkeras.testing import tiny_models as tiny

    path = str(tmp_path / "lm.keras")
    tiny.model("causal_lm").save(path)
    result = _chat(path, "--image", str(photo), "hi")
    assert result.exit_code == 2
    assert "is a CausalLM, not a vision-language model" in result.output
    assert "mmkeras generate MODEL --chat" in result.output
    result = CliRunner().invoke(cli, ["generate", ENTRY, "--chat", "hi"])
    assert result.exit_code == 2
    assert f"mmkeras chat {ENTRY} --image IMAGE" in result.output
