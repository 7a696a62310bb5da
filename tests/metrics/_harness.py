"""Shared pieces of the metric tests: caption fixtures, the pycocoevalcap
oracle, a Keras `evaluate` run (optionally mirrored) and a config check."""

import random

import keras
import numpy as np
import tensorflow as tf
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

import mmkeras

_COLOURS = "red blue green yellow grey".split()
_SHAPES = "circle square triangle ball box".split()
_RELATIONS = ["left of", "right of", "above", "below", "next to", "on"]
NUM_REFS = 5


def captions(count=20, seed=0):
    """`(references, candidates)`: lists of 1..5 references and strings.

    Scenes share a small vocabulary so n-grams recur across the corpus (the
    idf matters) and candidates overlap their references in part.
    """
    rng = random.Random(seed)
    references, candidates = [], []
    for _ in range(count):
        scene = [rng.choice(_COLOURS), rng.choice(_SHAPES)]
        scene += [rng.choice(_RELATIONS), rng.choice(_COLOURS)]
        scene += [rng.choice(_SHAPES)]
        references.append(
            [_describe(scene, rng) for _ in range(rng.randint(1, NUM_REFS))]
        )
        candidates.append(_describe(scene, rng))
    candidates[3] = ""  # an empty caption scores zero, not an error
    return references, candidates


def _describe(scene, rng):
    words = ["a", *scene[:2], *scene[2].split(), "a", *scene[3:]]
    for _ in range(rng.randint(0, 3)):
        edit = rng.randrange(3)
        position = rng.randrange(len(words))
        if edit == 0 and len(words) > 2:
            del words[position]
        elif edit == 1:
            words.insert(position, rng.choice(_COLOURS + _SHAPES))
        else:
            words[position] = rng.choice(["the", "small", "big", "a"])
    return " ".join(words)


def padded(references):
    """References as a `(batch, NUM_REFS)` array, empty strings as padding."""
    return np.array([r + [""] * (NUM_REFS - len(r)) for r in references])


def token_ids(references, candidates, length=16):
    """The same text as `(batch, length)` and `(batch, NUM_REFS, length)`
    token ids, 0 being padding."""
    vocabulary = {}

    def encode(text):
        ids = [
            vocabulary.setdefault(w, len(vocabulary) + 1) for w in text.split()
        ]
        return ids + [0] * (length - len(ids))

    refs = [[encode(r) for r in row] for row in padded(references)]
    return np.array(refs), np.array([encode(c) for c in candidates])


def oracle(scorer, references, candidates):
    gts = {i: refs for i, refs in enumerate(references)}
    res = {i: [candidate] for i, candidate in enumerate(candidates)}
    if scorer == "bleu":
        return Bleu(4).compute_score(gts, res, verbose=0)[0][3]
    return float(Cider().compute_score(gts, res)[0])


def mirrored_strategy():
    strategy = mmkeras.training.strategy(devices=["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy


def evaluate(make_metric, y_true, y_pred, strategy=None, batch_size=6):
    """`make_metric()`'s value from `model.evaluate` of a tiny model.

    The model passes `y_pred` through its "prediction" output, so the
    metric sees known predictions, and trains a Dense "score" head so that
    it has a loss. Batches are even: Keras splits the first batch across the
    two replicas and needs equal halves.
    """
    strategy = strategy or tf.distribute.get_strategy()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    with strategy.scope():
        prediction = keras.Input(
            y_pred.shape[1:], dtype=_dtype(y_pred), name="prediction"
        )
        feature = keras.Input((1,), name="feature")
        outputs = {
            "prediction": keras.layers.Identity()(prediction),
            "score": keras.layers.Dense(1)(feature),
        }
        model = keras.Model(
            {"prediction": prediction, "feature": feature}, outputs
        )
        metric = make_metric()
        model.compile(
            loss={"score": "mse"},
            metrics={"prediction": [metric]},
            jit_compile=False,
        )
    zeros = np.zeros((len(y_pred), 1), "float32")
    dataset = tf.data.Dataset.from_tensor_slices(
        (
            {"prediction": y_pred, "feature": zeros},
            {"prediction": y_true, "score": zeros},
        )
    ).batch(batch_size)
    logs = model.evaluate(dataset, verbose=0, return_dict=True)
    return logs[f"prediction_{metric.name}"]


def _dtype(array):
    return "string" if array.dtype.kind in "US" else array.dtype.name


def assert_config_round_trip(metric):
    cls = type(metric)
    assert keras.saving.get_registered_object(f"mmkeras>{cls.__name__}") is cls
    config = metric.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert type(restored) is cls and restored.get_config() == config
