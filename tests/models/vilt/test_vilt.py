import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models import _tiny
from mmkeras.models.vilt import ViLTBackbone
from mmkeras.models.vilt import ViLTPreprocessor
from mmkeras.models.vilt import ViLTPretrainer
from mmkeras.models.vilt import builders
from mmkeras.models.vilt_vqa import ViLTVQA
from mmkeras.models.vqa import VQAPreprocessor
from mmkeras.testing import run_task_test
from mmkeras.testing import tiny_models

WORDS = _tiny.WORDS


def captions(count, seed=0, low=1, high=5):
    rng = np.random.default_rng(seed)
    return np.array(
        [
            " ".join(rng.choice(WORDS, rng.integers(low, high)))
            for _ in range(count)
        ]
    )


def pairs(count=8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (count, 30, 26, 3), "uint8"),
        "caption": captions(count, seed),
    }


def questions(count=8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (count, 30, 26, 3), "uint8"),
        "question": captions(count, seed),
        "answer_id": (np.arange(count) % len(_tiny.ANSWERS)).astype("int32"),
    }


def batched(raw, batch_size=4):
    return tf.data.Dataset.from_tensor_slices(raw).batch(batch_size)


def new_pretrainer(**kwargs):
    words = _tiny.tokenizer()
    return ViLTPretrainer(
        builders.tiny_backbone(words.vocabulary_size(), xla=False),
        projection_dim=8,
        preprocessor=ViLTPreprocessor(_tiny.converter(), words),
        **kwargs,
    )


def new_vqa():
    words = _tiny.tokenizer()
    return ViLTVQA(
        builders.tiny_backbone(words.vocabulary_size(), xla=False),
        num_answers=len(_tiny.ANSWERS),
        preprocessor=VQAPreprocessor(_tiny.converter(), words),
        answers=_tiny.ANSWERS,
    )


def test_basics():
    model = run_task_test(new_pretrainer, batched(pairs()), run_mirrored=False)
    history = model.fit(batched(pairs()), epochs=1, verbose=0).history
    # The total is the sum of the three losses, each reported.
    total = sum(history[f"{name}_loss"][0] for name in ("itm", "mlm", "itc"))
    np.testing.assert_allclose(history["loss"][0], total, rtol=1e-5)
    assert 0.0 <= history["itm_accuracy"][0] <= 1.0


def test_basics_vqa():
    run_task_test(new_vqa, batched(questions(4), 2))


def test_pretraining_under_a_mirrored_strategy_sees_the_global_batch():
    strategy = mmkeras.training.strategy(("/cpu:0", "/cpu:1"))
    with strategy.scope():
        model = new_pretrainer()
        model.compile()
    history = model.fit(batched(pairs(4), 4), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all(), history
    # The contrast of 4 pairs, 2 per replica, against all 4 captions: at
    # initialisation near log(4), not log(2).
    assert abs(history["itc_loss"][0] - np.log(4)) < 0.5, history


def test_xla_and_plain_blocks_agree():
    words = _tiny.tokenizer()
    images = np.random.default_rng(1).random((2, 24, 24, 3), "float32")
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0]] * 2, "int32")
    plain, compiled = (
        builders.tiny_backbone(words.vocabulary_size(), xla=xla)
        for xla in (False, True)
    )
    expected = plain(images, ids)["tokens"]
    compiled(images, ids)
    compiled.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        compiled(images, ids)["tokens"], expected, atol=1e-5
    )


def test_padding_never_changes_the_other_outputs():
    backbone = builders.tiny_backbone(20, xla=False)
    images = np.random.default_rng(2).random((2, 24, 24, 3), "float32")
    short = np.array([[5, 6, 7], [8, 9, 10]], "int32")
    padded = np.pad(short, ((0, 0), (0, 7)))
    one = backbone(images, short)
    two = backbone(images, padded)
    np.testing.assert_allclose(two["pooled"], one["pooled"], atol=1e-5)
    # Text positions, then the patches: the pads sit between them.
    np.testing.assert_allclose(
        two["tokens"][:, -4:], one["tokens"][:, -4:], atol=1e-5
    )
    np.testing.assert_allclose(
        two["text_tokens"][:, :3], one["text_tokens"], atol=1e-5
    )


