"""easy-VQA on a tiny copy of the package's layout, and on the package.

The fixture mirrors `easy_vqa/data/`: `answers.txt`, then per split a
`questions.json` of [question, answer, image_id] and `images/{id}.png`.
The real-data test needs `easy-vqa==1.0` (a dev extra), and never skips.
"""

import importlib
import json
import re
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

# The package exports a function of the same name; take the module.
ev = importlib.import_module("mmkeras.data.easy_vqa")

# The package's vocabulary, reversed: the reader must keep the file order.
ANSWERS = [
    "no",
    "blue",
    "brown",
    "triangle",
    "yellow",
    "rectangle",
    "black",
    "teal",
    "yes",
    "gray",
    "red",
    "green",
    "circle",
]
QUESTIONS = {
    "train": [
        ["what shape is in the image?", "circle", 7],
        ["what color is the shape?", "teal", 0],
        ["is there a red shape?", "no", 7],
        ["is there not a circle?", "no", 2],
        ["what is the teal shape?", "triangle", 0],
    ],
    "test": [["is there a blue shape?", "yes", 4]],
}


@pytest.fixture
def pixels():
    rng = np.random.default_rng(0)
    ids = {"train": [0, 2, 7], "test": [4]}
    return {
        split: {i: rng.integers(0, 256, (64, 64, 3), np.uint8) for i in ids}
        for split, ids in ids.items()
    }


@pytest.fixture
def data_dir(tmp_path, pixels):
    (tmp_path / "answers.txt").write_text("\n".join(ANSWERS) + "\n")
    for split, questions in QUESTIONS.items():
        (tmp_path / split / "images").mkdir(parents=True)
        (tmp_path / split / "questions.json").write_text(json.dumps(questions))
        for image_id, image in pixels[split].items():
            path = tmp_path / split / "images" / f"{image_id}.png"
            Image.fromarray(image).save(path)
    return tmp_path


def _elements(dataset):
    return list(dataset.as_numpy_iterator())


def test_basics(data_dir):
    assert ev.easy_vqa(data_dir=data_dir).element_spec == {
        "image": tf.TensorSpec((64, 64, 3), tf.float32),
        "question": tf.TensorSpec((), tf.string),
        "answer": tf.TensorSpec((), tf.string),
        "answer_id": tf.TensorSpec((), tf.int32),
    }
    batched = ev.easy_vqa(data_dir=data_dir, image_size=32, batch_size=2)
    assert batched.element_spec["image"].shape.as_list() == [None, 32, 32, 3]
    assert ev.easy_vqa_answers(data_dir) == tuple(ANSWERS)


@pytest.mark.parametrize("split", ["train", "test"])
def test_elements_match_the_files(data_dir, pixels, split):
    elements = _elements(ev.easy_vqa(split, data_dir=data_dir))
    assert len(elements) == len(QUESTIONS[split])
    for element, (question, answer, image_id) in zip(
        elements, QUESTIONS[split], strict=True
    ):
        assert element["question"].decode() == question
        assert element["answer"].decode() == answer
        assert element["answer_id"] == ANSWERS.index(answer)
        expected = pixels[split][image_id] / 255
        np.testing.assert_allclose(element["image"], expected, atol=1e-6)


def test_batches_and_resizes(data_dir, pixels):
    dataset = ev.easy_vqa(data_dir=data_dir, image_size=32, batch_size=2)
    batches = _elements(dataset)
    assert [len(b["answer_id"]) for b in batches] == [2, 2, 1]
    images = np.concatenate([b["image"] for b in batches])
    for image, (_, _, image_id) in zip(images, QUESTIONS["train"], strict=True):
        # Halving bilinearly with half-pixel centres: 2x2 block means.
        block = pixels["train"][image_id].reshape(32, 2, 32, 2, 3)
        expected = block.mean(axis=(1, 3)) / 255
        np.testing.assert_allclose(image, expected, atol=1e-6)


def test_shuffle_is_seeded_and_keeps_answers_with_questions(data_dir, pixels):
    dataset = ev.easy_vqa(data_dir=data_dir, shuffle=True, seed=5)
    again = ev.easy_vqa(data_dir=data_dir, shuffle=True, seed=5)
    epochs = [_elements(dataset) for _ in range(3)]
    by_question = {q: (a, i) for q, a, i in QUESTIONS["train"]}

    def order(elements):
        return [e["question"].decode() for e in elements]

    assert sorted(order(epochs[0])) == sorted(by_question)
    assert order(_elements(again)) == order(epochs[0])
    # Reshuffled each epoch (5! orders: three equal ones would be a bug).
    assert len({tuple(order(e)) for e in epochs}) > 1
    for element in epochs[0]:
        answer, image_id = by_question[element["question"].decode()]
        assert element["answer"].decode() == answer
        np.testing.assert_allclose(
            element["image"], pixels["train"][image_id] / 255, atol=1e-6
        )


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "easy_vqa", None)
    for reader in (ev.easy_vqa, ev.easy_vqa_answers):
        with pytest.raises(ImportError, match=r"pip install easy-vqa==1\.0"):
            reader()


