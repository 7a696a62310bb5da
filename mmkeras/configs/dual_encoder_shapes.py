"""CLIP-style `DualEncoder` on generated ShapeWorld-style captions.

One true caption per 75x75 scene ("a red circle", "there is a blue square
above a gray circle", ...). Captions are ambiguous (a caption is true of
many scenes), so held-out recall@1 stays far below 1 even for a perfect
model; `benchmarks/dual_encoder.py` prints that oracle bound beside the
trained model.
"""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = [
    "data.kwargs.num_train=16",
    "data.kwargs.num_validation=8",
    "data.kwargs.batch_size=8",
    "model.kwargs.projection_dim=16",
]


def get_config():
    """Dual encoder on shapes captions.

    Command: `mmkeras train dual_encoder_shapes --out runs/dual_encoder`
    (or `python benchmarks/dual_encoder.py`, which also prints the
    oracle bound); `mmkeras evaluate runs/dual_encoder` re-measures.

    Model: `shapes_dual_encoder` (`mmkeras.models.dual_encoder.
    builders`), tiny conv and transformer towers over the captions'
    closed vocabulary. Data: `shapes_caption_pairs`, 4,000 generated
    scenes with one caption each (seed 0) for training, 500 fresh scenes
    (seed 1) held out. Evaluator: `retrieval` (recall@1 and @5 both ways,
    and true@1, how often the top hit is a true caption or scene).

    Expected (measured once, 20 epochs, load average 14): held-out (500
    pairs) recall@5 0.018 image-to-text and 0.030 text-to-image, against
    chance 0.010 and a caption-truth oracle of 0.061 / 0.075; the model
    overfits (validation loss rises after epoch 5), so this recipe is a
    baseline to improve, not a tuned result.
    Time: about 4 minutes on 2 shared CPU cores (196 s of training).
    """
    return {
        "model": {
            "name": "shapes_dual_encoder",
            "kwargs": {"projection_dim": 64, "learning_rate": 1e-3},
        },
        "data": {
            "name": "shapes_caption_pairs",
            "kwargs": {"num_train": 4000, "num_validation": 500},
        },
        "evaluator": {
            "name": "retrieval",
            "kwargs": {"ks": [1, 5], "prefix": "held_out"},
        },
        # None: the dataset's length (62 batches).
        "steps_per_epoch": None,
        "epochs": 20,
        "seed": 0,
    }