def test_a_conv_stem_replaces_the_patches():
    backbone = builders.tiny_backbone(20, stem_filters=(4, 8), xla=False)
    images = np.random.default_rng(4).random((2, 24, 24, 3), "float32")
    ids = np.array([[5, 6, 0]] * 2, "int32")
    # 24 / 2 / 2 = 6x6 stem cells after [CLS] and the 3 text positions.
    assert backbone(images, ids)["tokens"].shape == (2, 1 + 3 + 36, 16)
    copy = ViLTBackbone.from_config(backbone.get_config())
    copy(images, ids)
    copy.set_weights(backbone.get_weights())
    np.testing.assert_allclose(
        copy(images, ids)["pooled"], backbone(images, ids)["pooled"], atol=1e-6
    )
    assert copy.stem_filters == [4, 8]


def test_hard_negatives_are_never_the_positive_nor_a_copy():
    model = tiny_models.model("vilt")
    ids = np.array(
        [[5, 6, 0], [7, 8, 0], [5, 6, 0], [9, 0, 0], [10, 11, 12]], "int32"
    )
    # The own caption scores far highest: the draw must still avoid it.
    similarities = np.eye(5, dtype="float32") * 50.0
    drawn = np.stack(
        [
            model.hard_negatives(ids, similarities, training=True)[0].numpy()
            for _ in range(60)
        ]
    )
    rows = np.arange(5)
    assert not (drawn == rows).any()
    # Rows 0 and 2 hold the same caption: neither is the other's negative.
    assert not (drawn[:, 0] == 2).any() and not (drawn[:, 2] == 0).any()
    # Drawn in proportion to the softmax: a much closer caption dominates.
    similarities[1, 3] = 10.0
    drawn = np.array(
        [
            int(model.hard_negatives(ids, similarities, True)[0][1])
            for _ in range(40)
        ]
    )
    assert (drawn == 3).mean() > 0.95
    # Inference takes the most similar other caption.
    indices, found = model.hard_negatives(ids, similarities, training=False)
    assert int(indices[1]) == 3 and bool(np.all(found))
    # A batch of one caption has none: its negative adds no loss.
    same = np.array([[5, 6, 0]] * 3, "int32")
    _, found = model.hard_negatives(same, np.zeros((3, 3), "float32"))
    assert not np.any(found)


def test_negatives_are_uniform_until_hard_negatives_after():
    model = new_pretrainer(hard_negatives_after=3)
    model.compile()
    itc = np.arange(12, dtype="float32").reshape(3, 4)
    for step, expected in ((0, 0 * itc), (2, 0 * itc), (3, itc), (9, itc)):
        model.optimizer.iterations.assign(step)
        np.testing.assert_array_equal(
            model._negative_scores(itc, training=True), expected
        )
    # Inference takes the most similar other caption from the first step.
    model.optimizer.iterations.assign(0)
    np.testing.assert_array_equal(model._negative_scores(itc, False), itc)
    hard = new_pretrainer()
    hard.compile()
    np.testing.assert_array_equal(hard._negative_scores(itc, True), itc)
    config = model.get_config()
    assert config["hard_negatives_after"] == 3
    assert ViLTPretrainer.from_config(config).hard_negatives_after == 3


def test_mlm_masking_statistics():
    words = _tiny.tokenizer()
    preprocessor = ViLTPreprocessor(_tiny.converter(), words, seed=3)
    raw = {
        "image": np.random.default_rng(0).integers(
            0, 256, (3000, 4, 4, 3), "uint8"
        ),
        "caption": captions(3000, seed=1, low=4, high=9),
    }
    x, y = preprocessor(raw)
    ids, masked, labels = (
        x["token_ids"].numpy(),
        x["masked_ids"].numpy(),
        y["mlm"].numpy(),
    )
    real = ids != 0
    chosen = labels != -100
    assert (chosen <= real).all()
    assert chosen.any(axis=1).all(), "every caption has a masked token"
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(masked[~chosen], ids[~chosen])
    # 15% of the tokens, plus one where the draw chose none.
    lengths = real.sum(axis=1)
    expected = (0.15 * lengths + 0.85**lengths).sum() / lengths.sum()
    assert abs(chosen.sum() / real.sum() - expected) < 0.01
    to_mask = (masked[chosen] == words.mask_token_id).mean()
    unchanged = (masked[chosen] == ids[chosen]).mean()
    assert abs(to_mask - 0.8) < 0.03, to_mask
    # 10% keep their token, plus random draws that hit it again.
    assert 0.08 < unchanged < 0.16, unchanged
    assert (masked[chosen] >= 5).sum() + (masked[chosen] == 4).sum() == (
        chosen.sum()
    ), "random replacements are ordinary tokens"
    # Seeded: the same again; another seed masks elsewhere.
    again = preprocessor(raw)[1]["mlm"].numpy()
    np.testing.assert_array_equal(again, labels)
    other = ViLTPreprocessor(_tiny.converter(), words, seed=4)(raw)[1]
    assert (other["mlm"].numpy() != labels).any()
    np.testing.assert_array_equal(y["itm"].numpy()[:2], [[1, 0], [1, 0]])


