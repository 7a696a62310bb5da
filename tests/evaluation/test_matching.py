"""The `matching` evaluator (ITM accuracy and AUC, ITC recall@K, MLM
loss) on a model that knows the pairs, and on the tiny ViLT."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mmkeras import evaluation
from mmkeras.evaluation.matching import auc
from mmkeras.models import _tiny
from mmkeras.models.vilt import ViLTPreprocessor
from mmkeras.testing import tiny_models

# The concept of each pair: pairs 0 and 5 share a caption and an image.
CONCEPTS = [0, 1, 2, 3, 4, 0]
WORDS = _tiny.WORDS


def pairs_data(concepts=CONCEPTS, batch_size=4):
    """`(train, validation)` of image i filled with 10 * concept and the
    caption of its concept's word."""
    shape = (len(concepts), _tiny.IMAGE_SIZE, _tiny.IMAGE_SIZE, 3)
    values = 10 * np.asarray(concepts, "uint8").reshape(-1, 1, 1, 1)
    images = np.broadcast_to(values, shape)
    raw = {
        "image": images,
        "caption": np.array([WORDS[c] for c in concepts], dtype=str),
    }
    validation = tf.data.Dataset.from_tensor_slices(raw).batch(batch_size)
    return validation, validation


def config(**kwargs):
    return {
        "data": {
            "fn": "tests.evaluation.test_matching.pairs_data",
            "kwargs": kwargs.pop("data", {}),
        },
        "evaluator": {"name": "matching", "kwargs": {"ks": [1, 2], **kwargs}},
    }


class Oracle:
    """Knows which caption is each image's. Its ITC embeddings make caption
    j + 1 the most similar other caption of image j; `wrong` inverts its
    ITM. Records the (image, caption) concepts of every ITM call."""

    def __init__(self, wrong=False):
        self.preprocessor = ViLTPreprocessor(
            _tiny.converter(), _tiny.tokenizer()
        )
        self.wrong = wrong
        self.calls = []
        self.first_id = {
            int(self.preprocessor.tokenize([w])[0, 0]): i
            for i, w in enumerate(WORDS)
        }

    def _image_concepts(self, images):
        return np.rint(np.asarray(images)[:, 0, 0, 0] * 255 / 10).astype(int)

    def _text_concepts(self, token_ids):
        return np.array(
            [self.first_id[int(i)] for i in np.asarray(token_ids)[:, 0]]
        )

    def encode_image(self, images):
        return np.eye(len(WORDS))[self._image_concepts(images)]

    def encode_text(self, token_ids):
        concepts = self._text_concepts(token_ids)
        return (
            np.eye(len(WORDS))[concepts]
            + 0.5 * np.eye(len(WORDS))[concepts - 1]
        )

    def match_scores(self, images, token_ids):
        pair = np.stack(
            [self._image_concepts(images), self._text_concepts(token_ids)], 1
        )
        self.calls.append(pair)
        truth = (pair[:, 0] == pair[:, 1]).astype(float)
        return 1.0 - truth if self.wrong else truth

    def mlm_logits(self, images, masked_ids):
        vocabulary = self.preprocessor.tokenizer.vocabulary_size()
        return np.zeros((*np.shape(masked_ids), vocabulary), "float32")


def test_a_model_that_knows_the_pairs_scores_perfectly():
    oracle = Oracle()
    metrics = evaluation.evaluate(oracle, config())
    vocabulary = oracle.preprocessor.tokenizer.vocabulary_size()
    assert metrics == {
        "held_out_itm_accuracy": 1.0,
        "held_out_itm_auc": 1.0,
        "held_out_itm_accuracy_hard": 1.0,
        "held_out_itm_auc_hard": 1.0,
        "held_out_recall_at_1_image_to_text": 1.0,
        "held_out_recall_at_2_image_to_text": 1.0,
        "held_out_recall_at_1_text_to_image": 1.0,
        "held_out_recall_at_2_text_to_image": 1.0,
        # Uniform word logits: the cross-entropy is log(vocabulary).
        "held_out_mlm_loss": pytest.approx(math.log(vocabulary)),
        "held_out_pairs": 6,
    }
    positive, random, hard = oracle.calls
    np.testing.assert_array_equal(positive[:, 0], CONCEPTS)
    np.testing.assert_array_equal(positive[:, 1], CONCEPTS)
    # Never the own caption nor its copy (pairs 0 and 5 share one).
    assert (random[:, 0] != random[:, 1]).all()
    assert (hard[:, 0] != hard[:, 1]).all()
    # The hard negative is the most ITC-similar other caption.
    np.testing.assert_array_equal(hard[:, 1], (np.array(CONCEPTS) + 1) % 5)
    # Deterministic; another seed draws other random negatives.
    again = Oracle()
    evaluation.evaluate(again, config())
    np.testing.assert_array_equal(again.calls[1], random)
    other = Oracle()
    evaluation.evaluate(other, config(seed=3))
    assert (other.calls[1] != random).any()


def test_a_model_that_inverts_the_pairs_scores_zero():
    metrics = evaluation.evaluate(Oracle(wrong=True), config(prefix="test"))
    assert metrics["test_itm_accuracy"] == 0.0
    assert metrics["test_itm_auc"] == 0.0
    assert metrics["test_itm_auc_hard"] == 0.0


def test_max_pairs_takes_the_first_pairs():
    oracle = Oracle()
    metrics = evaluation.evaluate(oracle, config(max_pairs=3))
    assert metrics["held_out_pairs"] == 3
    np.testing.assert_array_equal(oracle.calls[0][:, 0], CONCEPTS[:3])


def test_auc_counts_ties_half():
    assert auc([0.9, 0.5], [0.5, 0.1]) == pytest.approx(0.875)
    assert auc([0.2], [0.2]) == 0.5


def test_the_tiny_vilt_is_measured_the_same_twice():
    model = tiny_models.model("vilt")
    metrics = evaluation.evaluate(model, config())
    assert metrics == evaluation.evaluate(model, config())
    assert metrics["held_out_pairs"] == 6
    for key, value in metrics.items():
        if "itm" in key or "recall" in key:
            assert 0.0 <= value <= 1.0, key
    # Untrained: the masked words are about as likely as any.
    vocabulary = model.backbone.vocabulary_size
    assert abs(metrics["held_out_mlm_loss"] - math.log(vocabulary)) < 1.0


def test_bad_inputs_are_refused_naming_them():
    with pytest.raises(
        ValueError, match="two different captions or more.*6 pairs of 1"
    ):
        evaluation.evaluate(Oracle(), config(data={"concepts": [2] * 6}))
    with pytest.raises(ValueError, match="max_pairs=1"):
        evaluation.evaluate(Oracle(), config(max_pairs=1))
    oracle = Oracle()
    oracle.preprocessor = None
    with pytest.raises(ValueError, match="with its preprocessor"):
        evaluation.evaluate(oracle, config())
    with pytest.raises(ValueError, match="found no validation pairs"):
        evaluation.evaluate(Oracle(), config(data={"concepts": []}))
    # A dual encoder embeds but does not match pairs.
    with pytest.raises(
        TypeError,
        match="Received: DualEncoder, which has no match_scores, mlm_logits",
    ):
        evaluation.evaluate(tiny_models.model("dual_encoder"), config())
