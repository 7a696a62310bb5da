"""LiT-style `DualEncoder` on emoji (Zhai et al. 2022): the zoo's
EfficientNet-Lite0 (`efficientnet_lite0.imagenet`) and all-MiniLM-L6-v2
(`minilm_l6.sentence`) both locked, two linear projections and the
temperature trained by InfoNCE on the Google and Fluent drawings of the
1,911 emoji with their canonical captions ("cat face: cat"); Twitter's
drawings are held out. The entry bundles only the projections: both
towers are the entries it requires.
"""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps). Random towers (no weight
# conversion) on small images and short captions, and 0.3% of the
# concepts held out so the evaluator ranks 18 images (3 batches).
TINY_OVERRIDES = [
    "model.kwargs.pretrained=False",
    "model.kwargs.image_size=32",
    "model.kwargs.projection_dim=16",
    "model.kwargs.sequence_length=8",
    "data.kwargs.split_by='concept'",
    "data.kwargs.held_out_fraction=0.003",
    "data.kwargs.image_size=32",
    "data.kwargs.batch_size=8",
]


# benchmarks/emoji_retrieval.py, 2026-12-06 (the card's tables): recall@1/5/10
# image to text, then text to image, in %.
RECALL_TABLE = (
    "| model | split | R@1 i2t | R@5 i2t | R@10 i2t | R@1 t2i | "
    "R@5 t2i | R@10 t2i |\n"
    "|---|---|---|---|---|---|---|---|\n"
    "| (a) dual_encoder_lite0_minilm.emoji | held-out style | "
    "18.7 | 38.2 | 46.9 | 18.5 | 39.4 | 48.9 |\n"
    "| (a) dual_encoder_lite0_minilm.emoji | held-out concept | "
    "19.8 | 39.4 | 49.5 | 23.9 | 41.8 | 53.7 |\n"
    "| (b) same, random towers | held-out style | 0.1 | 0.4 | "
    "0.7 | 0.2 | 0.5 | 0.9 |\n"
    "| (b) same, random towers | held-out concept | 0.2 | 1.8 | "
    "3.6 | 0.3 | 1.6 | 3.9 |\n"
    "| (c) dual_encoder_lite0_minilm.shapes | held-out style | "
    "0.1 | 0.4 | 0.8 | 0.1 | 0.2 | 0.5 |\n"
    "| (c) dual_encoder_lite0_minilm.shapes | held-out concept | "
    "0.5 | 1.3 | 2.4 | 0.0 | 2.1 | 2.4 |"
)

# Photo, its right emoji, that emoji's rank among 1,911, the top 5.
PHOTO_TABLE = (
    "| photo | right emoji | rank | top 5 |\n"
    "|---|---|---|---|\n"
    "| chelsea | cat face | 38 | peacock; frog face; ceuta & "
    "melilla flag; electric light bulb; diya lamp |\n"
    "| coffee | hot beverage | 11 | face with diagonal mouth; "
    "monorail; chocolate bar; light rail; polar bear |\n"
    "| astronaut | astronaut | 658 | fencer; bellhop bell; "
    "badminton racquet and shuttlecock; antenna with bars; "
    "trolleybus |\n"
    "| rocket | rocket | 327 | aquarius; classical building; "
    "comet; hourglass with flowing sand; building construction |\n"
    "| horse | horse face | 96 | service dog; envelope; llama; "
    "ox; dromedary camel |\n"
    "| coins | coin | 1460 | spain flag; cherries; bubbles; "
    "syringe; watermelon |\n"
    "| camera | movie camera | 246 | gorilla; star and crescent; "
    "telescope; fishing pole and fish; black telephone |\n"
    "| stereo_motorcycle | motorcycle | 55 | curry and rice; "
    "mountain bicyclist; bicycle; bus; minibus |\n"
    "| hubble_deep_field | milky way | 30 | spider; large brown "
    "square; trident emblem; large brown circle; spider web |"
)


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
            "`benchmarks/emoji_retrieval.py` prints the whole table "
            "(measured 2026-12-06 in one run of 598 s at load 6-10 on 2 "
            "cores; relevance by concept; held-out concepts: all styles of "
            "the 380 concepts of `emoji(split_by='concept')`, the recipe "
            "retrained on the others; random towers: the same recipe; "
            "the shapes entry as it is):\n\n"
            + RECALL_TABLE
            + "\n\n"
            "scikit-image's photos against all 1,911 captions (rank of "
            "the right emoji; none reaches the top 5):\n\n"
            + PHOTO_TABLE,
        },
    }
