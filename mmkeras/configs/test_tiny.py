"""Tiny seeded, untrained task models for fast tests of the zoo (loading,
golden outputs, export): the recipe of the `test_<family>.tiny` entries."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = []


def get_config():
    """A tiny seeded model of one family (`mmkeras.testing.tiny_models`).

    Command (one entry per family; `fusion`, `captioner`, `vqa`,
    `dual_encoder`, or any family `tiny_models` builds):

        mmkeras train test_tiny --out runs/test_fusion \\
            --set model.kwargs.family=fusion
        mmkeras zoo make runs/test_fusion

    0 epochs: nothing is trained, no data and no evaluator; the golden
    outputs are on seeded random inputs of the model's shapes. Time: a
    few seconds.
    """
    return {
        "model": {
            "fn": "mmkeras.testing.tiny_models.model",
            "kwargs": {"family": "fusion"},
        },
        "data": None,
        "epochs": 0,
        "seed": 0,
        "zoo": {
            "name": "test_{model[kwargs][family]}.tiny",
            "version": "1",
            "description": "An untrained, seeded tiny "
            "{model[kwargs][family]} for fast tests of the zoo (loading, "
            "golden outputs, export).",
            "license": "Apache-2.0",
            "source": "mmkeras.testing.tiny_models (seed 0)",
            "golden": "random",
            "notes": "Not trained: for tests only.",
        },
    }