def test_long_captions_are_cut_at_the_sequence_length():
    preprocessor = new_pretrainer().preprocessor
    long = " ".join(WORDS * 3)
    x, y = preprocessor(
        {"image": np.zeros((1, 8, 8, 3), "uint8"), "caption": [long]}
    )
    expected = _tiny.tokenizer()([" ".join((WORDS * 3)[:10])]).numpy()
    assert x["token_ids"].shape == (1, _tiny.TEXT_LENGTH)
    np.testing.assert_array_equal(x["token_ids"].numpy(), expected)
    assert y["mlm"].shape == (1, _tiny.TEXT_LENGTH)


def test_bad_inputs_are_refused_naming_them():
    preprocessor = new_pretrainer().preprocessor
    with pytest.raises(ValueError, match=r"caption\[1\] has no tokens \(''\)"):
        preprocessor(
            {"image": np.zeros((2, 8, 8, 3), "uint8"), "caption": ["red", ""]}
        )
    with pytest.raises(ValueError, match="float images must be in"):
        preprocessor(
            {"image": np.full((1, 8, 8, 3), 255.0), "caption": ["red"]}
        )
    with pytest.raises(TypeError, match="dtype=int32"):
        preprocessor(
            {"image": np.zeros((1, 8, 8, 3), "int32"), "caption": ["red"]}
        )
    model = tiny_models.model("vilt")
    with pytest.raises(TypeError, match="ViLTPretrainer"):
        model.match_scores(
            np.zeros((1, 24, 24, 3), "uint8"), np.ones((1, 10), "int32")
        )


def test_arguments_are_checked():
    words = _tiny.tokenizer()
    with pytest.raises(ValueError, match="hidden_dim=10.*num_heads=4"):
        ViLTBackbone(20, 8, hidden_dim=10, num_heads=4)
    with pytest.raises(
        ValueError,
        match="num_layers must be a positive integer. Received: num_layers=0",
    ):
        ViLTBackbone(20, 8, num_layers=0)
    with pytest.raises(TypeError, match="backbone must be a ViLTBackbone"):
        ViLTPretrainer("vit")
    with pytest.raises(ValueError, match="vocabulary_size=13"):
        ViLTPretrainer(
            ViLTBackbone(99, _tiny.TEXT_LENGTH),
            preprocessor=ViLTPreprocessor(_tiny.converter(), words),
        )
    with pytest.raises(ValueError, match=r"\[MASK\] token"):
        ViLTPreprocessor(
            _tiny.converter(),
            mmkeras.text.WordPieceTokenizer(
                ["[PAD]", "[UNK]", "red"], sequence_length=4
            ),
        )
    with pytest.raises(ValueError, match="mask_rate must be in"):
        ViLTPreprocessor(_tiny.converter(), words, mask_rate=0.0)
    with pytest.raises(ValueError, match="temperature"):
        ViLTPretrainer(ViLTBackbone(20, 8), temperature=0.001)
    with pytest.raises(
        ValueError,
        match="hard_negatives_after must be a non-negative integer. "
        "Received: hard_negatives_after=-1",
    ):
        ViLTPretrainer(ViLTBackbone(20, 8), hard_negatives_after=-1)


def test_vqa_fine_tunes_the_pretrained_backbone():
    pretrainer = tiny_models.model("vilt")
    model = ViLTVQA(pretrainer.backbone, num_answers=3)
    images = np.random.default_rng(3).random((2, 24, 24, 3), "float32")
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0]] * 2, "int32")
    assert model({"image": images, "question_ids": ids}).shape == (2, 3)
    assert model.backbone is pretrainer.backbone
    before = pretrainer.match_scores(images, ids)
    copy = ViLTVQA.from_config(model.get_config())
    copy({"image": images, "question_ids": ids})
    copy.set_weights(model.get_weights())
    keras.tree.assert_same_structure(copy.get_config(), model.get_config())
    np.testing.assert_allclose(
        copy.backbone(images, ids)["pooled"],
        pretrainer.backbone(images, ids)["pooled"],
        atol=1e-6,
    )
    assert before.shape == (2,)
