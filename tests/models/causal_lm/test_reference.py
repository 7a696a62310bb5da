"""The numpy reference itself: SmolLM2's known answers and its tokenizer.

The golden tests trust `reference.py`; these pin it to facts about the
model (its greedy answers and ids) that do not come from mmkeras.
"""

import numpy as np

SKY_PROMPT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat color is the "
    "sky?<|im_end|>\n<|im_start|>assistant\n"
)


def test_greedy_completes_the_france_prompt(smollm2_reference):
    model = smollm2_reference.with_dtype(np.float32)
    ids = model.encode("The capital of France is")
    assert ids == [504, 3575, 282, 4649, 314]
    assert model.decode(model.generate(ids, 2)) == " Paris."
    exact = smollm2_reference.logits(ids)  # float64, for golden tests
    assert exact.dtype == np.float64 and exact.shape == (5, 49152)
    assert int(exact[-1].argmax()) == 7042  # " Paris"
    cache = {}
    model.logits(ids[:3], cache)
    np.testing.assert_allclose(
        model.logits(ids[3:], cache), exact[3:], atol=2e-4
    )


def test_greedy_answers_the_chat_prompt(smollm2_reference):
    model = smollm2_reference.with_dtype(np.float32)
    prompt = model.chat_prompt("What color is the sky?")
    assert prompt == SKY_PROMPT  # the file's template and system prompt
    ids = model.encode(prompt)
    assert ids[:3] == [1, 9690, 198]  # <|im_start|> is one special token
    answer = model.decode(model.generate(ids, 9))
    assert answer == "The sky is a beautiful shade of blue."


def test_tokenizer_splits_digits_and_round_trips(smollm2_reference):
    text = "In 2024, naïve café-goers paid €12.50 🙂\n\tfor  π"
    ids = smollm2_reference.encode(text)
    digits = [smollm2_reference.decode([i]) for i in ids]
    assert [d for d in digits if d.strip().isdigit()] == list("20241250")
    assert smollm2_reference.decode(ids) == text
