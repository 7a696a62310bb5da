"""VQAAccuracy against the official evaluation, `vqaEval.py` of
GT-Vision-Lab/VQA (PythonEvaluationTools/vqaEvaluation, master a013f00).

`official_question_accuracy` below is a second, literal transcription of
that script's `evaluate`, `processPunctuation` and `processDigitArticle`,
written from the script and sharing nothing with mmkeras; the metric must
agree with it on generated adversarial answers.
"""

import random
import re

import numpy as np
import pytest

import mmkeras.metrics
from mmkeras.metrics import vqa_accuracy
from tests.metrics import _harness

# The script's tables, as it writes them.
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's",
    "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't",
    "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    "mightve": "might've", "mustnt": "mustn't", "mustve": "must've",
    "neednt": "needn't", "notve": "not've", "oclock": "o'clock",
    "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've",
    "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    "somethingll": "something'll", "thats": "that's", "thered": "there'd",
    "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd",
    "theyd've": "they'd've", "they'dve": "they'd've", "theyll": "they'll",
    "theyre": "they're", "theyve": "they've", "twas": "'twas",
    "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've",
    "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's",
    "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
    "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}  # fmt: skip
MANUAL_MAP = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10",
}  # fmt: skip
ARTICLES = ["a", "an", "the"]
# The script runs on Python 2, where these patterns (no re.UNICODE flag)
# match ASCII digits only.
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)", re.ASCII)
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)", re.ASCII)
PUNCT = [
    ";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
    ">", "<", "@", "`", ",", "?", "!",
]  # fmt: skip


def process_punctuation(in_text):
    out_text = in_text
    for p in PUNCT:
        if (p + " " in in_text or " " + p in in_text) or (
            re.search(COMMA_STRIP, in_text) is not None
        ):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    # The script passes re.UNICODE (32) where `sub` takes its count.
    return PERIOD_STRIP.sub("", out_text, count=re.UNICODE)


def python2_lower(text):
    # unicode.lower in Python 2 maps each character on its own.
    return "".join("i" if c == "\u0130" else c.lower() for c in text)


def process_digit_article(in_text):
    out_text = []
    for word in python2_lower(in_text).split():
        word = MANUAL_MAP.get(word, word)
        if word not in ARTICLES:
            out_text.append(word)
    for word_id, word in enumerate(out_text):
        if word in CONTRACTIONS:
            out_text[word_id] = CONTRACTIONS[word]
    return " ".join(out_text)


