"""The real SmolLM2-135M-Instruct from the installed GGUF file, against
the independent numpy reference (tests/models/causal_lm/reference.py):
logits, greedy answers, the chat template, perplexity."""

import numpy as np
import pytest

from mmkeras.data.documents import GETTYSBURG_DECLARATION
from mmkeras.data.documents import read_text
from mmkeras.evaluation.language import perplexity_of
from mmkeras.models.causal_lm import from_gguf

FRANCE = "The capital of France is"
SKY = "What color is the sky?"
# Code, digits, Unicode and an emoji: the tokenizer's harder paths too.
PROMPTS = [FRANCE, SKY, "def f(x):\n    return x ** 2  # 1234 café 🚀"]


@pytest.fixture(scope="module")
def model(smollm2_path):
    return from_gguf(smollm2_path)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_match_the_numpy_reference(model, smollm2_reference, prompt):
    ids = smollm2_reference.encode(prompt)
    assert model.preprocessor.tokenize([prompt])[0].numpy().tolist() == ids
    inputs = np.array([ids], "int32")
    logits = model({"token_ids": inputs, "padding_mask": inputs >= 0})
    expected = smollm2_reference.logits(ids)
    np.testing.assert_allclose(logits[0], expected, atol=1e-4, rtol=0)


def test_greedy_answers_are_the_reference_s(model, smollm2_reference):
    chat = model.preprocessor.apply_chat_template
    assert chat(SKY) == smollm2_reference.chat_prompt(SKY)
    prompts = [FRANCE, chat(SKY), chat("Hi!")]
    # One batch of very different lengths (one traced loop: each new
    # shape traces the 30 blocks again); tests/models/causal_lm/
    # test_causal_lm.py checks that a batch answers as each prompt alone.
    answers = model.generate(prompts, max_new_tokens=10)
    assert answers[0].startswith(" Paris.")
    assert answers[1].startswith("The sky is a beautiful shade of blue.")
    reference = smollm2_reference.with_dtype(np.float32)
    end = reference.eos_id
    for prompt, answer in zip(prompts, answers, strict=True):
        ids = reference.generate(reference.encode(prompt), 10)
        assert answer == reference.decode([i for i in ids if i != end])
    # The last answer ends its turn (at token 10), and the end token is
    # not in the text.
    ids = reference.generate(reference.encode(prompts[2]), 10)
    assert ids[-1] == end
    assert answers[2] == "Hello! How can I assist you today?"


def test_perplexity_matches_the_reference(model, smollm2_reference):
    text = read_text(GETTYSBURG_DECLARATION)
    value, tokens = perplexity_of(model, text)
    assert tokens == len(smollm2_reference.encode(text))
    expected = smollm2_reference.with_dtype(np.float32).perplexity(text)
    assert value == pytest.approx(expected, rel=1e-4)
    assert 5 < value < 30
