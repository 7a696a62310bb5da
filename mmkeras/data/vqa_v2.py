"""VQA v2 (questions + annotations JSON and COCO images) as `tf.data`."""

import collections
import os

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data import _records

ANSWERS_PER_QUESTION = 10
UNKNOWN_ANSWER_ACTIONS = ("skip", "raise", "keep")
# The element's columns, in `Sample.fields` order; the last three need
# annotations.
_COLUMNS = (
    ("image_id", tf.int64),
    ("question_id", tf.int64),
    ("question", tf.string),
    ("answers", tf.string),
    ("answer", tf.string),
    ("answer_id", tf.int32),
)


def vqa_v2(
    questions_file,
    annotations_file,
    images_dir,
    answer_vocabulary=None,
    unknown_answer="skip",
    image_prefix=None,
    image_size=(224, 224),
    normalize="unit",
    augment=False,
    batch_size=None,
    shuffle=False,
    seed=None,
    on_error="raise",
):
    """Reads VQA v2 questions, their annotations and the COCO images.

    Args:
        questions_file: the official questions JSON ("questions": each
            with "image_id", "question", "question_id").
        annotations_file: the official annotations JSON ("annotations":
            each with "question_id", "image_id", "multiple_choice_answer"
            and 10 "answers" with an "answer"), or None (test splits) for
            elements without answers.
        images_dir: the directory holding `{image_prefix}{image_id:012d}.jpg`.
        answer_vocabulary: the answers to classify over, in id order, e.g.
            `build_answer_vocabulary(train_annotations, top_k=3129)`; None
            takes every answer of `annotations_file`, most common first.
        unknown_answer: for a question whose answer is not in the
            vocabulary: "skip" it (counted in the report), "raise" a
            `DataError`, or "keep" it with "answer_id" -1 (for evaluation,
            which scores "answers"; -1 is not a valid training label).
        image_prefix: the file name prefix; None reads "data_subtype" from
            the questions file: "COCO_val2014_" for "val2014".
        image_size, normalize, augment, batch_size, shuffle, seed,
            on_error: as in `mmkeras.data.coco_captions`. Mind that
            augmenting with "flip" makes "left"/"right" answers wrong.

    Returns:
        `(dataset, report)`: a `tf.data.Dataset` of dicts, one per
        question, with "image" (float32 `(*image_size, 3)`), "image_id"
        and "question_id" (int64), "question" (string) and, given
        annotations, "answers" (string `(10,)`), "answer" (the
        "multiple_choice_answer", the most common one) and "answer_id"
        (int32 index in the vocabulary); and a `ReadReport` on the
        questions.

    Bad input: a question or annotation lacking a field or with one of the
    wrong type, a question without an annotation, an annotation without 10
    answers, a missing or undecodable image; a "question_id" given twice
    in either file: the questions using it are all bad, since which record
    is right is unknown. A missing `images_dir`, or no question left to
    read, always raises.

    Example:

    >>> vocabulary = mmkeras.data.build_answer_vocabulary(
    ...     "v2_mscoco_train2014_annotations.json", top_k=3129
    ... )
    >>> ds, report = mmkeras.data.vqa_v2(
    ...     "v2_OpenEnded_mscoco_val2014_questions.json",
    ...     "v2_mscoco_val2014_annotations.json",
    ...     "val2014",
    ...     answer_vocabulary=vocabulary,
    ...     batch_size=64,
    ... )
    """
    _checks.one_of("unknown_answer", unknown_answer, UNKNOWN_ANSWER_ACTIONS)
    pipeline = _records.Pipeline(
        image_size, normalize, augment, batch_size, shuffle, seed
    )
    policy = _records.Policy(questions_file, "questions", on_error)
    data = _records.load_json(
        questions_file, "questions", "a VQA questions file"
    )
    prefix = image_prefix or _image_prefix(data, questions_file)
    annotations = None
    if annotations_file is not None:
        annotations = _annotations_by_question(annotations_file, policy)
    records = [
        (_records.where("questions", i, record, "question_id"), record)
        for i, record in enumerate(data["questions"])
    ]
    question_ids = policy.index(
        _records.ids(records, "question_id"), "question_id"
    )

    def parse(where, record):
        image_id = _records.field(record, "image_id", int)
        question_id = _records.field(record, "question_id", int)
        _records.look_up(question_ids, question_id)
        fields = [image_id, question_id, _records.field(record, "question")]
        if annotations is not None:
            annotation = _records.look_up(
                annotations, question_id, "no annotation has this question_id"
            )
            fields += _answers(annotation, image_id)
        path = os.path.join(images_dir, f"{prefix}{image_id:012d}.jpg")
        return _records.Sample(where, path, fields)

    samples = policy.parse(records, parse)
    if annotations is not None:
        if answer_vocabulary is None:
            answer_vocabulary = _ranked([s.fields[-1] for s in samples])
        samples = _with_answer_ids(
            samples, answer_vocabulary, policy, unknown_answer
        )
    samples = policy.check_images(samples, images_dir)
    report = policy.finish()
    columns = _COLUMNS if annotations is not None else _COLUMNS[:3]
    tensors = {"image": tf.constant([s.image for s in samples], tf.string)}
    for i, (name, dtype) in enumerate(columns):
        values = [s.fields[i] for s in samples]
        shape = (-1, ANSWERS_PER_QUESTION) if name == "answers" else (-1,)
        tensors[name] = tf.reshape(tf.constant(values, dtype), shape)
    return pipeline.dataset(tensors), report