def official_question_accuracy(human_answers, res_ans):
    """`VQAEval.evaluate` for one question, answers as in the annotation
    files (each with its own "answer_id")."""
    answers = [
        {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
        for i, a in enumerate(human_answers)
    ]
    for ans_dic in answers:
        ans_dic["answer"] = ans_dic["answer"].replace("\n", " ")
        ans_dic["answer"] = ans_dic["answer"].replace("\t", " ")
        ans_dic["answer"] = ans_dic["answer"].strip()
    res_ans = res_ans.replace("\n", " ")
    res_ans = res_ans.replace("\t", " ")
    res_ans = res_ans.strip()
    gt_acc = []
    gt_answers = [ans["answer"] for ans in answers]
    if len(set(gt_answers)) > 1:
        for ans_dic in answers:
            ans_dic["answer"] = process_punctuation(ans_dic["answer"])
            ans_dic["answer"] = process_digit_article(ans_dic["answer"])
        res_ans = process_punctuation(res_ans)
        res_ans = process_digit_article(res_ans)
    for gt_ans_datum in answers:
        other_gt_ans = [item for item in answers if item != gt_ans_datum]
        matching_ans = [
            item for item in other_gt_ans if item["answer"] == res_ans
        ]
        acc = min(1, float(len(matching_ans)) / 3)
        gt_acc.append(acc)
    return float(sum(gt_acc)) / len(gt_acc)


# Adversarial answers: each case mutates a human answer into a prediction.
BASES = [
    "tennis racket", "don't know", "yes", "no", "2", "two", "10", "1000",
    "3.5", "t-shirt", "black and white", "black/white", "can't tell",
    "5 o'clock", "hot dog", "none", "dog", "red one", "it's", "let's go",
    "y'all", "dont", "im", "1.5", "ΟΔΟΣ", "İzmir", "a", "left", "50%",
]  # fmt: skip
APOSTROPHES = ["'", "\u2019", "\u2018", "", "`", "\u02bc"]
NUMBER_WORDS = {v: k for k, v in MANUAL_MAP.items() if k != "none"}


PADS = ["", " ", "\t", "\n", "  ", "\xa0", "\u3000"]
EDITS = [
    lambda t, rng: t.upper(),
    lambda t, rng: t.title(),
    lambda t, rng: t + rng.choice(["!", "?", ".", "!!", " !", ",", "..."]),
    lambda t, rng: rng.choice(["the ", "a ", "an ", "The ", "A "]) + t,
    lambda t, rng: t.join(rng.choice(['""', "()", "[]", "''", "<>", "``"])),
    lambda t, rng: rng.choice(PADS) + t.replace(" ", rng.choice(PADS[1:])),
    lambda t, rng: t + rng.choice(PADS),
    lambda t, rng: t.replace("'", rng.choice(APOSTROPHES)),
    lambda t, rng: " ".join(
        NUMBER_WORDS.get(w, MANUAL_MAP.get(w, w)) for w in t.split()
    ),
    lambda t, rng: re.sub(r"(\d)(\d\d\d)\b", r"\1,\2", t) + rng.choice(",;"),
    lambda t, rng: t + rng.choice([".", ".0", " .", "." * 40, ".5"]),
    lambda t, rng: t.replace(" ", rng.choice(["-", "/", " / ", "_", " - "])),
    lambda t, rng: rng.choice(["dont ", "Im ", "wont ", "ive "]) + t,
    lambda t, rng: t + rng.choice([":", "'", "*", "#", "&", "~", ";"]),
    lambda t, rng: t.replace("-", rng.choice([" ", "", "- "])),
    lambda t, rng: rng.choice(BASES),
]


def _mutate(text, rng):
    return rng.choice(EDITS)(text, rng)


def adversarial_questions(count, seed=0):
    """`(human_answers, prediction)` pairs: a third with 10 identical
    human answers, the others mixed, some humans noisy too."""
    rng = random.Random(seed)
    questions = []
    for index in range(count):
        base = rng.choice(BASES)
        if index % 3 == 0:
            humans = [base if rng.random() < 0.7 else _mutate(base, rng)] * 10
        else:
            agree = rng.randint(0, 10)
            humans = [base] * agree + [
                _mutate(rng.choice(BASES), rng) for _ in range(10 - agree)
            ]
            rng.shuffle(humans)
        prediction = base
        for _ in range(rng.randint(1, 3)):
            prediction = _mutate(prediction, rng)
        questions.append((humans, prediction))
    return questions


QUESTIONS = adversarial_questions(480)


def _accuracy(answers, predictions, sample_weight=None, **kwargs):
    metric = mmkeras.metrics.VQAAccuracy(**kwargs)
    metric.update_state(answers, predictions, sample_weight=sample_weight)
    return float(metric.result())


def test_basics():
    _harness.assert_config_round_trip(mmkeras.metrics.VQAAccuracy())
    lenient = mmkeras.metrics.VQAAccuracy(normalization="lenient")
    _harness.assert_config_round_trip(lenient)
    assert lenient.get_config()["normalization"] == "lenient"


def test_agrees_with_the_official_rules_on_adversarial_answers():
    scores = [official_question_accuracy(h, p) for h, p in QUESTIONS]
    for (humans, prediction), expected in zip(QUESTIONS, scores, strict=True):
        got = vqa_accuracy.answer_accuracy(humans, prediction)
        assert got == expected, (humans, prediction)
    # The cases reach both branches and every score the rules give.
    assert sum(len(set(h)) == 1 for h, _ in QUESTIONS) >= 160
    assert {round(s, 2) for s in scores} == {0.0, 0.3, 0.6, 0.9, 1.0}
    # In one batch through the metric, as the script's "overall" prints it.
    humans, predictions = zip(*QUESTIONS, strict=True)
    overall = _accuracy(
        np.array(humans), np.array(predictions), dtype="float64"
    )
    assert abs(overall - np.mean(scores)) < 1e-12
    assert round(100 * overall, 2) == round(100 * sum(scores) / len(scores), 2)


@pytest.mark.parametrize(
    "humans, prediction, official, lenient",
    [
        # Unanimous humans: the prediction is only stripped.
        (["tennis racket"] * 10, "TENNIS RACKET!", 0.0, 1.0),
        (["don't know"] * 10, "dont know", 0.0, 1.0),
        (["don't know"] * 10, " don't know\n", 1.0, 1.0),
        (["don\u2019t know"] * 10, "don't know", 0.0, 1.0),
        # Mixed humans: both sides are normalised.
        (["tennis racket"] * 9 + ["racket"], "TENNIS RACKET!", 1.0, 1.0),
        (["don't know"] * 9 + ["no"], "dont know", 1.0, 1.0),
        (["2 dogs"] * 3 + ["3 dogs"] * 7, "Two dogs!", 0.9, 0.9),
        (["two dogs"] * 3 + ["3 dogs"] * 7, "2 dogs", 0.9, 0.9),
        # A typographic apostrophe is not one of the script's.
        (["don't know"] * 9 + ["no"], "don\u2019t know", 0.0, 1.0),
        # A digit-comma-digit deletes every mark, "1,000!" too.
        (["1000"] * 4 + ["1"] * 6, "1,000!", 1.0, 1.0),
        # Marks not touching a space become one: "black white".
        (["black white"] * 4 + ["x"] * 6, "black/white", 1.0, 1.0),
        (["black white"] * 4 + ["x"] * 6, "black-white!", 1.0, 1.0),
        # The period rule: "5." loses it, at most 32 go.
        (["5"] * 4 + ["6"] * 6, "5.", 1.0, 1.0),
        (["dog"] * 4 + ["cat"] * 6, "dog" + "." * 32, 1.0, 1.0),
        (["dog"] * 4 + ["cat"] * 6, "dog" + "." * 33, 0.0, 0.0),
        # ":" is no mark of the script's; Python 2 lowercases per character.
        (["dog"] * 4 + ["cat"] * 6, "dog:", 0.0, 0.0),
        (["οδοσ"] * 4 + ["x"] * 6, "ΟΔΟΣ", 1.0, 1.0),
        (["izmir"] * 4 + ["x"] * 6, "\u0130zmir", 1.0, 1.0),
        # Its \d is ASCII: no digit-comma-digit here, the comma is a space.
        (["\u0661 \u0662"] * 4 + ["x"] * 6, "\u0661,\u0662", 1.0, 1.0),
    ],
)
def test_official_rules_and_the_lenient_option(
    humans, prediction, official, lenient
):
    assert official_question_accuracy(humans, prediction) == official
    assert _accuracy([humans], [prediction]) == pytest.approx(official)
    got = _accuracy([humans], [prediction], normalization="lenient")
    assert got == pytest.approx(lenient)


@pytest.mark.parametrize(
    "humans, expected",
    # Leave-one-out over 10 annotators: m matching humans give
    # (m * min(1, (m - 1) / 3) + (10 - m) * min(1, m / 3)) / 10.
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)],
)
def test_official_leave_one_out_values(humans, expected):
    answers = [["yes"] * humans + ["no"] * (10 - humans)]
    assert abs(_accuracy(answers, ["yes"]) - expected) < 1e-6
    ids = [[1] * humans + [2] * (10 - humans)]
    assert abs(_accuracy(ids, [1]) - expected) < 1e-6