def _rewrite_questions(data_dir, questions):
    (data_dir / "train" / "questions.json").write_text(json.dumps(questions))


@pytest.mark.parametrize(
    "damage, error, match",
    [
        (
            lambda d: (d / "train" / "images" / "7.png").unlink(),
            FileNotFoundError,
            r"7\.png is missing, but its questions refer to image 7",
        ),
        (
            lambda d: (d / "train" / "questions.json").unlink(),
            FileNotFoundError,
            r"questions\.json is missing.*pip install easy-vqa==1\.0",
        ),
        (
            lambda d: (d / "answers.txt").write_text("yes\nno\nyes\n"),
            ValueError,
            r"answers\.txt must list distinct answers",
        ),
        (
            lambda d: _rewrite_questions(d, [["is it?", "maybe", 0]]),
            ValueError,
            r"questions\.json: entry 0 .*\['is it\?', 'maybe', 0\]",
        ),
        (
            lambda d: _rewrite_questions(d, [["is it?", "yes", "0"]]),
            ValueError,
            r"questions\.json: entry 0 .*'0'\]",
        ),
        (
            lambda d: (d / "train" / "questions.json").write_text("[["),
            ValueError,
            r"questions\.json is not valid JSON",
        ),
        (
            lambda d: (d / "answers.txt").write_bytes(b"yes\nno\ncaf\xe9\n"),
            ValueError,
            r"answers\.txt is not UTF-8 text: line 3 has the byte b'\\xe9'",
        ),
        (
            lambda d: (d / "train" / "images" / "2.png").write_bytes(b"x"),
            ValueError,
            r"2\.png is not a readable image",
        ),
        (
            lambda d: Image.new("RGB", (64, 32)).save(
                d / "train" / "images" / "0.png"
            ),
            ValueError,
            r"0\.png must be a 64x64 image, but is 64x32",
        ),
    ],
)
def test_bad_files_are_named(data_dir, damage, error, match):
    damage(data_dir)
    with pytest.raises(error, match=re.escape(str(data_dir)) + ".*" + match):
        ev.easy_vqa(data_dir=data_dir)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "val"}, "split must be one of 'train', 'test'"),
        ({"image_size": -1}, "image_size=-1"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"seed": 1.5}, "seed=1.5"),
    ],
)
def test_bad_arguments_are_named(data_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ev.easy_vqa(data_dir=data_dir, **kwargs)


def test_the_installed_package_matches_its_published_stats():
    # Imported here so a missing package fails this test, not the file.
    import easy_vqa as package

    answers = ev.easy_vqa_answers()
    assert answers == tuple(package.get_answers())
    assert len(answers) == 13
    # The package's data/README.md: 38,575 train and 9,673 test questions,
    # of which 28,407 and 7,136 are yes/no.
    for split, count, yes_no in [("train", 38575, 28407), ("test", 9673, 7136)]:
        dataset = ev.easy_vqa(split, batch_size=1024)
        assert dataset.element_spec["image"].shape.as_list()[1:] == [64, 64, 3]
        ids = np.concatenate([b["answer_id"].numpy() for b in dataset])
        assert len(ids) == count
        yes_no_ids = [answers.index("yes"), answers.index("no")]
        assert np.isin(ids, yes_no_ids).sum() == yes_no
    # The test split, against the package's own readers.
    texts, test_answers, image_ids = package.get_test_questions()
    columns = [
        (b["question"].numpy(), b["answer"].numpy())
        for b in ev.easy_vqa("test", batch_size=1024)
    ]
    assert [q.decode() for qs, _ in columns for q in qs] == texts
    assert [a.decode() for _, ans in columns for a in ans] == test_answers
    paths = package.get_test_image_paths()
    for i in [0, len(texts) - 1]:
        element = next(iter(ev.easy_vqa("test").skip(i)))
        with Image.open(paths[image_ids[i]]) as image:
            expected = np.asarray(image.convert("RGB")) / 255
        np.testing.assert_allclose(element["image"], expected, atol=1e-6)
