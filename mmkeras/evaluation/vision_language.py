"""Vision-language answers, generated and scored by the exact rules of
`mmkeras.data.vision_language`: caption accuracy on the held-out emoji
style, easy-VQA free-form accuracy, whether the language model is kept
when no image is given, and the answers for scikit-image's photos."""

from typing import NamedTuple

import numpy as np

from mmkeras import _checks
from mmkeras.data.documents import GETTYSBURG_DECLARATION
from mmkeras.data.documents import read_text
from mmkeras.data.emoji import emoji_records
from mmkeras.data.registry import DATASETS
from mmkeras.data.registry import build_splits
from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.data.vision_language import SOURCES
from mmkeras.data.vision_language import WHAT_PROMPT
from mmkeras.data.vision_language import caption_correct
from mmkeras.data.vision_language import easy_vqa_correct
from mmkeras.data.vision_language import vision_language_instructions
from mmkeras.evaluation.language import perplexity_of
from mmkeras.evaluation.registry import register_evaluator
from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor


class PhotoEmoji(NamedTuple):
    """The name and CLDR keywords of the emoji a photo shows (what
    `caption_correct` reads)."""

    name: str
    keywords: tuple


# scikit-image's photos (in its wheel), each with the emoji that shows
# what it shows, copied from `mmkeras.data.emoji_records` (1F431, 2615,
# 1F9D1-200D-1F680, 1F680) so that scoring a photo reads no emoji data.
PHOTO_EMOJI = {
    "chelsea": PhotoEmoji(
        "cat face", ("animal", "cat", "face", "kitten", "kitty", "pet")
    ),
    "coffee": PhotoEmoji(
        "hot beverage",
        ("beverage", "cafe", "caffeine", "chai", "coffee", "drink", "hot")
        + ("morning", "steaming", "tea"),
    ),
    "astronaut": PhotoEmoji("astronaut", ("rocket", "space")),
    "rocket": PhotoEmoji("rocket", ("launch", "rockets", "space", "travel")),
}
PHOTOS = tuple(PHOTO_EMOJI)
# The language model's own checks (its zoo entry's card): a completion
# and a chat message, asked with no image.
FRANCE_PROMPT = "The capital of France is"
SKY_MESSAGE = "What color is the sky?"
# Examples read per batch of validation data.
_READ_BATCH = 64


@register_evaluator("vision_language")
def vision_language(model, config, **options):
    """`score(model, config, **options)`'s numbers (the answers themselves
    are left out: metrics are numbers); `score` documents the options."""
    results = score(model, config, **options)
    return {
        key: value
        for key, value in results.items()
        if isinstance(value, (int, float))
    }


def score(
    model,
    config,
    max_examples=200,
    max_new_tokens=16,
    batch_size=16,
    photos=PHOTOS,
    text_characters=None,
    language_answers=True,
):
    """Generates greedy answers on held-out data and scores them.

    The config's data must be `vision_language_instructions`; each of its
    sources that the rules score is measured on at most `max_examples`
    validation examples, evenly spaced over the split (its order is
    sorted by emoji code, so the first ones would be keycaps and flags):

    - emoji: the "What is in this picture?" turns of the held-out style,
      scored by `caption_correct`: `held_out_caption_accuracy`;
    - easy-VQA: the test questions, scored by `easy_vqa_correct`:
      `easy_vqa_accuracy`.

    With no image, the language model must be kept: `text_perplexity`
    (the model without an image on the public-domain text mmkeras ships)
    against `base_text_perplexity` (a `CausalLM` on the same frozen
    backbone), their relative difference `perplexity_change`, and
    `france_kept` / `sky_kept` (1.0 when the greedy completion of
    `FRANCE_PROMPT` and the chat answer to `SKY_MESSAGE` equal the
    language model's). `photos` (names from `PHOTO_EMOJI`) are asked
    "What is in this picture?"; `photos_correct` is the fraction whose
    answer names their emoji.

    Args:
        model: a `VisionLanguageModel`.
        config: its training config.
        max_examples: answers generated per source.
        max_new_tokens: the longest answer, in tokens.
        batch_size: prompts per `generate` call.
        photos: names of scikit-image photos to ask about.
        text_characters: measure perplexity on the text's first this many
            characters (a small model's context is short); None for all.
        language_answers: whether to ask the France and sky questions
            (four generations: the model's and its language model's).

    Returns:
        The metrics above with their example counts (`*_examples`) and,
        not numbers, `"answers"`: `{source: [(prompt, answer, correct)]}`
        for the first few of each source, `"photos"`: `{name: answer}`,
        `"france"` and `"sky"`: `(answer, language model's answer)`.
    """
    _checks.positive_int("max_examples", max_examples)
    _checks.positive_int("max_new_tokens", max_new_tokens)
    _checks.positive_int("batch_size", batch_size)
    _checks.optional_positive_int("text_characters", text_characters)
    unknown = [name for name in photos if name not in PHOTO_EMOJI]
    if unknown:
        raise ValueError(
            f"photos must be among {', '.join(PHOTOS)}. Received: "
            f"photos={list(photos)!r}"
        )
    spec = _data_spec(config)
    arguments = spec.get("kwargs", {})
    sources = arguments.get("sources", SOURCES)
    sources = (sources,) if isinstance(sources, str) else sources
    generation = dict(max_new_tokens=max_new_tokens, batch_size=batch_size)
    results, answers = {}, {}
    if "emoji" in sources:
        records = {
            r.unified: r
            for r in emoji_records(source=arguments.get("emoji_source"))
        }
        examples = _examples(spec, "emoji", max_examples, WHAT_PROMPT)
        replies = _answers(model, examples, **generation)
        right = [
            caption_correct(reply, records[reference])
            for reply, reference in zip(
                replies, examples["reference"], strict=True
            )
        ]
        results.update(_accuracy("held_out_caption", right))
        answers["emoji"] = _shown(examples, replies, right)
    if "easy_vqa" in sources:
        examples = _examples(spec, "easy_vqa", max_examples)
        replies = _answers(model, examples, **generation)
        right = [
            easy_vqa_correct(reply, reference)
            for reply, reference in zip(
                replies, examples["reference"], strict=True
            )
        ]
        results.update(_accuracy("easy_vqa", right))
        answers["easy_vqa"] = _shown(examples, replies, right)
    results.update(
        _language_kept(model, max_new_tokens, text_characters, language_answers)
    )
    if photos:
        replies = _photo_answers(model, photos, max_new_tokens)
        right = [
            caption_correct(replies[name], PHOTO_EMOJI[name]) for name in photos
        ]
        results["photos_correct"] = float(np.mean(right))
        results["photos"] = replies
    results["answers"] = answers
    return results


