"""Instruction data for vision-language models: image + prompt -> answer.

Three sources become chat turns, each prompt holding the image
placeholder `IMAGE_PLACEHOLDER` before its text:

- emoji (`mmkeras.data.emoji_records`): "What is in this picture?" -> "A
  rocket." and "Is this an animal?" -> "Yes, a cat face." / "No, a
  rocket." (`is_animal`), two turns per drawing; the held-out style is the
  validation split;
- shapes (`mmkeras.data.shapes_captions`): "Describe the picture." -> the
  caption as a sentence;
- easy-VQA (`mmkeras.data.easy_vqa`): its question -> its answer word as a
  sentence ("Red.").

And the scoring rules of free-form answers, exact: `caption_correct` for
emoji captions and `easy_vqa_parse` / `easy_vqa_correct` for easy-VQA.
"""

import re
import unicodedata

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data.easy_vqa import easy_vqa
from mmkeras.data.easy_vqa import easy_vqa_answers
from mmkeras.data.emoji import _composite
from mmkeras.data.emoji import _style_split
from mmkeras.data.emoji import emoji_records
from mmkeras.data.registry import SPLITS
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset
from mmkeras.data.shapes import shapes_captions

IMAGE_PLACEHOLDER = "<image>"
SOURCES = ("emoji", "shapes", "easy_vqa")
WHAT_PROMPT = "What is in this picture?"
ANIMAL_PROMPT = "Is this an animal?"
DESCRIBE_PROMPT = "Describe the picture."
# Emoji subcategories that draw an animal: the "animal-*" ones of
# "Animals & Nature" and the animal faces of "Smileys & Emotion".
ANIMAL_SUBCATEGORIES = ("cat-face", "monkey-face")
# Anything but a letter or a digit separates words (`_words`).
_SEPARATORS = re.compile(r"[\W_]+")


@register_dataset("vision_language_instructions")
def vision_language_instructions(
    split=None,
    held_out_style="twitter",
    image_size=64,
    batch_size=32,
    seed=0,
    sources=SOURCES,
    shapes_images=1000,
    emoji_source=None,
    easy_vqa_dir=None,
    weights=None,
):
    """Image-prompt-answer examples from emoji, shapes and easy-VQA.

    "train" holds the emoji of every style but `held_out_style`, shapes
    scenes of `shapes_captions(split="train")` and easy-VQA's train
    questions, mixed at random in proportion to their sizes (every example
    once per epoch, in a new order each epoch, from `seed`); whole batches
    only. "validation" holds the emoji of `held_out_style`, shapes scenes
    of the test split (each shows a colour-shape pair training never
    shows) and easy-VQA's test questions, in that order, every example.

    Args:
        split: "train", "validation", or None for the pair `(train,
            validation)` (what a training config's data takes).
        held_out_style: the emoji style of the validation split.
        image_size: the side of the square uint8 images (every source is
            resized to it, antialiased).
        batch_size: a positive integer.
        seed: a non-negative integer: the shuffles, the mixture and the
            shapes scenes.
        sources: a non-empty subset of `SOURCES`.
        shapes_images: shapes scenes per split (one caption each).
        emoji_source: `source` of `mmkeras.data.emoji_records`.
        easy_vqa_dir: `data_dir` of `mmkeras.data.easy_vqa`.
        weights: None, or a dict giving every chosen source its share of
            the training examples (non-negative, summing to a positive
            number), such as `{"emoji": 5, "shapes": 1, "easy_vqa": 4}`:
            each example is drawn from a source with that probability, a
            source starting over (reshuffled) when it runs out, and an
            epoch still holds as many examples as the sources together.
            None mixes in proportion to their sizes. The validation split
            ignores it.

    Returns:
        A `tf.data.Dataset` of dicts (or two): "image" (uint8
        `(image_size, image_size, 3)`), "prompt" (the user's text,
        `IMAGE_PLACEHOLDER` first), "answer" (the assistant's reply),
        "source" (one of `SOURCES`) and "reference" (what the answer is
        scored against: the emoji's `unified` code, easy-VQA's answer
        word, the shapes caption).

    Example:

    >>> train = mmkeras.data.vision_language_instructions(
    ...     "train", sources=("emoji",), batch_size=4)
    >>> batch = next(iter(train))
    >>> batch["prompt"][0].numpy().decode().startswith("<image>")
    True
    """
    if split is None:
        # Every argument but the split, for each of the two.
        arguments = locals()
        del arguments["split"]
        return pick(
            None,
            lambda: vision_language_instructions("train", **arguments),
            lambda: vision_language_instructions("validation", **arguments),
        )
    _checks.one_of("split", split, SPLITS)
    _checks.positive_int("image_size", image_size)
    _checks.positive_int("batch_size", batch_size)
    _checks.non_negative_int("seed", seed)
    _checks.positive_int("shapes_images", shapes_images)
    chosen = _sources(sources)
    train = split == "train"
    parts = []
    if "emoji" in chosen:
        parts.append(
            _emoji(train, held_out_style, image_size, seed, emoji_source)
        )
    if "shapes" in chosen:
        parts.append(_shapes(train, shapes_images, image_size, seed))
    if "easy_vqa" in chosen:
        parts.append(_easy_vqa(train, image_size, seed, easy_vqa_dir))
    datasets = [dataset for dataset, _ in parts]
    if train:
        total = sum(count for _, count in parts)
        if weights is None:
            shares = [count / total for _, count in parts]
        else:
            shares = _shares(weights, chosen)
            datasets = [dataset.repeat() for dataset in datasets]
        dataset = tf.data.Dataset.sample_from_datasets(
            datasets, shares, seed=seed, rerandomize_each_iteration=True
        ).take(total)
    else:
        dataset = datasets[0]
        for other in datasets[1:]:
            dataset = dataset.concatenate(other)
    dataset = dataset.batch(batch_size, drop_remainder=train)
    return dataset.prefetch(tf.data.AUTOTUNE)


