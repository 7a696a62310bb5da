"""The CausalLM task on its tiny model: cached generation against full
passes, batches against single prompts, every sampler, XLA, the chat
template, training, and what bad input gets."""

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.models.causal_lm import builders
from mmkeras.testing import run_task_test
from mmkeras.testing import tiny_models

# The last holds an end token, as every chat prompt after a turn does.
PROMPTS = [
    "the capital of france is",
    "sky",
    "blue blue sky is the",
    "<|im_start|>user\nsky<|im_end|>\n<|im_start|>assistant\n",
]


@pytest.fixture(scope="module")
def model():
    return tiny_models.model("causal_lm")


def _full_pass_greedy(model, prompt, steps):
    """Greedy ids from full forward passes over the growing text: no
    cache, no padding, no sampler."""
    ids = list(np.asarray(model.preprocessor.tokenize([prompt])[0]))
    answer = []
    for _ in range(steps):
        inputs = np.array([ids], "int32")
        logits = model({"token_ids": inputs, "padding_mask": inputs >= 0})
        token = int(np.argmax(logits[0, -1]))
        if token == model.end_token_id:
            break
        ids.append(token)
        answer.append(token)
    return answer


def _answer_ids(ids, model):
    return [int(i) for i in ids if i != model.pad_token_id]


def test_cached_greedy_generation_equals_full_passes(model):
    ids = model.generate(PROMPTS, max_new_tokens=6, return_strings=False)
    assert ids.shape == (4, 6)
    for prompt, row in zip(PROMPTS, ids, strict=True):
        assert _answer_ids(row, model) == _full_pass_greedy(model, prompt, 6)


def test_a_batch_answers_as_each_prompt_alone(model):
    together = model.generate(PROMPTS, max_new_tokens=5)
    alone = [model.generate(p, max_new_tokens=5) for p in PROMPTS]
    assert together == alone
    assert all(isinstance(answer, str) for answer in alone)


@pytest.mark.parametrize("sampler", ["greedy", "beam", "top_k", "top_p"])
def test_every_sampler_and_xla_generate(model, sampler):
    from mmkeras import samplers

    chosen = samplers.get(sampler)
    if getattr(chosen, "stochastic", False):
        chosen = type(chosen)(seed=3)
    plain = model.generate(
        PROMPTS, max_new_tokens=4, sampler=chosen, return_strings=False
    )
    compiled = model.generate(
        PROMPTS,
        max_new_tokens=4,
        sampler=chosen,
        jit_compile=True,
        return_strings=False,
    )
    assert plain.shape == (4, 4)
    assert np.all((plain >= 0) & (plain < model.vocabulary_size))
    np.testing.assert_array_equal(plain, compiled)


def test_chat_uses_the_model_template(model):
    prompt = model.preprocessor.apply_chat_template("is the sky blue")
    assert prompt == (
        "<|im_start|>user\nis the sky blue<|im_end|>\n<|im_start|>assistant\n"
    )
    assert model.chat("is the sky blue", max_new_tokens=4) == model.generate(
        prompt, max_new_tokens=4
    )
    ids = model.preprocessor.tokenize([prompt])[0].numpy().tolist()
    start = model.tokenizer.token_to_id("<|im_start|>")
    assert ids[0] == start and ids.count(start) == 2


def test_an_empty_prompt_starts_a_document(model):
    inputs = model.preprocessor.generate_preprocess(["", "sky"])
    assert inputs["token_ids"].shape == (2, 16)
    first = inputs["token_ids"].numpy()[0][inputs["padding_mask"].numpy()[0]]
    assert first.tolist() == [model.preprocessor.empty_prompt_token_id]
    answers = model.generate(["", "sky"], max_new_tokens=3)
    assert answers[1] == model.generate("sky", max_new_tokens=3)


def test_bad_generation_arguments_are_refused(model):
    with pytest.raises(ValueError, match="max_new_tokens must be a positive"):
        model.generate("sky", max_new_tokens=0)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive"):
        model.generate("sky", max_new_tokens=-3)
    with pytest.raises(ValueError, match="room for a prompt"):
        model.generate("sky", max_new_tokens=128)
    long_prompt = " ".join(["sky"] * 130)
    with pytest.raises(
        ValueError, match=r"prompt 1 has 259 tokens, more than the 120 "
    ):
        model.generate(["sky", long_prompt], max_new_tokens=8)
    with pytest.raises(TypeError, match="prompts must be a string"):
        model.generate([1, 2])
    with pytest.raises(ValueError, match="messages\\[0\\] must be a dict"):
        model.chat([{"role": "robot", "content": "hi"}])


def test_the_preprocessor_teaches_next_tokens(model):
    inputs, labels, weights = model.preprocessor(
        tf.constant(["the sky is blue", "paris"])
    )
    ids = model.preprocessor.tokenize(["the sky is blue"])[0].numpy()
    count = len(ids)
    np.testing.assert_array_equal(inputs["token_ids"][0, : count - 1], ids[:-1])
    np.testing.assert_array_equal(labels[0, : count - 1], ids[1:])
    assert weights.numpy()[0].tolist() == [1.0] * (count - 1) + [0.0] * (
        builders.TINY_LENGTH - count + 1
    )


def test_the_task_trains_saves_and_runs_mirrored():
    texts = ["the capital of france is paris", "the sky is blue"] * 4
    data = tf.data.Dataset.from_tensor_slices(texts).batch(4)

    def build():
        return builders.tiny()

    run_task_test(build, data)
