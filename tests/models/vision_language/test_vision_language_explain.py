"""Attention over the image: the layers' scores, the word -> image-token
maps of both designs and `explain`'s picture (the model, then the
`mmkeras explain` command on the tiny zoo entry)."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mmkeras.cli.main import cli
from mmkeras.explain import PANEL
from mmkeras.layers import GatedCrossAttentionBlock
from mmkeras.layers import PerceiverResampler
from mmkeras.models.serving import RequestError
from mmkeras.models.vision_language import _explain
from mmkeras.testing import tiny_models

CONNECTORS = ["gated_cross_attention", "prefix"]


def _photo(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (40, 30, 3), "uint8")


@pytest.fixture(scope="module", params=CONNECTORS)
def model(request):
    model = tiny_models.model("vision_language", connector=request.param)
    # Open gates, so the image changes the answer.
    for block in getattr(model, "gated_blocks", []):
        block.attention_gate.assign(0.5)
        block.mlp_gate.assign(0.5)
    return model


def test_the_layers_return_their_attention_probabilities():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(2, 9, 8)).astype("float32")
    mask = np.arange(9)[None] < np.array([[9], [5]])
    resampler = PerceiverResampler(3, 2, 2, hidden_dim=8)
    latents = resampler(tokens, padding_mask=mask)
    again, scores = resampler(
        tokens, padding_mask=mask, return_attention_scores=True
    )
    np.testing.assert_array_equal(again, latents)
    assert scores.shape == (2, 2, 2, 3, 9 + 3)  # keys: tokens, latents
    np.testing.assert_allclose(np.sum(scores, -1), 1.0, atol=1e-6)
    # Padded image tokens get none.
    assert np.all(np.asarray(scores)[1, :, :, :, 5:9] == 0.0)

    block = GatedCrossAttentionBlock(2, 16, num_key_value_heads=1)
    x = rng.normal(size=(2, 4, 8)).astype("float32")
    attends = np.array([[0, 1, 1, 1], [1, 1, 1, 1]], bool)
    outputs = block(x, latents, attends_image=attends)
    block.attention_gate.assign(0.7)
    outputs = block(x, latents, attends_image=attends)
    again, scores = block(
        x, latents, attends_image=attends, return_attention_scores=True
    )
    np.testing.assert_array_equal(again, outputs)
    assert scores.shape == (2, 2, 4, 3)
    np.testing.assert_allclose(np.sum(scores, -1), 1.0, atol=1e-6)
    cached, from_cache = block(
        x,
        attends_image=attends,
        cache=block.compute_cache(latents),
        return_attention_scores=True,
    )
    np.testing.assert_allclose(cached, outputs, atol=1e-6)
    np.testing.assert_allclose(from_cache, scores, atol=1e-6)
    assert block(x, return_attention_scores=True)[1] is None


def test_each_word_s_map_over_the_image_tokens_sums_to_one(model):
    pre = model.preprocessor
    prompt = pre.apply_chat_template("<image>\nthe sky is")
    inputs = pre.generate_inputs(_photo(), [prompt])
    maps, share = _explain.image_attention(model, inputs)
    length = inputs["token_ids"].shape[1]
    assert maps.shape == (1, length, 16)  # the encoder's 4x4 tokens
    assert np.all(maps >= 0.0)
    # Rows from the image on (before it the gated design has no map).
    real = model.attends_image(inputs["token_ids"], inputs["padding_mask"])
    rows = maps[np.asarray(real)]
    np.testing.assert_allclose(rows.sum(-1), 1.0, atol=1e-5)
    if model.gated:
        np.testing.assert_array_equal(share, 1.0)
    else:
        # Self-attention spreads over text and image: a share of it.
        shares = share[np.asarray(real)]
        assert np.all((shares > 0.0) & (shares < 1.0))
    # Another image moves the maps.
    other = pre.generate_inputs(_photo(seed=5), [prompt])
    assert not np.allclose(_explain.image_attention(model, other)[0], maps)


def test_explain_answers_as_chat_and_draws_a_map_per_word(model, tmp_path):
    path = tmp_path / "where.png"
    answer = model.explain(_photo(), str(path), question="the sky is")
    expected = model.chat(
        _photo(), "<image>\nthe sky is", max_new_tokens=16, sampler="greedy"
    )
    assert answer == expected
    ids = model.generate(
        _photo(),
        model.preprocessor.apply_chat_template("<image>\nthe sky is"),
        max_new_tokens=16,
        return_strings=False,
    )
    ended = (ids == model.end_token_id) | (ids == model.pad_token_id)
    words = int(np.sum(~ended))
    with Image.open(path) as picture:
        width, height = picture.size
    panels = 1 + words
    assert width == min(panels, 6) * PANEL
    assert height > -(-panels // 6) * PANEL
    with pytest.raises(RequestError, match="takes no texts"):
        model.explain(_photo(), str(path), texts=("a", "b"))


def test_mmkeras_explain_draws_for_the_tiny_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "photo.png"
    Image.fromarray(_photo()).save(image)
    out = tmp_path / "where.png"
    name = "test_vision_language.tiny"
    result = CliRunner().invoke(
        cli,
        ["explain", name, "--image", str(image), "--question", "the sky is",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The answer (the model's chat, tested above), then the picture.
    assert result.output.endswith(f"\n{out}\n")
    assert out.read_bytes().startswith(b"\x89PNG")