def is_animal(record):
    """Whether an `EmojiRecord` draws an animal: a subcategory "animal-*"
    (mammal, bird, bug, ...) or one of `ANIMAL_SUBCATEGORIES`."""
    subcategory = record.subcategory
    return subcategory.startswith("animal-") or (
        subcategory in ANIMAL_SUBCATEGORIES
    )


def emoji_turns(record):
    """The `(prompt, answer)` turns of one `EmojiRecord` (prompts without
    the placeholder): what it is, and whether it is an animal."""
    thing = f"{_article(record.name)} {record.name}"
    yes = "Yes" if is_animal(record) else "No"
    return (
        (WHAT_PROMPT, _sentence(thing)),
        (ANIMAL_PROMPT, f"{yes}, {thing}."),
    )


def caption_correct(answer, record):
    """Whether a free-form `answer` names the emoji of `record`.

    The rule: the answer is correct when the emoji's name ("cat face") or
    one of its CLDR keywords ("cat", "kitten", ...) appears in it as whole
    words. Both are compared as word sequences (`_words`): case-folded
    (NFKC), every run of characters that are not letters or digits
    (spaces, punctuation, "_", "-", "'") is one word boundary, and the
    phrase's words must appear consecutively among the answer's. So "A
    cat." and "a Cat Face!" match "cat face", "cats" and "bobcat" do not
    match "cat" (no stemming), and a phrase with no letter ("<3") never
    matches. Short names are not used (they are ids, not words).

    Args:
        answer: the model's answer, a string.
        record: an `mmkeras.data.EmojiRecord` (any object with `name` and
            `keywords`).

    Example:

    >>> cat = next(r for r in mmkeras.data.emoji_records(styles="google")
    ...            if r.unified == "1F431")
    >>> mmkeras.data.vision_language.caption_correct("It's a kitten!", cat)
    True
    """
    words = _words(answer, "answer")
    for phrase in (record.name, *record.keywords):
        wanted = _words(phrase, "a record's name or keyword")
        has_letter = any(c.isalpha() for word in wanted for c in word)
        if has_letter and _contains(words, wanted):
            return True
    return False


def easy_vqa_parse(answer, vocabulary=None):
    """The easy-VQA answer word a free-form `answer` gives, or None.

    The rule: the answer's words (as in `caption_correct`: case-folded,
    split at anything not a letter or digit) are searched for the words of
    the vocabulary; exactly one distinct vocabulary word must occur ("Red."
    and "it is red" give "red"). None when none occurs, or when two
    different ones do ("Yes, a red circle." is ambiguous): such an answer
    counts as wrong. No synonyms ("grey" is not "gray").

    Args:
        answer: the model's answer, a string.
        vocabulary: the answer words; default `easy_vqa_answers()`.
    """
    if vocabulary is None:
        vocabulary = easy_vqa_answers()
    found = {word for word in _words(answer, "answer") if word in vocabulary}
    return found.pop() if len(found) == 1 else None


def easy_vqa_correct(answer, reference, vocabulary=None):
    """Whether `easy_vqa_parse(answer)` is the `reference` answer word."""
    if vocabulary is None:
        vocabulary = easy_vqa_answers()
    if reference not in vocabulary:
        raise ValueError(
            f"reference must be an easy-VQA answer word "
            f"({', '.join(vocabulary)}). Received: reference={reference!r}"
        )
    return easy_vqa_parse(answer, vocabulary) == reference


