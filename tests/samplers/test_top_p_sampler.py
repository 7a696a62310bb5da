import numpy as np
import pytest

from mmkeras.samplers import TopPSampler
from tests.samplers.toy import ToyModel
from tests.samplers.toy import greedy_reference
from tests.samplers.toy import run_sampler_test

rng = np.random.default_rng(0)
PROMPT = rng.integers(0, 10, (64, 8)).astype("int32")


def _nucleus(logits, p, temperature=1.0):
    """Token ids of the nucleus and their renormalised probabilities."""
    probs = np.exp(logits / temperature - np.max(logits / temperature))
    probs /= probs.sum()
    order = np.argsort(-probs)
    mass_before = np.cumsum(probs[order]) - probs[order]
    kept = order[mass_before < p]
    return kept, probs[kept] / probs[kept].sum()


def test_basics():
    sampler = TopPSampler(p=0.7, temperature=0.9, k=6, seed=5)
    run_sampler_test(sampler, ToyModel.random(), PROMPT, 2, end_token_id=4)


def test_tiny_p_is_greedy():
    model = ToyModel.random(seed=1)
    tokens = model.sample(TopPSampler(p=1e-6, seed=3), PROMPT, 2)
    np.testing.assert_array_equal(tokens, greedy_reference(model, PROMPT, 2))


@pytest.mark.parametrize("p, k", [(0.6, None), (1.0, 2)])
def test_tokens_are_inside_the_nucleus(p, k):
    model = ToyModel.random(seed=2, scale=1.0)
    tokens = model.sample(TopPSampler(p=p, k=k, seed=0), PROMPT, 1)
    tokens = np.asarray(tokens)
    outside = 0
    for row in tokens:
        for i in range(1, len(row)):
            kept, _ = _nucleus(model.logits(row[:i]), p)
            kept = kept[:k] if k else kept
            outside += row[i] not in kept
    assert outside == 0
    assert len(np.unique(tokens[:, 1:])) > 2  # not greedy


def test_frequencies_match_renormalised_nucleus():
    model = ToyModel.random(seed=3, scale=0.5, shift_scale=0.3)
    prompt = np.zeros((4000, 2), "int32")
    sampler = TopPSampler(p=0.8, temperature=1.5, seed=11)
    tokens = np.asarray(model.sample(sampler, prompt, 1))[:, 1]
    frequencies = np.bincount(tokens, minlength=10) / len(tokens)
    kept, probs = _nucleus(model.logits(np.array([0])), 0.8, 1.5)
    expected = np.zeros(10)
    expected[kept] = probs
    assert 2 < len(kept) < 10
    np.testing.assert_allclose(frequencies, expected, atol=0.03)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"p": 1.5}, "p=1.5"),
        ({"p": 0}, "p=0"),
        ({"temperature": 0}, "temperature=0"),
        ({"k": 0}, "k=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TopPSampler(**kwargs)
