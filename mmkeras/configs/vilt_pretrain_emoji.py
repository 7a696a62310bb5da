"""ViLT pretraining (ITM + MLM + ITC) on emoji drawings and shapes
scenes with their captions: the recipe of the zoo's
`vilt_tiny.emoji_shapes`."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs). A one-block
# backbone of width 16, a few drawings and scenes, and the evaluator on
# 16 held-out pairs.
TINY_OVERRIDES = [
    # A few words: building the recipe's vocabulary takes seconds.
    "model.kwargs.words=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', "
    "'there', 'is', 'a', 'red', 'circle', 'face', ':']",
    "model.kwargs.hidden_dim=16",
    "model.kwargs.num_layers=1",
    "model.kwargs.num_heads=2",
    "model.kwargs.intermediate_dim=32",
    "model.kwargs.stem_filters=[8, 16]",
    "model.kwargs.decay_steps=4",
    "model.kwargs.hard_negatives_after=2",
    "data.kwargs.styles=['google', 'twitter']",
    "data.kwargs.max_drawings=24",
    "data.kwargs.num_shapes=16",
    "data.kwargs.num_shapes_validation=8",
    "data.kwargs.batch_size=8",
    "evaluator.kwargs.max_pairs=16",
]

# benchmarks/vilt_pretraining.py, 2026-12-06 (docs/families/vilt.md): the
# easy-VQA test accuracy of the recipes' ViLT fine-tuned for 300 steps
# from a pretrained backbone and from scratch (this entry: `--pretrained
# runs/vilt/model.keras`).
EASY_VQA_TABLE = (
    "| backbone | fine-tune steps | easy-VQA test accuracy |\n"
    "|---|---|---|\n"
    "| this entry (2,420 steps) | 300 | 0.6675 |\n"
    "| pretrained, hard negatives from the start (800 steps) | 300 | "
    "0.6671 |\n"
    "| pretrained, hard negatives from the start (2,000 steps) | 300 | "
    "0.6648 |\n"
    "| from scratch | 300 | 0.6683 |"
)

# The matching evaluator on the 1,911 held-out Twitter drawings alone
# (`num_shapes_validation=0`), 2026-12-06.
EMOJI_ONLY_TABLE = (
    "| held-out pairs | ITM acc. | ITM AUC | ITM acc. hard | ITM AUC hard "
    "| R@1/5/10 image-to-text | MLM loss |\n"
    "|---|---|---|---|---|---|---|\n"
    "| 1,911 Twitter emoji alone | 0.642 | 0.755 | 0.394 | 0.360 | "
    "1.0 / 5.3 / 9.8% | 4.26 |"
)


def get_config():
    """ViLT pretrained on emoji and shapes captions.

    Command (the zoo entry):

        mmkeras train vilt_pretrain_emoji --out runs/vilt
        mmkeras zoo make runs/vilt

    (`benchmarks/vilt_pretraining.py` fine-tunes a pretrained backbone
    and a new one on easy-VQA and compares them.)

    Model: `vilt_shapes_pretrainer` (`mmkeras.models.vilt.builders`) with
    the emoji vocabulary: 32x32 images through a 3-block conv stem, 16
    text positions, 4 pre-LN blocks of width 128; ITM + MLM + ITC, the
    ITM loss weighted 2, its negatives uniform for the first 1,000 steps
    and drawn from the ITC similarities (ALBEF) after; AdamW 3e-4 with a
    warmed-up cosine over the 2,420 steps. Data: `emoji_shapes_pairs`:
    the Google and Fluent emoji (3,763) and 4,000 shapes scenes, mixed in
    every batch of 32; held out: the 1,911 Twitter drawings (a style
    never seen) and 500 new scenes. Evaluator: `matching` on those 2,411
    pairs (ITM accuracy and AUC against a random and an ITC-hard
    mismatched caption, recall@1/5/10 of the ITC embeddings, MLM loss).

    Measured: see the entry's card (`mmkeras zoo info
    vilt_tiny.emoji_shapes`) and docs/families/vilt.md.
    """
    return {
        "model": {
            "name": "vilt_shapes_pretrainer",
            "kwargs": {
                "emoji": True,
                "learning_rate": 3e-4,
                # 10 epochs of 242 steps.
                "decay_steps": 2420,
                "itm_weight": 2.0,
                "hard_negatives_after": 1000,
            },
        },
        "data": {
            "name": "emoji_shapes_pairs",
            "kwargs": {"image_size": 32, "batch_size": 32},
        },
        "evaluator": {
            "name": "matching",
            "kwargs": {"ks": [1, 5, 10], "prefix": "held_out"},
        },
        # None: the dataset's length (242 batches).
        "steps_per_epoch": None,
        "epochs": 10,
        "validation_steps": 10,
        "seed": 0,
        "backup_every_steps": 500,
        "zoo": {
            "name": "vilt_tiny.emoji_shapes",
            "version": "1",
            "description": "A small single-stream ViLT (conv stem, 4 blocks "
            "of width 128, 32x32 images in [0, 1], 16 WordPiece positions) "
            "pretrained with image-text matching, masked language "
            "modelling and image-text contrast on emoji drawings and "
            "shapes scenes with their captions.",
            "license": "Apache-2.0",
            "source": "trained by mmkeras on mmkeras.data.emoji (the Google "
            "and Fluent styles) and generated shapes scenes",
            "notes": "Held out: the 1,911 Twitter (Twemoji) drawings with "
            'their canonical captions ("cat face: cat") and 500 new shapes '
            "scenes, {held_out_pairs} pairs. ITM: each image with its "
            "caption and with one other caption, random (`itm_accuracy`, "
            "`itm_auc`) or the most ITC-similar (`_hard`); chance 0.5. "
            "Recall@K: each image ranks the distinct held-out captions by "
            "ITC cosine. Training data: Noto Emoji (Apache-2.0) and Fluent "
            "Emoji (MIT) drawings; the held-out Twemoji graphics are "
            "CC-BY 4.0, (c) Twitter, Inc and other contributors; names "
            "and keywords MIT (emoji-datasource, emojibase-data, Unicode "
            "CLDR).\n\n"
            "ITM is off chance against a random other caption, among emoji "
            "alone too (not only drawing against scene), but below chance "
            "against the most ITC-similar caption, which the head takes "
            "for a match even over the image's own. Recall@10 among the "
            "1,911 emoji captions: 9.8% (chance 0.5%):\n\n"
            + EMOJI_ONLY_TABLE
            + "\n\n"
            "Does pretraining help easy-VQA? No: the same architecture "
            "fine-tuned for 300 steps from this entry and from scratch "
            "(`benchmarks/vilt_pretraining.py --pretrained "
            "runs/vilt/model.keras`; same seeds, data order and "
            "schedule; all 9,673 test questions):\n\n" + EASY_VQA_TABLE,
        },
    }