def _words(text, name):
    if not isinstance(text, str):
        raise TypeError(
            f"{name} must be a string. Received: a {type(text).__name__}"
        )
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [word for word in _SEPARATORS.split(folded) if word]


def _contains(words, phrase):
    size = len(phrase)
    return any(
        words[start : start + size] == phrase
        for start in range(len(words) - size + 1)
    )


def _article(name):
    return "an" if name[:1].lower() in "aeiou" else "a"


def _sentence(text):
    return text[:1].upper() + text[1:] + "."


def _sources(sources):
    chosen = (sources,) if isinstance(sources, str) else sources
    if (
        not isinstance(chosen, (list, tuple))
        or not chosen
        or any(source not in SOURCES for source in chosen)
        or len(set(chosen)) != len(chosen)
    ):
        raise ValueError(
            f"sources must be a non-empty list of distinct names among "
            f"{', '.join(SOURCES)}. Received: sources={sources!r}"
        )
    return tuple(chosen)


def _shares(weights, chosen):
    """The sampling probabilities of the chosen sources, in their order."""
    if (
        not isinstance(weights, dict)
        or set(weights) != set(chosen)
        or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0
            for w in weights.values()
        )
        or not sum(weights.values()) > 0
    ):
        raise ValueError(
            f"weights must be None or a dict of a non-negative number for "
            f"each of the sources {', '.join(chosen)} (at least one "
            f"positive). Received: weights={weights!r}"
        )
    total = sum(weights.values())
    return [weights[source] / total for source in chosen]


def _prompt(text):
    """The user's text after the placeholder (a string tensor)."""
    return tf.strings.join([IMAGE_PLACEHOLDER, "\n", text])


def _tf_capitalized(text):
    """A string tensor with its first letter upper-cased."""
    first = tf.strings.upper(tf.strings.substr(text, 0, 1))
    return tf.strings.join([first, tf.strings.substr(text, 1, -1)])


def _tf_sentence(text):
    return tf.strings.join([_tf_capitalized(text), "."])


def _uint8(image, image_size):
    """A float `(h, w, 3)` image in [0, 255] as uint8 of `image_size`."""
    if tuple(image.shape[:2]) != (image_size, image_size):
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
    image = tf.round(tf.clip_by_value(image, 0.0, 255.0))
    return tf.ensure_shape(
        tf.cast(image, tf.uint8), (image_size, image_size, 3)
    )


def _example(image, prompt, answer, source, reference):
    return {
        "image": image,
        "prompt": prompt,
        "answer": answer,
        "source": tf.constant(source),
        "reference": reference,
    }


def _emoji(train, held_out_style, image_size, seed, source):
    records = emoji_records(source=source)
    held_out = _style_split(records, held_out_style)
    chosen = [r for r in records if held_out(r) != train]
    rows = [(r, turn) for r in chosen for turn in emoji_turns(r)]
    columns = {
        "png": tf.constant([r.png for r, _ in rows], tf.string),
        "prompt": _prompt(tf.constant([t[0] for _, t in rows])),
        "answer": tf.constant([t[1] for _, t in rows]),
        "reference": tf.constant([r.unified for r, _ in rows]),
    }
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if train:
        # Shuffling the PNG bytes is cheap: decoding comes after.
        dataset = dataset.shuffle(len(rows), seed, True)

    def example(x):
        image = _composite(x["png"], image_size)
        return _example(
            image, x["prompt"], x["answer"], "emoji", x["reference"]
        )

    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, len(rows)


def _shapes(train, num_images, image_size, seed):
    split = "train" if train else "test"
    dataset = shapes_captions(num_images, seed, split, captions_per_image=1)
    if train:
        dataset = dataset.shuffle(num_images, seed, True)

    def example(x):
        image = _uint8(tf.cast(x["image"], tf.float32), image_size)
        answer = _tf_sentence(x["caption"])
        prompt = _prompt(DESCRIBE_PROMPT)
        return _example(image, prompt, answer, "shapes", x["caption"])

    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, num_images


def _easy_vqa(train, image_size, seed, data_dir):
    split = "train" if train else "test"
    dataset = easy_vqa(split, data_dir, shuffle=train, seed=seed)
    count = int(dataset.cardinality())

    def example(x):
        image = _uint8(x["image"] * 255.0, image_size)
        prompt = _prompt(_tf_capitalized(x["question"]))
        return _example(
            image, prompt, _tf_sentence(x["answer"]), "easy_vqa", x["answer"]
        )

    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, count
