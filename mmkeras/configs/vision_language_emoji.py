"""SmolLM2-135M-Instruct that sees images (Flamingo's gated
cross-attention on EfficientNet-Lite0 tokens), trained on emoji, shapes
and easy-VQA instruction turns: only the resampler and the gated blocks
train, the language model and the image encoder stay frozen."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of one epoch). The seeded tiny
# model (two LM blocks of width 16, 32x32 images), a few shapes scenes
# with their short prompts, and of the evaluator the perplexity only
# (tests/evaluation/test_vision_language.py tests the rest).
TINY_OVERRIDES = [
    "model={'fn': 'mmkeras.models.vision_language.builders.tiny', "
    "'kwargs': {}}",
    "data.kwargs.sources=['shapes']",
    "data.kwargs.shapes_images=16",
    "data.kwargs.image_size=32",
    "data.kwargs.batch_size=4",
    "evaluator.kwargs.max_examples=2",
    "evaluator.kwargs.max_new_tokens=2",
    "evaluator.kwargs.photos=[]",
    "evaluator.kwargs.language_answers=False",
    "evaluator.kwargs.text_characters=60",
]


def get_config():
    """A vision-language model on the frozen SmolLM2 and EfficientNet-Lite0.

    Command (the run measured in docs/families/vision_language.md, 240
    steps of batch 8):

        mmkeras train vision_language_emoji --out runs/vision_language

    and the LLaVA-style design for the same steps:

        mmkeras train vision_language_emoji --out runs/vision_language_prefix \\
            --set "model.kwargs.connector=prefix"

    (`mixed_precision=True` trains in float16, for accelerators; a
    `MirroredStrategy` spreads the batch over the devices `mmkeras train
    --devices` names.)

    Model: `vision_language_smollm2` (`mmkeras.models.vision_language.
    builders`): the zoo's `smollm2_135m.instruct` and
    `efficientnet_lite0.imagenet` (112x112 images, 16 tokens), both
    frozen; a 2-layer Perceiver resampler to 16 latents and a gated
    cross-attention block before every 6th of the 30 blocks (26.4M
    trained weights); 64 ids per example (79 for the prefix design's 16
    image ids); AdamW 1e-3. Data:
    `vision_language_instructions`: the Google and Fluent emoji (what is
    it, is it an animal), 1,000 shapes scenes and easy-VQA's 38,575
    train questions, mixed in proportion; held out: the Twitter emoji,
    new shapes scenes and easy-VQA's test questions. Evaluator:
    `vision_language`: held-out caption accuracy, easy-VQA free-form
    accuracy, text-only perplexity and the France and sky answers
    against the frozen language model's, and scikit-image's photos.
    Expected and time: see docs/families/vision_language.md ("Measured").
    """
    return {
        "model": {
            "name": "vision_language_smollm2",
            "kwargs": {
                "connector": "gated_cross_attention",
                "image_size": 112,
                "learning_rate": 1e-3,
            },
        },
        "data": {
            "name": "vision_language_instructions",
            "kwargs": {"image_size": 112, "batch_size": 8},
        },
        "evaluator": {
            "name": "vision_language",
            "kwargs": {"max_examples": 200},
        },
        "steps_per_epoch": 60,
        "epochs": 4,
        "validation_steps": 2,
        "backup_every_steps": 30,
        "mixed_precision": False,
        "seed": 0,
    }
