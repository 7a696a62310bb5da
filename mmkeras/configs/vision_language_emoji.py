"""SmolLM2-135M-Instruct that sees images: EfficientNet-Lite0 tokens
projected into the chat (LLaVA-style; Flamingo's gated cross-attention
with one `--set`), trained on emoji, shapes and easy-VQA instruction
turns: only the connector trains, the language model and the image
encoder stay frozen."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of one epoch). The seeded tiny
# model (two LM blocks of width 16, 32x32 images), a few shapes scenes
# with their short prompts, and of the evaluator the perplexity only
# (tests/evaluation/test_vision_language.py tests the rest).
TINY_OVERRIDES = [
    "model={'fn': 'mmkeras.models.vision_language.builders.tiny', "
    "'kwargs': {}}",
    "data.kwargs.sources=['shapes']",
    "data.kwargs.weights={'shapes': 1}",
    "data.kwargs.shapes_images=16",
    "data.kwargs.image_size=32",
    "data.kwargs.batch_size=4",
    "evaluator.kwargs.max_examples=2",
    "evaluator.kwargs.max_new_tokens=2",
    "evaluator.kwargs.photos=[]",
    "evaluator.kwargs.language_answers=False",
    "evaluator.kwargs.text_characters=60",
]

# The entry's card: what the run measured beyond its metrics (2026-12-06,
# runs/vision_language and the evaluator's `score` on the same model).
NOTES = (
    "Held out: the 1,911 Twitter (Twemoji) drawings, new shapes scenes "
    "and easy-VQA's test questions; 200 evenly spaced examples per "
    "source, greedy, at most 16 new tokens, scored by the exact rules of "
    "`mmkeras.data.vision_language` (`caption_correct`: the emoji's name "
    "or a CLDR keyword as whole words; `easy_vqa_parse`: exactly one "
    "answer word). The recipe's targets were 60% and 95%: both are "
    "missed. Trained for 1,000 steps of batch 8 (about half a pass over "
    "the emoji turns, 8% of easy-VQA's questions) in 76 min on 2 shared "
    "CPU cores (2.7 s a step idle); the answer tokens' training "
    "accuracy stopped rising at 0.68-0.70 from step 500, and the "
    "validation loss on 16 held-out emoji turns stayed at 0.31-0.35. "
    "Peak resident memory 4.29 GB training (the steps alone 3.34 GB; "
    "the rest is writing the 567 MB model.keras each epoch).\n\n"
    "Without an image it is the language model exactly: perplexity "
    "11.839722 on the 674 tokens of the shipped text, both; \" Paris.\" "
    "and \"The sky is a beautiful shade of blue.\" unchanged.\n\n"
    "Photos nobody here drew, \"What is in this picture?\": chelsea \"A "
    "lighthouse.\", coffee \"A candle.\", astronaut \"A fire "
    "engine.\", rocket \"A starboard ship.\" (none right). Held-out "
    "answers: \"A smiling face.\" (right), \"A fire engine.\", \"A "
    "car.\"; easy-VQA \"What is the red shape?\" -> \"Triangle.\" "
    "(right).\n\n"
    "Flamingo's gated cross-attention (`--set "
    "model.kwargs.connector=gated_cross_attention`, 26.4M trained "
    "weights, 106 MB, against this entry's 1.07M, 4.3 MB) at equal steps, "
    "240 with the sources in proportion: caption 14.0% against 6.0%, "
    "easy-VQA 62.0% against 49.0% (docs/families/vision_language.md); "
    "its gates had opened to at most 0.07 and it gave every image the "
    "same answer."
)


def get_config():
    """A vision-language model on the frozen SmolLM2 and EfficientNet-Lite0.

    Command (the zoo entry, 1,000 steps of batch 8):

        mmkeras train vision_language_emoji --out runs/vision_language
        mmkeras zoo make runs/vision_language

    and Flamingo's gated cross-attention for the same steps (too large
    to bundle: 26.4M trained weights):

        mmkeras train vision_language_emoji --out runs/vision_language_gated \\
            --set model.kwargs.connector=gated_cross_attention

    (`mixed_precision=True` trains in float16, for accelerators; a
    `MirroredStrategy` spreads the batch over the devices `mmkeras train
    --devices` names.)

    Model: `vision_language_smollm2` (`mmkeras.models.vision_language.
    builders`): the zoo's `smollm2_135m.instruct` and
    `efficientnet_lite0.imagenet` (112x112 images, 16 tokens), both
    frozen; LLaVA's two-layer MLP projects the 16 image tokens into the
    placeholder's place (1.07M trained weights, 79 ids per example);
    AdamW 1e-3. Data: `vision_language_instructions`: the Google and
    Fluent emoji (what is it, is it an animal), 1,000 shapes scenes and
    easy-VQA's 38,575 train questions, drawn 5:1:4; held out: the
    Twitter emoji, new shapes scenes and easy-VQA's test questions.
    Evaluator: `vision_language`: held-out caption accuracy, easy-VQA
    free-form accuracy, text-only perplexity and the France and sky
    answers against the frozen language model's, and scikit-image's
    photos. Measured: docs/families/vision_language.md and the entry's
    card.
    """
    return {
        "model": {
            "name": "vision_language_smollm2",
            "kwargs": {
                "connector": "prefix",
                "image_size": 112,
                "learning_rate": 1e-3,
            },
        },
        "data": {
            "name": "vision_language_instructions",
            "kwargs": {
                "image_size": 112,
                "batch_size": 8,
                "weights": {"emoji": 5, "shapes": 1, "easy_vqa": 4},
            },
        },
        "evaluator": {
            "name": "vision_language",
            "kwargs": {"max_examples": 200},
        },
        "steps_per_epoch": 100,
        "epochs": 10,
        "validation_steps": 2,
        "backup_every_steps": 50,
        "mixed_precision": False,
        "seed": 0,
        "zoo": {
            "name": "vision_language_smollm2_prefix.emoji",
            "version": "1",
            "description": "SmolLM2-135M-Instruct that sees images: "
            "EfficientNet-Lite0 (ImageNet) tokens of a 112x112 image, "
            "projected by a trained two-layer MLP (LLaVA-style), take the "
            "place of the image placeholder in the chat; the language "
            "model and the image encoder are frozen, the entries "
            "smollm2_135m.instruct and efficientnet_lite0.imagenet, so only "
            "the projector is bundled. Trained on emoji, shapes and "
            "easy-VQA instruction turns.",
            "license": "Apache-2.0",
            "source": "trained by mmkeras on "
            "mmkeras.data.vision_language_instructions (Noto and Fluent "
            "emoji, shapes scenes, easy-VQA) from smollm2_135m.instruct "
            "and efficientnet_lite0.imagenet",
            "loader": "mmkeras.zoo.loaders.vision_language",
            "requires": [
                "smollm2_135m.instruct",
                "efficientnet_lite0.imagenet",
            ],
            "notes": NOTES,
        },
    }
