import numpy as np
import pytest

from mmkeras.samplers import TopKSampler
from tests.samplers.toy import ToyModel
from tests.samplers.toy import greedy_reference
from tests.samplers.toy import run_sampler_test

rng = np.random.default_rng(0)
PROMPT = rng.integers(0, 10, (64, 8)).astype("int32")
FLAT = ToyModel(np.zeros((10, 10)))


def _softmax(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_basics():
    sampler = TopKSampler(k=3, temperature=0.8, seed=7)
    run_sampler_test(sampler, ToyModel.random(), PROMPT, 2, end_token_id=4)


def test_k_one_is_greedy():
    model = ToyModel.random(seed=1)
    tokens = model.sample(TopKSampler(k=1, seed=3), PROMPT, 2)
    np.testing.assert_array_equal(tokens, greedy_reference(model, PROMPT, 2))


def test_tokens_are_among_the_top_k_of_their_step():
    model = ToyModel.random(seed=2, scale=0.5)
    tokens = np.asarray(model.sample(TopKSampler(k=3, seed=0), PROMPT, 1))
    outside = 0
    for row in tokens:
        for i in range(1, len(row)):
            outside += row[i] not in np.argsort(model.logits(row[:i]))[-3:]
    assert outside == 0
    # On these flat-ish logits plain sampling would often leave the top 3.
    assert len(np.unique(tokens[:, 1:])) > 3


def test_seeds():
    def sample(seed):
        return np.asarray(FLAT.sample(TopKSampler(10, seed=seed), PROMPT, 1))

    np.testing.assert_array_equal(sample(1), sample(1))
    assert not np.array_equal(sample(1), sample(2))
    assert not np.array_equal(sample(None), sample(None))


def test_frequencies_match_renormalised_top_k():
    model = ToyModel.random(seed=3, scale=1.0)
    prompt = np.zeros((4000, 2), "int32")
    sampler = TopKSampler(k=3, temperature=0.7, seed=11)
    tokens = np.asarray(model.sample(sampler, prompt, 1))[:, 1]
    frequencies = np.bincount(tokens, minlength=10) / len(tokens)
    logits = model.logits(np.array([0]))
    expected = np.zeros(10)
    top = np.argsort(logits)[-3:]
    expected[top] = _softmax(logits[top] / 0.7)
    np.testing.assert_allclose(frequencies, expected, atol=0.03)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k=0"),
        ({"k": 2.5}, "k=2.5"),
        ({"temperature": 0}, "temperature=0"),
        ({"seed": "abc"}, "seed='abc'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TopKSampler(**kwargs)
