import itertools

import numpy as np
import pytest

from mmkeras.samplers import BeamSampler
from mmkeras.samplers import GreedySampler
from tests.samplers.toy import ToyModel
from tests.samplers.toy import greedy_reference
from tests.samplers.toy import run_sampler_test
from tests.samplers.toy import sequence_log_prob

rng = np.random.default_rng(0)
PROMPT = rng.integers(0, 10, (3, 7)).astype("int32")


def _trap_model():
    """Greedy takes 0 -> 1 (p=.5) into a flat row; 0 -> 2 (p=.4) leads to
    two near-certain tokens, the better sequence overall."""
    probs = np.random.default_rng(1).dirichlet(np.ones(10), size=10)
    probs[0] = [0.02, 0.5, 0.4] + [0.08 / 7] * 7
    probs[1] = 0.1
    probs[2] = np.eye(10)[3] * 0.9 + 0.01
    probs[3] = np.eye(10)[4] * 0.9 + 0.01
    shift = np.random.default_rng(2).standard_normal((10, 10)) * 0.1
    return ToyModel(np.log(probs), shift)


def _brute_force(model, prompt, start_index):
    best = []
    for row in prompt:
        steps = len(row) - start_index
        candidates = [
            np.concatenate([row[:start_index], tail])
            for tail in itertools.product(range(model.vocab), repeat=steps)
        ]
        scores = [sequence_log_prob(model, c, start_index) for c in candidates]
        best.append(candidates[int(np.argmax(scores))])
    return np.array(best)


def test_basics():
    model = ToyModel.random()
    run_sampler_test(BeamSampler(3), model, PROMPT, 2, end_token_id=4)
    sampler = BeamSampler(3, length_penalty=1.0, return_all_beams=True)
    tokens, scores = run_sampler_test(sampler, model, PROMPT, 2)
    assert tokens.shape == (3, 3, 7) and scores.shape == (3, 3)


@pytest.mark.parametrize("end_token_id", [None, 4])
def test_one_beam_is_greedy(end_token_id):
    model = ToyModel.random(seed=3)
    beam = model.sample(BeamSampler(1), PROMPT, 2, end_token_id=end_token_id)
    greedy = greedy_reference(model, PROMPT, 2, end=end_token_id)
    np.testing.assert_array_equal(beam, greedy)


@pytest.mark.parametrize("num_beams", [2, 3])
def test_finds_the_most_likely_sequence(num_beams):
    model = _trap_model()
    prompt = np.array([[0, 0, 0, 0], [5, 0, 0, 0]], "int32")
    best = _brute_force(model, prompt, 1)
    greedy = model.sample(GreedySampler(), prompt, 1)
    np.testing.assert_array_equal(best[0], [0, 2, 3, 4])
    assert not np.array_equal(greedy[0], best[0])
    beam = model.sample(BeamSampler(num_beams), prompt, 1)
    np.testing.assert_array_equal(beam, best)


def test_beam_scores_follow_their_reordered_caches():
    # Logits depend on the cached running sum of each beam's own tokens:
    # a cache left in the wrong beam order gives scores that differ from
    # the reference log-probabilities of the returned sequences.
    model = ToyModel.random(seed=4, shift_scale=2.0)
    sampler = BeamSampler(4, return_all_beams=True)
    tokens, scores = model.sample(sampler, PROMPT, 2)
    tokens, scores = np.asarray(tokens), np.asarray(scores)
    for beams, beam_scores in zip(tokens, scores, strict=True):
        expected = [sequence_log_prob(model, b, 2) for b in beams]
        np.testing.assert_allclose(beam_scores, expected, atol=1e-4)
        assert len({tuple(b) for b in beams}) == 4
    assert (np.diff(scores, axis=1) <= 0).all()


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_ended_beams_are_padded_and_scored_to_the_end(length_penalty):
    model = ToyModel.random(seed=5, scale=1.0)
    end, pad = 3, 9
    sampler = BeamSampler(5, length_penalty, return_all_beams=True)
    tokens, scores = model.sample(
        sampler, PROMPT, 2, end_token_id=end, pad_token_id=pad
    )
    tokens, scores = np.asarray(tokens), np.asarray(scores)
    ended = 0
    for beams, beam_scores in zip(tokens, scores, strict=True):
        for beam, score in zip(beams, beam_scores, strict=True):
            generated = list(beam[2:])
            length = generated.index(end) + 1 if end in generated else 5
            assert (beam[2 + length :] == pad).all()
            ended += end in generated
            log_prob = sequence_log_prob(model, beam, 2, end=end)
            expected = log_prob / length**length_penalty
            np.testing.assert_allclose(score, expected, atol=1e-4)
    assert ended >= 3  # the case is exercised


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_beams=0"):
        BeamSampler(num_beams=0)
    with pytest.raises(ValueError, match="length_penalty='long'"):
        BeamSampler(length_penalty="long")


@pytest.mark.parametrize("end_token_id", [None, 4])
def test_one_beam_ranked_is_greedy_too(end_token_id):
    # return_all_beams runs the beam loop, not the greedy shortcut.
    model = ToyModel.random(seed=3)
    greedy = greedy_reference(model, PROMPT, 2, end=end_token_id)
    sampler = BeamSampler(1, return_all_beams=True)
    ranked, _ = model.sample(sampler, PROMPT, 2, end_token_id=end_token_id)
    np.testing.assert_array_equal(ranked[:, 0], greedy)
