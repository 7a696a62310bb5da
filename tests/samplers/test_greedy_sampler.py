import numpy as np
import pytest
import tensorflow as tf

from mmkeras.samplers import GreedySampler
from tests.samplers.toy import ToyModel
from tests.samplers.toy import greedy_reference
from tests.samplers.toy import run_sampler_test

rng = np.random.default_rng(0)
PROMPT = rng.integers(0, 10, (4, 9)).astype("int32")


def test_basics():
    run_sampler_test(GreedySampler(), ToyModel.random(), PROMPT, 3)


@pytest.mark.parametrize("start_index", [1, 3, 8])
def test_matches_numpy_reference(start_index):
    model = ToyModel.random(seed=1)
    tokens = model.sample(GreedySampler(), PROMPT, start_index)
    expected = greedy_reference(model, PROMPT, start_index)
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_array_equal(
        tokens[:, :start_index], PROMPT[:, :start_index]
    )


def test_stops_at_end_token_and_pads_after_it():
    model = ToyModel.random(seed=2)
    expected_free = greedy_reference(model, PROMPT, 2)
    end = int(expected_free[0, 4])  # row 0 emits it by position 4
    tokens = model.sample(GreedySampler(), PROMPT, 2, end_token_id=end)
    expected = greedy_reference(model, PROMPT, 2, end=end, pad=0)
    np.testing.assert_array_equal(tokens, expected)
    first_end = np.argmax(np.asarray(tokens)[0, 2:] == end) + 2
    assert first_end <= 4
    assert (np.asarray(tokens)[0, first_end + 1 :] == 0).all()


def test_custom_pad_token():
    model = ToyModel.random(seed=2)
    end = int(greedy_reference(model, PROMPT, 2)[0, 4])
    tokens = model.sample(
        GreedySampler(), PROMPT, 2, end_token_id=end, pad_token_id=7
    )
    expected = greedy_reference(model, PROMPT, 2, end=end, pad=7)
    np.testing.assert_array_equal(tokens, expected)


def test_stops_early_when_every_sequence_ended():
    # Token t -> t + 1, and 5 is the end token: row 0 ends after one step,
    # row 1 after three.
    model = ToyModel(np.roll(np.eye(10, dtype="float32") * 10, 1, axis=1))
    calls = []

    def next_fn(token_ids, cache, index):
        calls.append(index)
        return model.next_fn(token_ids, cache, index)

    prompt = np.array([[4, 9, 9, 9, 9, 9, 9, 9], [2, 9, 9, 9, 9, 9, 9, 9]])
    tokens = GreedySampler()(
        next_fn, prompt, model.cache(prompt, 1), 1, end_token_id=5
    )
    assert len(calls) == 3
    # Positions never reached are reset to pad, not left as the input's 9s.
    np.testing.assert_array_equal(
        tokens, [[4, 5, 0, 0, 0, 0, 0, 0], [2, 3, 4, 5, 0, 0, 0, 0]]
    )


def test_dynamic_batch_in_tf_function():
    model = ToyModel.random(seed=3)
    run = tf.function(
        lambda prompt, total: GreedySampler()(
            model.next_fn, prompt, {"total": total}, 2
        ),
        input_signature=[
            tf.TensorSpec((None, 9), "int32"),
            tf.TensorSpec((None, 1), "int32"),
        ],
    )
    tokens = run(PROMPT, model.cache(PROMPT, 2)["total"])
    np.testing.assert_array_equal(tokens, greedy_reference(model, PROMPT, 2))


def test_bad_start_index():
    with pytest.raises(ValueError, match="start_index=0"):
        ToyModel.random().sample(GreedySampler(), PROMPT, 0)
