"""The vision_language evaluator: which held-out examples it asks, how it
scores their answers, the language kept without an image, the photos."""

import numpy as np
import pytest

from mmkeras import evaluation
from mmkeras.data.vision_language import WHAT_PROMPT
from mmkeras.evaluation import vision_language as ev
from mmkeras.testing import tiny_models
from tests.data.test_vision_language import easy_dir  # noqa: F401 (fixture)
from tests.data.test_vision_language import npm  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def model():
    return tiny_models.model("vision_language")


@pytest.fixture(scope="module")
def config(npm, easy_dir):  # noqa: F811 (fixtures)
    return {
        "data": {
            "name": "vision_language_instructions",
            "kwargs": {
                "emoji_source": str(npm),
                "easy_vqa_dir": str(easy_dir),
                "shapes_images": 3,
                "image_size": 32,
            },
        },
        "evaluator": {
            "name": "vision_language",
            "kwargs": {
                "max_examples": 3,
                "max_new_tokens": 2,
                "photos": [],
                "text_characters": 60,
            },
        },
    }


def test_the_untrained_model(model, config):
    # easy-VQA's answers are generated as the emoji's are (test_the_scoring).
    kwargs = {**config["data"]["kwargs"], "sources": ["emoji", "shapes"]}
    config = {**config, "data": {**config["data"], "kwargs": kwargs}}
    metrics = evaluation.evaluate(model, config)
    # The twitter style draws 11 of the 12 concepts: 3 of their "what"
    # turns.
    assert metrics["held_out_caption_examples"] == 3
    assert "easy_vqa_examples" not in metrics
    assert 0.0 <= metrics["held_out_caption_accuracy"] <= 1.0
    # No image: the gated blocks add nothing, the language model's own
    # perplexity and answers.
    assert metrics["text_perplexity"] == metrics["base_text_perplexity"]
    assert metrics["perplexity_change"] == 0.0
    assert metrics["perplexity_tokens"] > 10
    assert metrics["france_kept"] == metrics["sky_kept"] == 1.0
    assert "photos_correct" not in metrics  # no photo asked
    # Numbers only: the answers are in `score`.
    assert all(isinstance(v, (int, float)) for v in metrics.values())


class FakeAnswers:
    """`generate` that answers by the prompt's text and records what it
    was asked."""

    def __init__(self, replies):
        self.replies = replies
        self.asked = []

    def __call__(self, images, prompts, max_new_tokens=64, **kwargs):
        one = isinstance(prompts, str)
        prompts = [prompts] if one else prompts
        images = [None] * len(prompts) if images is None else images
        for image, prompt in zip(images, prompts, strict=True):
            self.asked.append((image is not None, prompt))
        answers = [
            next(r for key, r in self.replies.items() if key in p)
            for p in prompts
        ]
        return answers[0] if one else answers


def test_the_scoring(model, config, monkeypatch):
    # The held-out concepts sorted by code: TEST 0-7 (1F400-1F407), cat
    # (1F431), rocket (1F680), heart (2764-FE0F); 3 evenly spaced: TEST 0,
    # TEST 5 and the heart, whose keyword is "love".
    fake = FakeAnswers(
        {
            WHAT_PROMPT: " Love, a TEST 5! ",
            "blue shape": "Yes, blue.",  # ambiguous: wrong
            "France": " Rome.",
            "sky": "Green.",
        }
    )
    monkeypatch.setattr(model, "generate", fake)
    results = ev.score(
        model,
        config,
        max_examples=3,
        max_new_tokens=2,
        batch_size=2,
        photos=["chelsea", "rocket"],
        text_characters=60,
    )
    # "love" names the heart, "test 5" TEST 5; not TEST 0.
    assert results["held_out_caption_accuracy"] == pytest.approx(2 / 3)
    assert [a[2] for a in results["answers"]["emoji"]] == [False, True, True]
    assert results["answers"]["emoji"][0][:2] == (
        "<image>\n" + WHAT_PROMPT,
        "Love, a TEST 5!",
    )
    # easy-VQA's one test question, answered ambiguously.
    assert results["easy_vqa_examples"] == 1
    assert results["easy_vqa_accuracy"] == 0.0
    # The language model says otherwise: not kept.
    assert results["france_kept"] == results["sky_kept"] == 0.0
    assert results["france"][0] == " Rome."
    # The photo answers: a cat face is no rocket.
    assert results["photos"] == {
        "chelsea": "Love, a TEST 5!",
        "rocket": "Love, a TEST 5!",
    }
    assert results["photos_correct"] == 0.0
    # Asked in the chat template, each image with its prompt, in batches.
    template = model.preprocessor.apply_chat_template("X")
    emoji = [p for has, p in fake.asked if has and WHAT_PROMPT in p]
    assert len(emoji) == 3 + 2
    assert emoji[0] == template.replace("X", "<image>\n" + WHAT_PROMPT)


def test_photos_scored_by_their_emoji(model, config, monkeypatch):
    # "A kitten." names the cat face (keyword "kitten"), not hot beverage.
    fake = FakeAnswers({WHAT_PROMPT: "A kitten.", "": "?"})
    monkeypatch.setattr(model, "generate", fake)
    monkeypatch.setattr(ev, "_language_kept", lambda *args: {})
    data = {"data": {**config["data"], "kwargs": {
        **config["data"]["kwargs"], "sources": ["shapes"]}}}  # fmt: skip
    results = ev.score(model, data, photos=["chelsea", "coffee"])
    assert results["photos_correct"] == 0.5
    # No emoji or easy-VQA source: nothing of theirs is asked.
    assert "held_out_caption_accuracy" not in results
    assert "easy_vqa_accuracy" not in results
    assert len(fake.asked) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"max_examples": 0}, "max_examples must be a positive integer"),
        ({"photos": ["cat"]}, "photos must be among chelsea, coffee"),
        ({"text_characters": -1}, "text_characters must be a positive"),
    ],
)
def test_bad_arguments(model, config, change, message):
    with pytest.raises(ValueError, match=message):
        ev.score(model, config, **change)


def test_other_data_is_refused(model):
    config = {"data": {"name": "shapes_captions", "kwargs": {}}}
    with pytest.raises(ValueError, match="vision_language_instructions"):
        ev.score(model, config)


def test_evenly_spaced_examples(config):
    examples = ev._examples(config["data"], "emoji", 2, WHAT_PROMPT)
    # The first and the last of the 11 held-out concepts.
    assert examples["reference"] == ["1F400", "2764-FE0F"]
    assert np.asarray(examples["image"]).shape == (2, 32, 32, 3)
    every = ev._examples(config["data"], "emoji", 100)
    assert len(every["prompt"]) == 22  # both turns, none repeated
