"""VQA v2 reader, on tiny files in the published schema."""

import json

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data._records import DataError
from mmkeras.data.vqa_v2 import build_answer_vocabulary
from mmkeras.data.vqa_v2 import vqa_v2
from tests.data import _fixtures

SIZE = _fixtures.SIZE


def test_basics(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    ds, report = vqa_v2(questions, annotations, images_dir, image_size=SIZE)
    _fixtures.assert_specs(
        ds,
        {
            "image": ((*SIZE, 3), tf.float32),
            "image_id": ((), tf.int64),
            "question_id": ((), tf.int64),
            "question": ((), tf.string),
            "answers": ((10,), tf.string),
            "answer": ((), tf.string),
            "answer_id": ((), tf.int32),
        },
    )
    first, second = ds.as_numpy_iterator()
    assert first["question"] == b"What color is it?"
    assert first["answers"].astype(str).tolist() == _fixtures.vqa_answers("red")
    # Both answers occur once, so the vocabulary is alphabetical.
    assert (first["answer"], first["answer_id"]) == (b"red", 0)
    assert (second["answer"], second["answer_id"]) == (b"yes", 1)
    assert (second["question_id"], second["image_id"]) == (20, 2)
    np.testing.assert_allclose(second["image"][..., 2], 1.0, atol=0.01)
    assert report.total == report.kept == 2


def test_build_answer_vocabulary(tmp_path):
    path = tmp_path / "annotations.json"
    answers = ["yes", "no", "yes", "2", "no", "yes", "blue"]
    records = [
        {"question_id": i, "multiple_choice_answer": a}
        for i, a in enumerate(answers)
    ]
    path.write_text(json.dumps({"annotations": records}))
    assert build_answer_vocabulary(path) == ["yes", "no", "2", "blue"]
    assert build_answer_vocabulary(path, top_k=2) == ["yes", "no"]
    records[3]["multiple_choice_answer"] = 2
    path.write_text(json.dumps({"annotations": records}))
    with pytest.raises(DataError, match=r"annotations\[3\] \(question_id=3\)"):
        build_answer_vocabulary(path)


def test_unknown_answers(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    kwargs = {"answer_vocabulary": ["no", "yes"], "image_size": SIZE}
    ds, report = vqa_v2(questions, annotations, images_dir, **kwargs)
    assert [e["answer_id"] for e in ds.as_numpy_iterator()] == [1]
    assert report.skipped == {"unknown answer": 1}
    ds, _ = vqa_v2(
        questions, annotations, images_dir, unknown_answer="keep", **kwargs
    )
    assert [e["answer_id"] for e in ds.as_numpy_iterator()] == [-1, 1]
    with pytest.raises(DataError, match=r"question_id=10\).*'red' is not in"):
        vqa_v2(
            questions, annotations, images_dir, unknown_answer="raise", **kwargs
        )


def test_skip_counts(tmp_path):
    files = _fixtures.vqa_v2(tmp_path, _fixtures.ALL_BAD)
    ds, report = vqa_v2(*files, image_size=SIZE, on_error="skip")
    assert [e["question_id"] for e in ds.as_numpy_iterator()] == [10, 20]
    assert (report.total, report.kept) == (5, 2)
    assert report.skipped == {
        "missing image": 1,
        "corrupt image": 1,
        "malformed record": 1,
    }
    assert "COCO_val2014_000000000003.jpg" in str(report)


@pytest.mark.parametrize(
    "bad, match",
    [
        ("missing", r"question_id=30\).*COCO_val2014_000000000003.jpg"),
        ("corrupt", r"question_id=40\).*COCO_val2014_000000000004.jpg"),
        ("malformed", r"question_id=50\): the record has no field 'question'"),
    ],
)
def test_raise_names_file_and_record(tmp_path, bad, match):
    files = _fixtures.vqa_v2(tmp_path, (bad,))
    with pytest.raises(DataError, match="val2014_questions.json, .*" + match):
        vqa_v2(*files)


def test_question_without_annotation(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    data = json.loads(annotations.read_text())
    del data["annotations"][1]
    annotations.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"question_id=20\): no annotation"):
        vqa_v2(questions, annotations, images_dir)


def test_without_annotations(tmp_path):
    questions, _, images_dir = _fixtures.vqa_v2(tmp_path)
    ds, _ = vqa_v2(questions, None, images_dir, image_size=SIZE)
    assert set(ds.element_spec) == {
        "image",
        "image_id",
        "question_id",
        "question",
    }
    assert len(list(ds)) == 2


def test_image_prefix_needs_data_subtype(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    data = json.loads(questions.read_text())
    del data["data_subtype"]
    questions.write_text(json.dumps(data))
    with pytest.raises(DataError, match="Pass image_prefix"):
        vqa_v2(questions, annotations, images_dir)
    ds, _ = vqa_v2(
        questions,
        annotations,
        images_dir,
        image_prefix="COCO_val2014_",
        image_size=SIZE,
    )
    assert len(list(ds)) == 2


def _rewrite(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_question_id_given_twice(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    _rewrite(
        questions,
        lambda data: data["questions"][1].update(question_id=10),
    )
    match = (
        r"questions.json, questions\[1\] \(question_id=10\): question_id 10 "
        r"is given twice: questions\[0\] \(question_id=10\) has \{'image_id'"
        r": 1, 'question': 'What color is it\?', 'question_id': 10\} and "
        r"questions\[1\] \(question_id=10\) has \{'image_id': 2, 'question':"
        r" 'Is it blue\?', 'question_id': 10\}. Keep one record per id"
    )
    with pytest.raises(DataError, match=match):
        vqa_v2(questions, annotations, images_dir)
    # Both questions are bad: which one the annotation is for is unknown.
    with pytest.raises(DataError, match="skipped 2 of 2 questions: 2 dup"):
        vqa_v2(questions, annotations, images_dir, on_error="skip")


def test_annotation_given_twice(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    _rewrite(
        annotations,
        lambda data: data["annotations"].append(
            {**data["annotations"][1], "multiple_choice_answer": "no"}
        ),
    )
    match = (
        rf"{annotations} annotations\[2\]: question_id 20 is given twice: "
        rf"{annotations} annotations\[1\] has \{{'question_type'"
    )
    with pytest.raises(DataError, match=match):
        vqa_v2(questions, annotations, images_dir)
    ds, report = vqa_v2(
        questions, annotations, images_dir, image_size=SIZE, on_error="skip"
    )
    assert [e["question_id"] for e in ds.as_numpy_iterator()] == [10]
    assert report.skipped == {"duplicate id": 1}
    assert report.first["duplicate id"].startswith(
        "questions[1] (question_id=20): question_id 20 is given twice"
    )
    # The vocabulary would count its answer twice.
    with pytest.raises(DataError, match="question_id 20 is given twice"):
        build_answer_vocabulary(annotations)


def test_empty_annotations_make_no_vocabulary(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text('{"annotations": []}')
    with pytest.raises(DataError, match="has no annotations"):
        build_answer_vocabulary(path)


def test_every_answer_unknown_is_an_error(tmp_path):
    questions, annotations, images_dir = _fixtures.vqa_v2(tmp_path)
    match = (
        r"skipped 2 of 2 questions: 2 unknown answer .* Every record was "
        "skipped, so the dataset would be empty. Pass an answer_vocabulary"
    )
    with pytest.raises(DataError, match=match):
        vqa_v2(questions, annotations, images_dir, answer_vocabulary=["no"])
