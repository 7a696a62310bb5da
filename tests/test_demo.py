"""A short run of the `make demo` job: it trains, agrees and reloads."""

import numpy as np

from mmkeras import demo


def test_scenes_are_seeded_and_answers_are_true():
    (first, answers), (second, _) = (
        demo.make_scenes(8, 3),
        demo.make_scenes(8, 3),
    )
    np.testing.assert_array_equal(first["image"], second["image"])
    colours = list(demo.COLOURS)
    for image, question, answer in zip(
        first["image"], first["question"], answers, strict=True
    ):
        rgb = np.array(demo.COLOURS[colours[question[1] - 3]], "float32")
        columns = np.where(np.all(image == rgb, axis=-1).any(axis=0))[0]
        is_left = columns.mean() < demo.IMAGE_SIZE / 2
        assert bool(answer) == is_left


def test_short_run_agrees_and_reloads_exactly():
    results = demo.run(epochs=1, train_size=256, seed=0)
    assert results["xla_plain_difference"] < 1e-4
    assert results["reload_difference"] == 0.0
    assert 0.0 <= results["accuracy"] <= 1.0
