"""LiT-style `DualEncoder` on emoji (Zhai et al. 2022): the zoo's
EfficientNet-Lite0 (`efficientnet_lite0.imagenet`) and all-MiniLM-L6-v2
(`minilm_l6.sentence`) both locked, two linear projections and the
temperature trained by InfoNCE on the Google and Fluent drawings of the
1,911 emoji with their canonical captions ("cat face: cat"); Twitter's
drawings are held out. The entry bundles only the projections: both
towers are the entries it requires.
"""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs). Random towers (no
# weight conversion) on small images, and 1% of the concepts held out so
# the evaluator ranks a few dozen images.
TINY_OVERRIDES = [
    "model.kwargs.pretrained=False",
    "model.kwargs.image_size=32",
    "model.kwargs.projection_dim=16",
    "data.kwargs.split_by='concept'",
    "data.kwargs.held_out_fraction=0.01",
    "data.kwargs.image_size=32",
    "data.kwargs.batch_size=8",
]


def get_config():
    """Dual encoder on locked pretrained towers, trained on emoji.

    Command (the zoo entry):

        mmkeras train dual_encoder_emoji --out runs/emoji
        mmkeras zoo make runs/emoji

    (`benchmarks/emoji_retrieval.py` prints recall@1/5/10 both ways on the
    held-out style and on held-out concepts, against random towers and
    the shapes entry, and the ranks of scikit-image's photos.)

    Model: `emoji_dual_encoder` (`mmkeras.models.dual_encoder.builders`),
    112x112 images. Data: `emoji_caption_pairs` split by style: trained on
    the `google` and `fluent` drawings (3,763 images), the 1,911 `twitter`
    ones held out. Evaluator: `retrieval`, recall@1/5/10 each way over all
    1,911 concepts (one drawing and one caption each).
    """
    return {
        "model": {
            "name": "emoji_dual_encoder",
            "kwargs": {
                "projection_dim": 256,
                "learning_rate": 1e-3,
                "image_size": 112,
            },
        },
        "data": {
            "name": "emoji_caption_pairs",
            "kwargs": {
                "split_by": "style",
                "held_out_style": "twitter",
                "captions": "canonical",
                "batch_size": 64,
            },
        },
        "evaluator": {
            "name": "retrieval",
            "kwargs": {"ks": [1, 5, 10], "prefix": "held_out_style"},
        },
        # None: the dataset's length (58 batches).
        "steps_per_epoch": None,
        "epochs": 12,
        "seed": 0,
        "zoo": {
            "name": "dual_encoder_lite0_minilm.emoji",
            "version": "1",
            "description": "LiT-style dual encoder for emoji drawings and "
            "their names: EfficientNet-Lite0 (ImageNet) for 112x112 images "
            "in [0, 1] and all-MiniLM-L6-v2, both locked, with 256-d "
            "linear projections trained on the Google (Noto) and Fluent "
            "emoji. Both towers are the entries efficientnet_lite0.imagenet "
            "and minilm_l6.sentence, so only the projections are bundled.",
            "license": "Apache-2.0",
            "source": "trained by mmkeras on mmkeras.data.emoji (the "
            "Google and Fluent styles of emoji-datasource 16.0.0 and "
            "@lobehub/fluent-emoji-3d, captions from emoji-datasource and "
            "CLDR through emojibase-data) from efficientnet_lite0.imagenet "
            "and minilm_l6.sentence",
            "loader": "mmkeras.zoo.loaders.dual_encoder_locked",
            "requires": ["efficientnet_lite0.imagenet", "minilm_l6.sentence"],
            "notes": "Held out: the 1,911 Twitter (Twemoji) drawings, one "
            'per concept, against the 1,911 canonical captions ("cat '
            'face: cat"); chance is K / 1,911. Training data: Noto Emoji '
            "(Apache-2.0) and Fluent Emoji (MIT) drawings; the held-out "
            "Twemoji graphics are CC-BY 4.0, (c) Twitter, Inc and other "
            "contributors; names and keywords MIT (emoji-datasource, "
            "emojibase-data, Unicode CLDR). "
            "`benchmarks/emoji_retrieval.py` prints the whole table.",
        },
    }
