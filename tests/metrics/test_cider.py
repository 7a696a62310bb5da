import numpy as np
import pytest

import mmkeras.metrics
from tests.metrics import _harness


def test_basics():
    _harness.assert_config_round_trip(mmkeras.metrics.Cider(pad_id=3))


def test_matches_pycocoevalcap_streaming():
    references, candidates = _harness.captions()
    expected = _harness.oracle("cider", references, candidates)
    assert 0.5 < expected < 5.0
    cider = mmkeras.metrics.Cider()
    refs = _harness.padded(references)
    for start in range(0, len(candidates), 7):
        batch = slice(start, start + 7)
        cider.update_state(refs[batch], np.array(candidates[batch]))
        # The idf is over the references seen so far, as a fresh scorer.
        seen = slice(0, start + 7)
        partial = _harness.oracle("cider", references[seen], candidates[seen])
        assert abs(float(cider.result()) - partial) < 1e-6
    assert abs(float(cider.result()) - expected) < 1e-6


def test_larger_corpus_matches_pycocoevalcap():
    references, candidates = _harness.captions(count=200, seed=1)
    cider = mmkeras.metrics.Cider()
    cider.update_state(_harness.padded(references), np.array(candidates))
    expected = _harness.oracle("cider", references, candidates)
    assert abs(float(cider.result()) - expected) < 1e-6


def test_candidates_sharing_no_word_score_zero_like_pycocoevalcap():
    # What an untrained captioner writes: no n-gram in common.
    references = [["a red circle", "a blue square"], ["a gray circle"]]
    candidates = ["yellow yellow", "below"]
    expected = _harness.oracle("cider", references, candidates)
    cider = mmkeras.metrics.Cider()
    cider.update_state(_harness.padded(references), np.array(candidates))
    assert float(cider.result()) == expected == 0.0


def test_token_ids_score_as_words():
    references, candidates = _harness.captions()
    ref_ids, candidate_ids = _harness.token_ids(references, candidates)
    cider = mmkeras.metrics.Cider()
    cider.update_state(ref_ids, candidate_ids)
    expected = _harness.oracle("cider", references, candidates)
    assert abs(float(cider.result()) - expected) < 1e-6


def test_reset_state_forgets_the_corpus():
    references, candidates = _harness.captions()
    cider = mmkeras.metrics.Cider()
    cider.update_state(_harness.padded(references), np.array(candidates))
    cider.reset_state()
    assert float(cider.result()) == 0.0
    cider.update_state(
        _harness.padded(references[:5]), np.array(candidates[:5])
    )
    expected = _harness.oracle("cider", references[:5], candidates[:5])
    assert abs(float(cider.result()) - expected) < 1e-6


def test_evaluate_single_device_and_mirrored():
    references, candidates = _harness.captions()
    expected = _harness.oracle("cider", references, candidates)
    strings = _harness.evaluate(
        mmkeras.metrics.Cider, _harness.padded(references), candidates
    )
    ref_ids, candidate_ids = _harness.token_ids(references, candidates)
    single = _harness.evaluate(mmkeras.metrics.Cider, ref_ids, candidate_ids)
    mirrored = _harness.evaluate(
        mmkeras.metrics.Cider,
        ref_ids,
        candidate_ids,
        strategy=_harness.mirrored_strategy(),
    )
    assert abs(strings - expected) < 1e-6
    assert abs(single - expected) < 1e-6
    assert abs(mirrored - single) < 1e-6


def test_errors():
    with pytest.raises(ValueError, match="pad_id=None"):
        mmkeras.metrics.Cider(pad_id=None)
    cider = mmkeras.metrics.Cider()
    with pytest.raises(ValueError, match=r"y_true float32"):
        cider.update_state(np.zeros((1, 2), "float32"), np.array(["a"]))
    with pytest.raises(ValueError, match="sample_weight"):
        cider.update_state(np.array([["a"]]), np.array(["a"]), np.ones(1))
