"""Vision-language instructions: the turns of each source, the splits (the
held-out emoji style), the mixture, and the exact scoring rules."""

import collections
import json

import numpy as np
import pytest
from PIL import Image

import mmkeras
from mmkeras.data import vision_language as vl
from mmkeras.data.emoji import EmojiRecord
from tests.data.test_easy_vqa import ANSWERS
from tests.data.test_easy_vqa import QUESTIONS
from tests.data.test_emoji import write_npm


@pytest.fixture(scope="module")
def npm(tmp_path_factory):
    return write_npm(tmp_path_factory.mktemp("node_modules"))


@pytest.fixture(scope="module")
def easy_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("easy_vqa")
    (root / "answers.txt").write_text("\n".join(ANSWERS) + "\n")
    rng = np.random.default_rng(0)
    for split, questions in QUESTIONS.items():
        (root / split / "images").mkdir(parents=True)
        (root / split / "questions.json").write_text(json.dumps(questions))
        for image_id in {q[2] for q in questions}:
            pixels = rng.integers(0, 256, (64, 64, 3), np.uint8)
            Image.fromarray(pixels).save(
                root / split / "images" / f"{image_id}.png"
            )
    return root


def _record(name, subcategory, keywords=()):
    return EmojiRecord(
        "1F000", name, (), tuple(keywords), "", subcategory, "google", b""
    )


def _elements(dataset):
    """The examples of a batched dataset, strings decoded."""
    elements = []
    for batch in dataset.as_numpy_iterator():
        for i in range(len(batch["prompt"])):
            elements.append(
                {
                    key: value[i].decode()
                    if value.dtype == object
                    else value[i]
                    for key, value in batch.items()
                }
            )
    return elements


def _data(split, npm, easy_dir, **kwargs):
    return vl.vision_language_instructions(
        split,
        emoji_source=npm,
        easy_vqa_dir=easy_dir,
        shapes_images=3,
        image_size=16,
        **kwargs,
    )


def test_basics(npm, easy_dir):
    validation = _elements(_data("validation", npm, easy_dir, batch_size=5))
    sources = collections.Counter(e["source"] for e in validation)
    # twitter draws 11 of the 12 concepts, two turns each.
    assert sources == {"emoji": 22, "shapes": 3, "easy_vqa": 1}
    first = validation[0]
    assert first["image"].shape == (16, 16, 3)
    assert first["image"].dtype == np.uint8
    assert first["prompt"] == "<image>\nWhat is in this picture?"
    assert first["answer"] == "A test 0."
    assert first["reference"] == "1F400"
    assert validation[1]["prompt"] == "<image>\nIs this an animal?"
    assert validation[1]["answer"] == "Yes, a test 0."
    shapes = [e for e in validation if e["source"] == "shapes"]
    assert all(e["prompt"] == "<image>\nDescribe the picture." for e in shapes)
    caption = shapes[0]["reference"]
    assert shapes[0]["answer"] == caption[0].upper() + caption[1:] + "."
    (question,) = [e for e in validation if e["source"] == "easy_vqa"]
    assert question["prompt"] == "<image>\nIs there a blue shape?"
    assert (question["answer"], question["reference"]) == ("Yes.", "yes")
    assert mmkeras.data.DATASETS.get("vision_language_instructions") is (
        vl.vision_language_instructions
    )


def test_train_holds_out_the_style_and_mixes_every_example(npm, easy_dir):
    train, validation = _data(None, npm, easy_dir, batch_size=2, seed=1)
    epochs = [_elements(train) for _ in range(2)]
    # google 12 + fluent 11 concepts, two turns each; 3 scenes; 5 questions.
    for elements in epochs:
        counts = collections.Counter(e["source"] for e in elements)
        assert counts == {"emoji": 46, "shapes": 3, "easy_vqa": 5}
    order = [[(e["prompt"], e["reference"]) for e in x] for x in epochs]
    assert sorted(order[0]) == sorted(order[1]) and order[0] != order[1]
    again = _elements(_data("train", npm, easy_dir, batch_size=2, seed=1))
    assert [(e["prompt"], e["reference"]) for e in again] == order[0]
    # The held-out drawings (blue) are in no training image.
    blue = [e["image"] for e in epochs[0] if e["source"] == "emoji"]
    assert not any(np.all(image[8, 12] == (0, 0, 200)) for image in blue)
    held_out = _elements(validation)
    assert np.all(held_out[0]["image"][8, 12] == (0, 0, 200))
    odd = _data("train", npm, easy_dir, batch_size=4, sources="shapes")
    assert len(_elements(odd)) == 0  # whole batches only: 3 < 4


