import numpy as np
import pytest

import mmkeras.metrics
from tests.metrics import _harness


def test_basics():
    _harness.assert_config_round_trip(mmkeras.metrics.Bleu4(pad_id=3))


def test_matches_pycocoevalcap_streaming():
    references, candidates = _harness.captions()
    expected = _harness.oracle("bleu", references, candidates)
    assert 0.1 < expected < 0.9  # the fixture exercises partial matches
    bleu = mmkeras.metrics.Bleu4()
    refs = _harness.padded(references)
    for start in range(0, len(candidates), 7):
        batch = slice(start, start + 7)
        bleu.update_state(refs[batch], np.array(candidates[batch]))
    assert abs(float(bleu.result()) - expected) < 1e-6


def test_closest_reference_length_sets_the_brevity_penalty():
    # Closest to 4 words are the 3- and 5-word references: ties go to 3, so
    # no penalty; "average" (4) would give the same, "shortest" (1) too,
    # but the longest reference alone (8) would penalise.
    references = [["w x y", "a b c d e", "z", "a b c d e f g h"]]
    candidates = ["a b c d"]
    expected = _harness.oracle("bleu", references, candidates)
    bleu = mmkeras.metrics.Bleu4()
    bleu.update_state(np.array(references), np.array(candidates))
    assert abs(float(bleu.result()) - expected) < 1e-6
    brevity = np.exp(1 - 8 / 4)
    bleu.reset_state()
    bleu.update_state(np.array([["a b c d e f g h"]]), np.array(candidates))
    precisions = (4 / 4 * 3 / 3 * 2 / 2 * 1 / 1) ** 0.25
    assert abs(float(bleu.result()) - precisions * brevity) < 1e-6


def test_token_ids_score_as_words():
    references, candidates = _harness.captions()
    ref_ids, candidate_ids = _harness.token_ids(references, candidates)
    bleu = mmkeras.metrics.Bleu4(pad_id=0)
    bleu.update_state(ref_ids, candidate_ids)
    expected = _harness.oracle("bleu", references, candidates)
    assert abs(float(bleu.result()) - expected) < 1e-6


def test_reset_state():
    bleu = mmkeras.metrics.Bleu4()
    bleu.update_state(np.array([["a b c d"]]), np.array(["x y z w"]))
    bleu.reset_state()
    bleu.update_state(np.array([["a b c d"]]), np.array(["a b c d"]))
    assert abs(float(bleu.result()) - 1.0) < 1e-6


def test_evaluate_single_device_and_mirrored():
    references, candidates = _harness.captions()
    expected = _harness.oracle("bleu", references, candidates)
    strings = _harness.evaluate(
        mmkeras.metrics.Bleu4, _harness.padded(references), candidates
    )
    ref_ids, candidate_ids = _harness.token_ids(references, candidates)
    single = _harness.evaluate(mmkeras.metrics.Bleu4, ref_ids, candidate_ids)
    mirrored = _harness.evaluate(
        mmkeras.metrics.Bleu4,
        ref_ids,
        candidate_ids,
        strategy=_harness.mirrored_strategy(),
    )
    assert abs(strings - expected) < 1e-6
    assert abs(single - expected) < 1e-6
    assert abs(mirrored - single) < 1e-7


def test_errors():
    with pytest.raises(ValueError, match="pad_id=-0.5"):
        mmkeras.metrics.Bleu4(pad_id=-0.5)
    bleu = mmkeras.metrics.Bleu4()
    with pytest.raises(ValueError, match=r"y_pred string \(2, 1\)"):
        bleu.update_state(np.array([["a"], ["b"]]), np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="sample_weight"):
        bleu.update_state(np.array([["a"]]), np.array(["a"]), np.ones(1))
    with pytest.raises(Exception, match="no reference"):
        bleu.update_state(np.array([["", ""]]), np.array(["a"]))
