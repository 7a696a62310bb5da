"""Tiny dataset files in the published schemas, written to a tmp dir.

Each builder takes `bad`, the kinds of bad input to add (any of "missing",
"corrupt", "malformed"), one record each, so a test can ask for exactly
one problem and check the error it raises.
"""

import json

import numpy as np
from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
SIZE = (8, 12)
ALL_BAD = ("missing", "corrupt", "malformed")


def write_image(path, color, size=(20, 30)):
    """A solid `color` image (format from the suffix) of `size` (h, w)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((*size, 3), color, np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def write_corrupt(path):
    """A real image cut in half: it has a valid header but won't decode."""
    data = write_image(path, GREEN).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def add_bad_images(directory, bad, missing_name, corrupt_name):
    if "corrupt" in bad:
        write_corrupt(directory / corrupt_name)
    if "missing" in bad:
        assert not (directory / missing_name).exists()


def assert_specs(ds, specs):
    """Every key of `specs` is in the dataset with that (shape, dtype)."""
    assert set(ds.element_spec) == set(specs)
    for key, (shape, dtype) in specs.items():
        assert ds.element_spec[key].shape.as_list() == list(shape), key
        assert ds.element_spec[key].dtype == dtype, key


def coco_captions(tmp, bad=()):
    """COCO `captions_*.json`: 2 good images with 3 captions, + bad ones.

    Bad records: caption 31 of missing image 3, caption 41 of corrupt
    image 4, caption 51 with an int "caption" (malformed).
    """
    images_dir = tmp / "val2017"
    write_image(images_dir / "000000000001.jpg", RED)
    write_image(images_dir / "000000000002.png", BLUE)
    images = [
        _coco_image(1, "000000000001.jpg"),
        _coco_image(2, "000000000002.png"),
    ]
    annotations = [
        {"image_id": 1, "id": 11, "caption": "A red square."},
        {"image_id": 2, "id": 21, "caption": "Blue all over."},
        {"image_id": 1, "id": 12, "caption": "Nothing but red."},
    ]
    for kind, image_id in (("missing", 3), ("corrupt", 4)):
        if kind in bad:
            images.append(_coco_image(image_id, f"{image_id:012d}.jpg"))
            annotations.append(
                {"image_id": image_id, "id": image_id * 10 + 1, "caption": kind}
            )
    add_bad_images(images_dir, bad, "000000000003.jpg", "000000000004.jpg")
    if "malformed" in bad:
        annotations.append({"image_id": 1, "id": 51, "caption": 7})
    data = {
        "info": {"description": "fixture", "year": 2017},
        "licenses": [{"url": "", "id": 1, "name": "fixture"}],
        "images": images,
        "annotations": annotations,
    }
    path = tmp / "captions_val2017.json"
    path.write_text(json.dumps(data))
    return path, images_dir


def _coco_image(image_id, file_name):
    return {
        "license": 1,
        "file_name": file_name,
        "coco_url": f"http://images.cocodataset.org/val2017/{file_name}",
        "height": 20,
        "width": 30,
        "date_captured": "2013-11-14 17:02:52",
        "flickr_url": "",
        "id": image_id,
    }


def vqa_v2(tmp, bad=()):
    """VQA v2 val2014 questions + annotations: questions 10 and 20 good.

    Bad records: question 30 of missing image 3, 40 of corrupt image 4,
    50 without a "question" (malformed).
    """
    images_dir = tmp / "val2014"
    write_image(images_dir / "COCO_val2014_000000000001.jpg", RED)
    write_image(images_dir / "COCO_val2014_000000000002.jpg", BLUE)
    add_bad_images(
        images_dir,
        bad,
        "COCO_val2014_000000000003.jpg",
        "COCO_val2014_000000000004.jpg",
    )
    rows = [(1, 10, "What color is it?", "red"), (2, 20, "Is it blue?", "yes")]
    rows += [
        (image_id, image_id * 10, "What is it?", "nothing")
        for kind, image_id in (("missing", 3), ("corrupt", 4), ("malformed", 5))
        if kind in bad
    ]
    questions = [
        {"image_id": i, "question": q, "question_id": qid}
        for i, qid, q, _ in rows
    ]
    if "malformed" in bad:
        del questions[-1]["question"]
    annotations = [_vqa_annotation(i, qid, a) for i, qid, _, a in rows]
    common = {
        "info": {"description": "fixture"},
        "license": {"url": "", "name": "fixture"},
        "data_subtype": "val2014",
    }
    questions_file = tmp / "v2_OpenEnded_mscoco_val2014_questions.json"
    questions_file.write_text(
        json.dumps(
            {**common, "task_type": "Open-Ended", "data_type": "mscoco"}
            | {"questions": questions}
        )
    )
    annotations_file = tmp / "v2_mscoco_val2014_annotations.json"
    annotations_file.write_text(
        json.dumps({**common, "annotations": annotations})
    )
    return questions_file, annotations_file, images_dir


