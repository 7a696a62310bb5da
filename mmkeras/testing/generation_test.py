"""`run_generation_test`: the checks every generating task must pass."""

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import samplers


def run_generation_test(model, inputs, max_length=None, atol=1e-5):
    """Checks a built `mmkeras.models.GenerativeTask`'s decoding.

    - Cached decoding equals the uncached full pass: every logit that
      `call_with_cache` gives, step by step over greedily generated ids,
      equals the full forward pass's at the same position (padded
      positions aside), and each greedy token is the argmax of the full
      pass's logits (pad masked).
    - The cache has the structure and shapes `cache_spec` declares.
    - Beam search with one beam gives the greedy tokens.
    - `jit_compile=True` gives the same tokens, greedy and with 3 beams.

    Args:
        model: a built generating task.
        inputs: generation inputs, as `build_cache` takes them (converted
            pixels for a captioner, prompt ids for a language model).
        max_length: ids per output; default `model.sequence_length`.
        atol: tolerance of the cached/uncached logits.

    Returns:
        The greedy token ids `(batch, max_length)`.
    """
    max_length = max_length or model.sequence_length
    inputs = tf.nest.map_structure(ops.convert_to_tensor, inputs)
    greedy = _generate(model, inputs, "greedy", max_length)
    assert greedy.shape[1] == max_length, greedy.shape
    _check_cache_spec(model, inputs, max_length)
    _check_cached_equals_full_pass(model, inputs, greedy, atol)
    beam = _generate(model, inputs, samplers.BeamSampler(1), max_length)
    np.testing.assert_array_equal(beam, greedy, err_msg="1 beam vs greedy")
    for sampler in ["greedy", samplers.BeamSampler(num_beams=3)]:
        plain = _generate(model, inputs, sampler, max_length)
        compiled = _generate(model, inputs, sampler, max_length, True)
        np.testing.assert_array_equal(
            compiled, plain, err_msg=f"jit_compile with {sampler!r}"
        )
    return greedy


def _generate(model, inputs, sampler, max_length, jit_compile=False):
    # The function `generate` runs once the preprocessor has converted
    # its inputs: these inputs are converted already.
    function = model._generate_function(
        samplers.get(sampler), max_length, jit_compile
    )
    return ops.convert_to_numpy(function(inputs))


def _check_cache_spec(model, inputs, max_length):
    cache = model.build_cache(inputs, max_length)
    spec = model.cache_spec(max_length)
    tf.nest.assert_same_structure(cache, spec)
    for entry, entry_spec in zip(
        tf.nest.flatten(cache), tf.nest.flatten(spec), strict=True
    ):
        assert entry_spec.shape[0] is None, "cache_spec: batch must be None"
        assert entry_spec.is_compatible_with(entry), (entry_spec, entry.shape)


def _check_cached_equals_full_pass(model, inputs, token_ids, atol):
    names = model.generation_inputs
    named = {names: inputs} if isinstance(names, str) else dict(inputs)
    full = ops.convert_to_numpy(
        model({**named, "token_ids": token_ids}, training=False)
    )
    max_length = token_ids.shape[1]
    cache = model.build_cache(inputs, max_length)
    _, start = model.initial_token_ids(inputs, cache, max_length)
    real = token_ids != model.pad_token_id
    for index in range(int(start), max_length):
        previous = token_ids[:, index - 1 : index]
        logits, cache = model.call_with_cache(previous, cache, index - 1)
        logits = ops.convert_to_numpy(logits)[:, 0]
        # Padded positions attend to fewer keys in the full pass.
        rows = real[:, index - 1]
        np.testing.assert_allclose(
            logits[rows],
            full[rows, index - 1],
            atol=atol,
            rtol=1e-5,
            err_msg=f"cached logits at position {index - 1}",
        )
        _check_greedy_token(model, full[:, index - 1], token_ids, index)


def _check_greedy_token(model, logits, token_ids, index):
    """Rows still decoding at `index` chose the full pass's argmax."""
    before = token_ids[:, :index]
    live = ~np.any(before[:, 1:] == model.end_token_id, axis=1)
    live &= token_ids[:, index - 1] != model.pad_token_id
    logits = np.array(logits)
    logits[:, model.pad_token_id] = -np.inf
    expected = logits.argmax(-1)
    np.testing.assert_array_equal(
        token_ids[live, index],
        expected[live],
        err_msg=f"greedy token at {index} vs the uncached full pass",
    )
