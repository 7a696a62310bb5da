"""`emoji_shapes_pairs`: emoji drawings and shapes scenes with their
captions in one dataset, on the tests' tiny npm emoji directory."""

import numpy as np
import pytest

import mmkeras
from mmkeras.data import emoji_caption
from mmkeras.data import emoji_records
from mmkeras.data.image_text_pairs import emoji_shapes_pairs
from tests.data.test_emoji import write_npm

SCENES, VALIDATION_SCENES, BATCH = 9, 3, 4


@pytest.fixture(scope="module")
def npm(tmp_path_factory):
    return write_npm(tmp_path_factory.mktemp("node_modules"))


def pairs(npm, split, **kwargs):
    options = {
        "image_size": 20,
        "batch_size": BATCH,
        "num_shapes": SCENES,
        "num_shapes_validation": VALIDATION_SCENES,
        "source": npm,
        **kwargs,
    }
    return emoji_shapes_pairs(split=split, **options)


def epoch(dataset):
    batches = list(dataset.as_numpy_iterator())
    return {
        key: np.concatenate([b[key] for b in batches]) for key in batches[0]
    }


def test_train_mixes_both_corpora_in_whole_shuffled_batches(npm):
    records = emoji_records(source=npm)
    drawings = [r for r in records if r.style != "twitter"]
    assert len(drawings) == 23  # google 12, fluent 11
    train = pairs(npm, "train")
    count = (len(drawings) + SCENES) // BATCH
    assert int(train.cardinality()) == count
    first = epoch(train)
    assert set(first) == {"image", "caption"}
    assert first["image"].shape == (count * BATCH, 20, 20, 3)
    assert first["image"].dtype == np.uint8
    captions = [c.decode() for c in first["caption"]]
    emoji = [c for c in captions if ":" in c]
    scenes = [c for c in captions if ":" not in c]
    assert set(emoji) <= {emoji_caption(r) for r in drawings}
    shapes = mmkeras.data.splits.caption_pairs(SCENES, seed=0)
    assert set(scenes) <= {
        c.decode() for c in next(iter(shapes))["caption"].numpy()
    }
    assert emoji and scenes
    # Seeded: a new dataset repeats the order; a new epoch reshuffles.
    again = epoch(pairs(npm, "train"))
    np.testing.assert_array_equal(again["image"], first["image"])
    assert list(again["caption"]) == list(first["caption"])
    two = epoch(pairs(npm, "train").repeat(2))
    assert list(two["caption"][: len(captions)]) == list(first["caption"])
    assert list(two["caption"][len(captions) :]) != list(first["caption"])
    other = epoch(pairs(npm, "train", seed=1))
    assert list(other["caption"]) != list(first["caption"])


def test_validation_is_the_held_out_style_then_new_scenes(npm):
    held_out = [r for r in emoji_records(source=npm) if r.style == "twitter"]
    validation = epoch(pairs(npm, "validation"))
    count = len(held_out)
    assert len(validation["caption"]) == count + VALIDATION_SCENES
    assert [c.decode() for c in validation["caption"][:count]] == [
        emoji_caption(r) for r in held_out
    ]
    # The Twitter drawings of the fake directory: right half blue on white.
    np.testing.assert_array_equal(
        validation["image"][:count, :, -2], np.tile([0, 0, 200], (count, 20, 1))
    )
    scenes = mmkeras.data.splits.caption_pairs(VALIDATION_SCENES, seed=1)
    expected = [c.decode() for c in next(iter(scenes))["caption"].numpy()]
    assert [c.decode() for c in validation["caption"][count:]] == expected
    # Emoji only, and the first drawings only.
    alone = epoch(pairs(npm, "validation", num_shapes_validation=0))
    assert len(alone["caption"]) == count
    few = epoch(pairs(npm, "validation", max_drawings=2))
    assert list(few["caption"]) == list(validation["caption"][:2]) + list(
        validation["caption"][count:]
    )
    train = pairs(npm, "train", max_drawings=3, num_shapes=5)
    assert int(train.cardinality()) == 2
    assert sum(":" in c.decode() for c in epoch(train)["caption"]) == 3


def test_bad_arguments_are_refused_naming_them(npm):
    with pytest.raises(ValueError, match="max_drawings=0"):
        pairs(npm, "train", max_drawings=0)
    with pytest.raises(ValueError, match="num_shapes=-1"):
        pairs(npm, "train", num_shapes=-1)
    with pytest.raises(ValueError, match="fewer training pairs than"):
        pairs(npm, "train", batch_size=64)
    with pytest.raises(ValueError, match="held_out_style"):
        pairs(npm, "train", held_out_style="apple")
    # Registered; 32x32 by default.
    validation = mmkeras.data.build_splits(
        {
            "name": "emoji_shapes_pairs",
            "kwargs": {"source": str(npm), "num_shapes_validation": 2},
        },
        "validation",
    )
    assert next(iter(validation))["image"].shape[1:] == (32, 32, 3)
