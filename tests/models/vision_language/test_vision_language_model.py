"""VisionLanguageModel on its tiny models (gated cross-attention and
prefix): training through the shared task test, the trainable weights,
the language model kept exactly at initialisation, cached generation
against full passes with every sampler, and bad input."""

import numpy as np
import pytest
import tensorflow as tf

from mmkeras import samplers
from mmkeras.models import CausalLM
from mmkeras.models.vision_language import builders
from mmkeras.testing import run_task_test
from mmkeras.testing import tiny_models

CONNECTORS = ["gated_cross_attention", "prefix"]
PROMPTS = ["<image>\nthe sky is", "<image>\nparis", "the capital of"]


def _images(count, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), "uint8")


@pytest.fixture(scope="module")
def models():
    return {
        connector: tiny_models.model("vision_language", connector=connector)
        for connector in CONNECTORS
    }


@pytest.fixture(scope="module", params=CONNECTORS)
def model(request, models):
    return models[request.param]


@pytest.fixture(scope="module")
def prompt_inputs(models):
    images = [*_images(2, seed=1), None]
    return {
        connector: model.preprocessor.generate_inputs(images, PROMPTS)
        for connector, model in models.items()
    }


def _reopen_gates(model):
    for block in model.gated_blocks:
        block.attention_gate.assign(builders.TINY_GATES[0])
        block.mlp_gate.assign(builders.TINY_GATES[1])


def _language_model(model):
    return CausalLM(model.backbone, end_token_id=model.end_token_id)


def test_basics():
    images = _images(8)
    data = tf.data.Dataset.from_tensor_slices(
        {
            "image": images,
            "prompt": ["<image>\nthe sky is", "<image>\nis it paris"] * 4,
            "answer": ["blue", "the capital of france"] * 4,
        }
    ).batch(4)
    run_task_test(builders.tiny, data)


def test_only_the_new_weights_train(models):
    gated = models["gated_cross_attention"]
    new = [gated.resampler, *gated.gated_blocks]
    assert gated.backbone.trainable_weights == []
    assert gated.image_encoder.trainable_weights == []
    count = sum(v.numpy().size for v in gated.trainable_weights)
    assert count == sum(layer.count_params() for layer in new) == 7556
    prefix = models["prefix"]
    count = sum(v.numpy().size for v in prefix.trainable_weights)
    # Two dense layers 24 -> 16 -> 16 with biases.
    assert count == prefix.projector.count_params() == 24 * 16 + 16 + 16 * 17


def test_closed_gates_keep_the_language_model_exactly(models):
    model = models["gated_cross_attention"]
    inputs = model.preprocessor.generate_inputs([*_images(2), None], PROMPTS)
    for block in model.gated_blocks:
        block.attention_gate.assign(0.0)
        block.mlp_gate.assign(0.0)
    text = {k: inputs[k] for k in ("token_ids", "padding_mask")}
    expected = _language_model(model)(text).numpy()
    np.testing.assert_array_equal(model(inputs).numpy(), expected)
    np.testing.assert_array_equal(model(text).numpy(), expected)  # no image
    _reopen_gates(model)
    opened = model(inputs).numpy()
    # A text-only row stays the language model's; image rows change
    # from the image token on.
    np.testing.assert_array_equal(opened[2], expected[2])
    first = int(np.argmax(inputs["token_ids"][0] == model.image_token_id))
    np.testing.assert_array_equal(opened[0, :first], expected[0, :first])
    assert np.abs(opened[0, first:] - expected[0, first:]).max() > 1e-3


def test_a_batch_gives_each_prompt_s_logits(model):
    """Left padding shifts neither the image tokens nor the positions."""
    images = [*_images(2, seed=3), None]
    batch = model.preprocessor.generate_inputs(images, PROMPTS)
    together = model(batch).numpy()
    for row, (image, prompt) in enumerate(zip(images, PROMPTS, strict=True)):
        alone = model.preprocessor.generate_inputs([image], [prompt])
        real = alone["padding_mask"].numpy()[0]
        count = int(real.sum())
        np.testing.assert_allclose(
            together[row, -count:],
            model(alone).numpy()[0, real],
            atol=1e-5,
            err_msg=f"prompt {row}",
        )