def vqa_answers(answer):
    """The 10 answers of a fixture question: 7 times `answer`, then 3
    others."""
    return [answer] * 7 + ["maybe", "no idea", answer + "ish"]


def _vqa_annotation(image_id, question_id, answer):
    return {
        "question_type": "what color is the",
        "multiple_choice_answer": answer,
        "answers": [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
            for i, a in enumerate(vqa_answers(answer))
        ],
        "image_id": image_id,
        "answer_type": "other",
        "question_id": question_id,
    }


def karpathy(tmp, bad=()):
    """`dataset_coco.json`: image 1 (test, 2 sentences), 2 (train), 3
    (restval), 4 (val).

    Bad records, all in test: missing image 5, corrupt image 6, image 7
    whose "sentences" is a string (malformed).
    """
    images_dir = tmp / "coco"
    rows = [
        (1, "test", RED, ["A red thing.", "Red, all red. "]),
        (2, "train", BLUE, ["A blue thing."]),
        (3, "restval", GREEN, ["A green thing."]),
        (4, "val", RED, ["Val image."]),
    ]
    for image_id, _, color, _ in rows:
        write_image(images_dir / "val2014" / _karpathy_name(image_id), color)
    rows += [
        (image_id, "test", None, ["x"])
        for kind, image_id in (("missing", 5), ("corrupt", 6), ("malformed", 7))
        if kind in bad
    ]
    names = [_karpathy_name(5), _karpathy_name(6)]
    add_bad_images(images_dir / "val2014", bad, *names)
    images = [_karpathy_image(i, split, s) for i, split, _, s in rows]
    if "malformed" in bad:
        images[-1]["sentences"] = "x"
    path = tmp / "dataset_coco.json"
    path.write_text(json.dumps({"images": images, "dataset": "coco"}))
    return path, images_dir


def _karpathy_name(image_id):
    return f"COCO_val2014_{image_id:012d}.jpg"


def _karpathy_image(image_id, split, sentences):
    return {
        "filepath": "val2014",
        "sentids": list(range(len(sentences))),
        "filename": _karpathy_name(image_id),
        "imgid": image_id - 1,
        "split": split,
        "sentences": [
            {
                "tokens": raw.lower().split(),
                "raw": raw,
                "imgid": image_id - 1,
                "sentid": i,
            }
            for i, raw in enumerate(sentences)
        ],
        "cocoid": image_id,
    }


def hateful_memes(tmp, bad=(), labelled=True):
    """`dev.jsonl` + img/: memes 1 (red, label 1) and 2 (blue, label 0).

    Bad records: line 3 with missing image 3, line 4 with corrupt image 4,
    line 5 with a string "label" (malformed).
    """
    write_image(tmp / "img" / "00001.png", RED)
    write_image(tmp / "img" / "00002.png", BLUE)
    add_bad_images(tmp / "img", bad, "00003.png", "00004.png")
    rows = [(1, 1, "love red"), (2, 0, "blue mood")]
    rows += [
        (meme_id, 0, kind)
        for kind, meme_id in (("missing", 3), ("corrupt", 4), ("malformed", 5))
        if kind in bad
    ]
    lines = []
    for meme_id, label, text in rows:
        record = {"id": meme_id, "img": f"img/{meme_id:05d}.png"}
        if labelled:
            record["label"] = "0" if text == "malformed" else label
        lines.append(json.dumps(record | {"text": text}))
    path = tmp / "dev.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path