def _data_spec(config):
    spec = config.get("data")
    if not spec or DATASETS.resolve(spec) is not vision_language_instructions:
        raise ValueError(
            "the vision_language evaluator scores the held-out split of "
            "vision_language_instructions; name it as the config's data. "
            f"Received: data={spec!r}"
        )
    return spec


def _examples(spec, source, max_examples, prompt=None):
    """`{"image", "prompt", "reference"}` arrays of at most
    `max_examples` validation examples of `source` (whose prompt ends
    with `prompt`, if given), evenly spaced over the split."""
    kwargs = {
        **spec.get("kwargs", {}),
        "sources": (source,),
        "batch_size": _READ_BATCH,
    }
    dataset = build_splits({**spec, "kwargs": kwargs}, "validation")
    columns = {"image": [], "prompt": [], "reference": []}
    for batch in dataset.as_numpy_iterator():
        texts = np.array([p.decode() for p in batch["prompt"]], object)
        keep = np.array([prompt is None or t.endswith(prompt) for t in texts])
        columns["image"] += list(batch["image"][keep])
        columns["prompt"] += list(texts[keep])
        columns["reference"] += [r.decode() for r in batch["reference"][keep]]
    count = len(columns["prompt"])
    if not count:
        raise ValueError(
            f"the validation split holds no {source} example to score. "
            f"Received: data={spec!r}"
        )
    chosen = np.unique(
        np.linspace(0, count - 1, min(max_examples, count)).round()
    ).astype(int)
    return {key: [value[i] for i in chosen] for key, value in columns.items()}


def _answers(model, examples, max_new_tokens, batch_size):
    """The greedy answers to the examples' prompts, in the model's chat
    template, `batch_size` at a time."""
    preprocessor = model.preprocessor_or_error()
    prompts = [preprocessor.apply_chat_template(p) for p in examples["prompt"]]
    replies = []
    for start in range(0, len(prompts), batch_size):
        replies += model.generate(
            examples["image"][start : start + batch_size],
            prompts[start : start + batch_size],
            max_new_tokens=max_new_tokens,
        )
    return [reply.strip() for reply in replies]


def _accuracy(name, right):
    return {
        f"{name}_accuracy": float(np.mean(right)),
        f"{name}_examples": len(right),
    }


def _shown(examples, replies, right, count=8):
    return [
        (prompt, reply, bool(ok))
        for prompt, reply, ok in zip(
            examples["prompt"][:count], replies, right, strict=False
        )
    ]


def language_model(model):
    """A `CausalLM` on `model`'s frozen backbone and tokenizer: the
    language model before any image was seen."""
    preprocessor = model.preprocessor_or_error()
    text = CausalLMPreprocessor(
        tokenizer=preprocessor.tokenizer,
        sequence_length=preprocessor.sequence_length,
        add_start_token=preprocessor.add_start_token,
        start_token_id=preprocessor.start_token_id,
        empty_prompt_token_id=preprocessor.empty_prompt_token_id,
        chat_template=preprocessor.chat_template,
    )
    return CausalLM(
        model.backbone,
        preprocessor=text,
        end_token_id=model.end_token_id,
        pad_token_id=model.pad_token_id,
    )


def _language_kept(model, max_new_tokens, text_characters, answers):
    base = language_model(model)
    text = read_text(GETTYSBURG_DECLARATION)[:text_characters]
    perplexity, tokens = perplexity_of(model, text)
    base_perplexity, _ = perplexity_of(base, text)
    results = {
        "text_perplexity": perplexity,
        "base_text_perplexity": base_perplexity,
        "perplexity_change": perplexity / base_perplexity - 1.0,
        "perplexity_tokens": tokens,
    }
    if not answers:
        return results
    mine = {
        "france": model.generate(None, FRANCE_PROMPT, max_new_tokens),
        "sky": model.chat(None, SKY_MESSAGE, max_new_tokens),
    }
    theirs = {
        "france": base.generate(FRANCE_PROMPT, max_new_tokens),
        "sky": base.chat(SKY_MESSAGE, max_new_tokens),
    }
    return {
        **results,
        "france_kept": float(mine["france"] == theirs["france"]),
        "sky_kept": float(mine["sky"] == theirs["sky"]),
        "france": (mine["france"], theirs["france"]),
        "sky": (mine["sky"], theirs["sky"]),
    }


def _photo_answers(model, names, max_new_tokens):
    import skimage.data

    prompt = model.preprocessor_or_error().apply_chat_template(
        f"{IMAGE_PLACEHOLDER}\n{WHAT_PROMPT}"
    )
    images = [getattr(skimage.data, name)() for name in names]
    replies = model.generate(images, [prompt] * len(names), max_new_tokens)
    return {
        name: reply.strip() for name, reply in zip(names, replies, strict=True)
    }