def test_cached_decoding_equals_the_full_pass(model, prompt_inputs):
    """Every step's logits from the cache (the prefill's, then one token
    at a time) equal the full pass over prompt and answer, and greedy
    chose their argmax (pad and image ids excluded)."""
    inputs = prompt_inputs[model.connector]
    prompt_length = inputs["token_ids"].shape[1]
    ids = model.generate(None, inputs, 6, return_strings=False)
    max_length = prompt_length + 6
    token_ids = np.concatenate([inputs["token_ids"], ids], axis=1)
    mask = np.concatenate([inputs["padding_mask"], np.ones_like(ids, bool)], 1)
    full = model(
        {"image": inputs["image"], "token_ids": token_ids, "padding_mask": mask}
    ).numpy()
    cache = model.build_cache(inputs, max_length)
    spec = model.cache_spec(max_length)
    tf.nest.assert_same_structure(cache, spec)
    for entry, entry_spec in zip(
        tf.nest.flatten(cache), tf.nest.flatten(spec), strict=True
    ):
        assert entry_spec.is_compatible_with(entry), (entry_spec, entry.shape)
    live = np.ones(3, bool)
    for index in range(prompt_length, max_length):
        logits, cache = model.call_with_cache(
            token_ids[:, index - 1 : index], cache, index - 1
        )
        np.testing.assert_allclose(
            logits.numpy()[:, 0], full[:, index - 1], atol=1e-5, rtol=1e-5
        )
        masked = model.mask_pad_logits(full[:, index - 1]).numpy()
        expected = masked.argmax(-1)
        np.testing.assert_array_equal(token_ids[live, index], expected[live])
        live &= token_ids[:, index] != model.end_token_id


def test_every_sampler_generates(models, prompt_inputs):
    model = models["gated_cross_attention"]

    inputs = prompt_inputs["gated_cross_attention"]

    def ids(sampler):
        return model.generate(
            None, inputs, 6, sampler=sampler, return_strings=False
        )

    # Greedy: the cached test. Beam search of width 1 is greedy search
    # (tests/samplers), so the three others.
    for sampler in [
        samplers.BeamSampler(3),
        samplers.TopKSampler(seed=3),
        samplers.TopPSampler(seed=3),
    ]:
        chosen = ids(sampler)
        assert chosen.shape == (3, 6)
        assert not np.any(chosen == model.image_token_id)


def test_chat_writes_the_template(models):
    model = models["gated_cross_attention"]
    image = _images(1)[0]
    reply = model.chat(image, "<image>\nis the sky blue", max_new_tokens=3)
    prompt = model.preprocessor.apply_chat_template("<image>\nis the sky blue")
    assert prompt.startswith("<|im_start|>user\n<image>\n")
    assert isinstance(reply, str)
    assert reply == model.generate(image, prompt, max_new_tokens=3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"connector": "llava"}, "connector must be one of"),
        ({"cross_attention_every": 0}, "cross_attention_every must be a pos"),
        ({"image_token_id": 5}, r"image_token_id must be the preprocessor's"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        builders.tiny(**kwargs)


def test_a_prefix_needs_one_id_per_image_token(models):
    model = models["prefix"]
    config = model.get_config()
    preprocessor = model.preprocessor
    config["preprocessor"] = type(preprocessor).from_config(
        {**preprocessor.get_config(), "num_image_tokens": 3}
    )
    rebuilt = type(model).from_config(config)
    with pytest.raises(ValueError, match="must be the encoder's 16 tokens"):
        rebuilt.generate(_images(1)[0], "<image>\nsky", max_new_tokens=2)