def test_scores_take_the_argmax_and_weights_average():
    answers = np.array([[1] * 10, [2] * 2 + [0] * 8])
    scores = np.array([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8]], "float32")
    assert abs(_accuracy(answers, scores) - 0.8) < 1e-6
    weighted = _accuracy(answers, scores, sample_weight=np.array([1.0, 3.0]))
    assert abs(weighted - (1.0 + 3 * 0.6) / 4) < 1e-6


def test_evaluate_single_device_and_mirrored():
    rng = np.random.default_rng(0)
    answers = rng.integers(0, 4, (20, 10))
    predictions = rng.integers(0, 4, 20)
    expected = np.mean(
        [
            np.mean([min(1, (np.sum(a == p) - (x == p)) / 3) for x in a])
            for a, p in zip(answers, predictions, strict=True)
        ]
    )
    strings = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy,
        answers.astype(str),
        predictions.astype(str),
    )
    single = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy, answers, predictions
    )
    mirrored = _harness.evaluate(
        mmkeras.metrics.VQAAccuracy,
        answers,
        predictions,
        strategy=_harness.mirrored_strategy(),
    )
    assert abs(strings - expected) < 1e-6
    assert abs(single - expected) < 1e-6
    assert abs(mirrored - expected) < 1e-6


def test_bytes_that_are_not_utf8_compare_as_bytes():
    humans = np.array([[b"caf\xe9"] * 9 + [b"caf\xe8"]], object)
    assert _accuracy(humans, np.array([b"caf\xe9"], object)) == 1.0
    other = _accuracy(humans, np.array([b"caf\xe8"], object))
    assert other == pytest.approx(0.3)


def test_errors():
    metric = mmkeras.metrics.VQAAccuracy()
    with pytest.raises(ValueError, match="both be strings"):
        metric.update_state([["a"] * 10], [1])
    with pytest.raises(ValueError, match=r"y_true \(10,\)"):
        metric.update_state(["a"] * 10, ["a"])
    with pytest.raises(ValueError, match="normalization must be one of"):
        mmkeras.metrics.VQAAccuracy(normalization="friendly")
