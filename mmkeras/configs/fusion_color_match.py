"""Colour match: a fusion task where each modality alone is at chance
(`mmkeras.data.color_match`); the recipe of the zoo's
`fusion_gated.color_match` with `--set model.kwargs.fusion=gated`."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = [
    "data.kwargs.num_train=32",
    "data.kwargs.num_validation=16",
    "data.kwargs.batch_size=8",
]


def get_config():
    """Colour match with concat fusion (or another, by `--set`).

    Command (the zoo entry):

        mmkeras train fusion_color_match --out runs/fusion_gated \\
            --set model.kwargs.fusion=gated
        mmkeras zoo make runs/fusion_gated

    Choose the fusion with `--set model.kwargs.fusion=...` (`concat`,
    `gated`, `bilinear`, `attention`, `late`, `image_only`, `text_only`);
    the entry is named `fusion_<fusion>.color_match`.

    Model: `color_match_fusion` (`mmkeras.models.fusion.builders`), tiny
    conv and transformer encoders. Data: `color_match`, 4096 generated
    training examples (seed 0) and 1024 validation examples (seed 1),
    32x32 images of one coloured shape and a short text naming a colour;
    label = the colours match. Evaluator: `accuracy` on the validation
    examples (`validation_accuracy`).

    Expected (measured by `benchmarks/fusion.py`, 30 epochs, 2026-12-02):
    1.000 validation accuracy for concat, gated, bilinear and attention;
    0.491 image_only and 0.522 text_only (chance by construction) and
    0.509 late (additive in the modalities, so it cannot express a
    match). With per-pixel layer norm and mean pooling (before
    2026-12-02) bilinear and attention stalled at 0.797, merging the
    gray object with the white page and three colours with red.

    Time: about 1-2 minutes per fusion on 2 CPU cores (10 epochs).
    """
    return {
        "model": {"name": "color_match_fusion", "kwargs": {"fusion": "concat"}},
        "data": {
            "name": "color_match",
            "kwargs": {"num_train": 4096, "num_validation": 1024},
        },
        "evaluator": {"name": "accuracy", "kwargs": {"prefix": "validation"}},
        # None: the dataset's length (64 batches).
        "steps_per_epoch": None,
        "epochs": 10,
        "seed": 0,
        # `mmkeras zoo make`: fields formatted with the config (and the
        # notes with the metrics too).
        "zoo": {
            "name": "fusion_{model[kwargs][fusion]}.color_match",
            # 2: retrained with group norm and max pooling.
            "version": "2",
            "description": "`{model[kwargs][fusion]}` fusion of a tiny conv "
            "image encoder and a tiny transformer text encoder on colour "
            "match: does the text name the colour of the shape? Each "
            "modality alone is at chance.",
            "license": "Apache-2.0",
            "source": "trained by mmkeras on generated data",
            "notes": "Validation: 1,024 generated examples of another seed "
            "(seed 1). `mmkeras predict {name} --image shape.png --text "
            "red` classifies a new pair.",
        },
    }