def test_weights_set_each_source_s_share(npm, easy_dir):
    """With weights, sources repeat as needed: an epoch keeps its length
    (54 examples) and a source of weight 0 never appears."""
    weights = {"emoji": 0, "shapes": 3, "easy_vqa": 1}
    elements = _elements(
        _data("train", npm, easy_dir, batch_size=2, weights=weights)
    )
    counts = collections.Counter(e["source"] for e in elements)
    assert sum(counts.values()) == 54 and "emoji" not in counts
    # 3 scenes and 5 questions drawn 3:1, so the scenes repeat.
    assert counts["shapes"] > 3 and counts["shapes"] > 2 * counts["easy_vqa"]


def test_emoji_turns_and_animals():
    cat = _record("cat face", "animal-mammal")
    assert vl.emoji_turns(cat) == (
        ("What is in this picture?", "A cat face."),
        ("Is this an animal?", "Yes, a cat face."),
    )
    rocket = _record("rocket", "transport-air")
    assert vl.emoji_turns(rocket)[1] == ("Is this an animal?", "No, a rocket.")
    assert vl.emoji_turns(_record("octopus", "animal-marine"))[0][1] == (
        "An octopus."
    )
    assert vl.is_animal(_record("grinning cat", "cat-face"))
    assert not vl.is_animal(_record("tulip", "plant-flower"))


def test_caption_rule_is_exact():
    cat = _record("cat face", "animal-mammal", ["cat", "kitten", "<3"])
    for answer in ("A cat face.", "a CAT-face!", "It's a kitten.", "cat"):
        assert vl.caption_correct(answer, cat), answer
    for answer in ("Cats.", "A bobcat.", "A face.", "", "I love <3 it"):
        assert not vl.caption_correct(answer, cat), answer
    keycap = _record("keycap: 1", "keycap")
    assert vl.caption_correct("The keycap 1", keycap)
    assert not vl.caption_correct("The keycap 2", keycap)
    assert vl.caption_correct("ＣＡＴ", cat)  # NFKC: full-width letters
    with pytest.raises(TypeError, match="answer must be a string"):
        vl.caption_correct(None, cat)


def test_shipped_emoji_records_score():
    records = mmkeras.data.emoji_records(styles="google")
    rocket = next(r for r in records if r.unified == "1F680")
    assert vl.caption_correct("A rocket.", rocket)
    assert vl.caption_correct(vl.emoji_turns(rocket)[0][1], rocket)
    assert all(vl.caption_correct(vl.emoji_turns(r)[0][1], r) for r in records)


def test_easy_vqa_parse_is_exact():
    words = tuple(ANSWERS)
    assert vl.easy_vqa_parse("Red.", words) == "red"
    assert vl.easy_vqa_parse("it is RED, red", words) == "red"
    assert vl.easy_vqa_parse("Yes, a red circle.", words) is None
    assert vl.easy_vqa_parse("Grey.", words) is None
    assert vl.easy_vqa_parse("reddish", words) is None
    assert vl.easy_vqa_correct("No.", "no", words)
    assert not vl.easy_vqa_correct("No, blue.", "no", words)
    with pytest.raises(ValueError, match="reference must be an easy-VQA"):
        vl.easy_vqa_correct("Red.", "purple", words)
    assert vl.easy_vqa_parse("Teal!") == "teal"  # the package's vocabulary


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"split": "test"}, ValueError, "split must be one of"),
        ({"sources": ()}, ValueError, "sources must be a non-empty"),
        ({"sources": ("emoji", "coco")}, ValueError, "Received: sources="),
        ({"held_out_style": "apple"}, ValueError, "held_out_style must be"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive"),
        ({"seed": -1}, ValueError, "seed must be a non-negative"),
        ({"weights": {"emoji": 1}}, ValueError, "each of the sources emoji"),
        (
            {"weights": {"emoji": -1, "shapes": 1, "easy_vqa": 1}},
            ValueError,
            "weights must be None or a dict",
        ),
        (
            {"weights": {"emoji": 0, "shapes": 0, "easy_vqa": 0}},
            ValueError,
            "at least one positive",
        ),
    ],
)
def test_bad_arguments_are_named(npm, easy_dir, kwargs, error, match):
    arguments = {"split": "train", "batch_size": 2, **kwargs}
    split = arguments.pop("split")
    with pytest.raises(error, match=match):
        _data(split, npm, easy_dir, **arguments)
