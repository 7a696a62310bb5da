"""FiLM VQA on Sort-of-CLEVR: the recipe of the zoo's
`vqa_film.sort_of_clevr`, which meets the targets (relational >= 94%,
non-relational >= 99%) that the paper's relation network
(`vqa_sort_of_clevr`) did not reach in the steps a CPU affords."""

from mmkeras.configs.vqa_sort_of_clevr import QUESTION_TYPE_SPLITS

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = [
    "data.kwargs.train_images=4",
    "data.kwargs.test_images=2",
    "data.kwargs.batch_size=8",
    "model.kwargs.hidden_dim=32",
    "model.kwargs.fusion_layers=1",
]


def get_config():
    """Sort-of-CLEVR with FiLM.

    Command (the zoo entry):

        mmkeras train vqa_film_sort_of_clevr --out runs/sort_of_clevr_film
        mmkeras zoo make runs/sort_of_clevr_film

    Model: `sort_of_clevr_vqa` (`mmkeras.models.vqa.builders`) with
    `fusion="film"`: a 2-block CoordConv encoder with batch norm (19x19
    image tokens, 64 wide) and 4 FiLM residual blocks conditioned on the
    question, a 256-wide max-pooled readout and MLP; Adam 3e-4. Data:
    `sort_of_clevr`, 9,800 train and 200 test images (seeds 0 and 1), 20
    questions each, the paper's 11-dim question encoding. Evaluator:
    `accuracy` overall, relational, non-relational and by question type.

    Expected: 100.0% non-relational and 96.2% relational (the entry,
    measured 2026-12-02 on 2 CPU cores: 22,000 steps in 73 minutes by
    `benchmarks/vqa.py sort-of-clevr --fusion film --filters 32,64
    --hidden-dim 256 --fusion-layers 4 --normalization batch
    --coordinates --no-normalize-tokens --learning-rate 3e-4 --steps
    60000 --eval-every 1000 --minutes 70`, whose 70-minute budget ended
    the run at 22,000 steps; this config trains those 22,000 steps).
    """
    return {
        "model": {
            "name": "sort_of_clevr_vqa",
            "kwargs": {
                "fusion": "film",
                "filters": [32, 64],
                "hidden_dim": 256,
                "fusion_layers": 4,
                "normalization": "batch",
                "coordinates": True,
                "normalize_tokens": False,
                "learning_rate": 3e-4,
            },
        },
        "data": {"name": "sort_of_clevr", "kwargs": {}},
        "evaluator": {
            "name": "accuracy",
            "kwargs": {"prefix": "test", "splits": QUESTION_TYPE_SPLITS},
        },
        "steps_per_epoch": 1000,
        "epochs": 22,
        "seed": 0,
        "backup_every_steps": 500,
        "zoo": {
            "name": "vqa_film.sort_of_clevr",
            "version": "1",
            "description": "FiLM VQA on Sort-of-CLEVR (75x75 scenes of six "
            "objects, the paper's 11-dim question encoding, answers "
            "`mmkeras.data.shapes.ANSWERS`): a 2-block CoordConv encoder "
            "with batch norm (19x19 image tokens, 64 wide) and 4 FiLM "
            "residual blocks (dilated 1, 2, 4, 8) conditioned on the "
            "question, a 256-wide max-pooled readout and MLP.",
            "license": "Apache-2.0",
            "source": "trained by mmkeras on generated scenes "
            "(mmkeras.data.sort_of_clevr, seed 0)",
            "notes": "Test: the 4,000 questions of 200 new scenes (seed 1), "
            "10 non-relational and 10 relational per scene; the metrics "
            "give each of the six question types too. The issue's targets "
            "are relational >= 94% and non-relational >= 99% (Santoro et "
            "al. 2017 report > 94% on both with a relation network after "
            "about 20 epochs, ~60,000 steps); `benchmarks/vqa.py` prints "
            "the learning curve.",
        },
    }