def build_answer_vocabulary(annotations_file, top_k=None):
    """The answers of a VQA annotations file, most common first.

    Counts each question's "multiple_choice_answer"; ties are ordered
    alphabetically, so the result is the same on every run.

    Args:
        annotations_file: the official annotations JSON, usually train's.
        top_k: keep this many answers (3129 is the usual VQA v2 choice);
            None keeps all.

    Returns:
        A list of answer strings; the index is the answer id.

    Example:

    >>> vocabulary = mmkeras.data.build_answer_vocabulary(
    ...     "v2_mscoco_train2014_annotations.json", top_k=3129
    ... )
    """
    _checks.optional_positive_int("top_k", top_k)
    policy = _records.Policy(annotations_file, "annotations", "raise")
    data = _records.load_json(
        annotations_file, "annotations", "a VQA annotations file"
    )
    records = [
        (_records.where("annotations", i, record, "question_id"), record)
        for i, record in enumerate(data["annotations"])
    ]
    # A repeated question would count its answer twice.
    policy.index(_records.ids(records, "question_id"), "question_id")
    answers = policy.parse(
        records,
        lambda where, record: _records.field(record, "multiple_choice_answer"),
    )
    policy.finish()
    return _ranked(answers)[:top_k]


def _ranked(answers):
    counts = collections.Counter(answers)
    return sorted(counts, key=lambda answer: (-counts[answer], answer))


def _image_prefix(data, path):
    subtype = data.get("data_subtype")
    if not isinstance(subtype, str):
        raise _records.DataError(
            f"{os.fspath(path)} has no 'data_subtype' (e.g. \"val2014\") to "
            "name the image files by. Pass image_prefix, e.g. "
            'image_prefix="COCO_val2014_".'
        )
    return f"COCO_{subtype}_"


def _annotations_by_question(path, policy):
    data = _records.load_json(path, "annotations", "a VQA annotations file")
    entries = []
    for index, record in enumerate(data["annotations"]):
        where = f"{os.fspath(path)} annotations[{index}]"
        try:
            question_id = _records.field(record, "question_id", int)
            entries.append((where, question_id, record))
        except _records.Problem as problem:
            # Not counted: its question is, as lacking an annotation.
            if policy.on_error == "raise":
                policy.reject(where, problem)
    return policy.index(entries, "question_id")


def _answers(annotation, image_id):
    """[answers, answer] of a question's annotation, checked."""
    if _records.field(annotation, "image_id", int) != image_id:
        raise _records.Problem(
            _records.MALFORMED,
            f"its annotation has image_id {annotation['image_id']}, the "
            f"question {image_id}",
        )
    answers = _records.field(annotation, "answers", list)
    if len(answers) != ANSWERS_PER_QUESTION:
        raise _records.Problem(
            _records.MALFORMED,
            f"its annotation has {len(answers)} answers, not 10",
        )
    answers = [_records.field(answer, "answer") for answer in answers]
    return [answers, _records.field(annotation, "multiple_choice_answer")]


def _with_answer_ids(samples, vocabulary, policy, unknown_answer):
    ids = {answer: i for i, answer in enumerate(vocabulary)}
    kept = []
    for sample in samples:
        answer = sample.fields[-1]
        if answer not in ids and unknown_answer != "keep":
            problem = _records.Problem(
                _records.UNKNOWN_ANSWER,
                f"answer {answer!r} is not in answer_vocabulary",
            )
            fix = (
                "Build the vocabulary with a larger top_k, or pass "
                'unknown_answer="skip" (or "keep", for answer_id -1).'
            )
            policy.reject(sample.where, problem, unknown_answer, fix)
            continue
        fields = sample.fields + [ids.get(answer, -1)]
        kept.append(_records.Sample(sample.where, sample.image, fields))
    return kept
