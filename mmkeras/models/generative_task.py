import contextlib

import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras import samplers as samplers_lib
from mmkeras.layers import inside_jit_compile
from mmkeras.models.task import Task

# What a generating family supplies.
_PARTS = ("build_cache", "call_with_cache", "cache_spec")
# Logit of the pad token in generation: finite, so softmaxes never give NaN.
NEVER = -1e9


class GenerativeTask(Task):
    """Base of the tasks that generate token ids: owns `generate()`.

    A subclass supplies its parts, as KerasHub's `CausalLM` subclasses do:

    - `build_cache(inputs, max_length)`: runs what is fixed for the whole
      decode (an image encoder, a prompt) and returns the cache, a dict
      of tensors or lists of tensors whose structure `cache_spec`
      declares.
    - `call_with_cache(token_ids, cache, index)`: logits `(batch, 1,
      vocabulary_size)` of the token after `token_ids` `(batch, 1)` at
      position `index`, and the updated cache.
    - `cache_spec(max_length)`: the cache as `tf.TensorSpec`s with batch
      None, the same structure as `build_cache` returns; exports build
      their decoder-step graphs from it.
    - attributes `vocabulary_size`, `sequence_length`, `start_token_id`,
      `end_token_id` and `pad_token_id`, and `generation_inputs`, the
      model input `build_cache` takes (a prompt's ids by default; a
      captioner's image).

    The base owns the rest: the sampler's `while_loop`
    (`generate_step`), sampler choice, one compiled function per
    (sampler, length, jit_compile), the preprocessor on the way in and
    detokenization on the way out.
    """

    generation_inputs = "token_ids"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Named when the class is written, not at the first generate().
        missing = [name for name in _PARTS if not hasattr(cls, name)]
        if missing:
            raise TypeError(
                f"{cls.__name__} subclasses GenerativeTask but lacks "
                f"{', '.join(missing)}; see GenerativeTask's docstring"
            )

    def initial_token_ids(self, inputs, cache, max_length):
        """`(token_ids (batch, max_length), start_index)`: the start token
        then padding, decoding from position 1. A model with a prompt
        overrides it."""
        batch = ops.shape(tf.nest.flatten(cache)[0])[0]
        first = ops.zeros((batch, max_length), "int32") + self.pad_token_id
        start = ops.arange(max_length)[None] == 0
        return ops.where(start, self.start_token_id, first), 1

    def generate_step(self, inputs, sampler, max_length):
        """Token ids `(batch, max_length)` for model `inputs`, in graph;
        `pad_token_id` after the end token. The pad token is never
        generated."""
        cache = self.build_cache(inputs, max_length)
        token_ids, start_index = self.initial_token_ids(
            inputs, cache, max_length
        )

        def next_fn(token_ids, cache, index):
            previous = ops.take(token_ids, index - 1, axis=1)[:, None]
            logits, cache = self.call_with_cache(previous, cache, index - 1)
            return self.mask_pad_logits(logits[:, 0]), cache

        token_ids = sampler(
            next_fn,
            token_ids,
            cache,
            start_index=start_index,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
        )
        return cut_at_end(
            token_ids, self.end_token_id, self.pad_token_id, start_index
        )

    def mask_pad_logits(self, logits):
        """`(batch, vocab)` logits with the pad token never chosen, unless
        it is also the end token (as in Llama-style vocabularies, where
        padding reuses the end of a turn)."""
        if self.pad_token_id == self.end_token_id:
            return logits
        never = ops.arange(self.vocabulary_size) == self.pad_token_id
        return ops.where(never, NEVER, logits)

    def generate(
        self,
        inputs,
        sampler="greedy",
        max_length=None,
        jit_compile=False,
        return_strings=None,
    ):
        """Generates token ids, or strings, for `inputs`.

        Args:
            inputs: raw inputs when the model has a preprocessor (e.g.
                uint8 or [0, 1] images for a captioner), else model inputs.
            sampler: a `mmkeras.samplers` name or instance.
            max_length: ids per output, start token included; default
                `sequence_length`.
            jit_compile: compile the whole decoding loop with XLA.
            return_strings: return detokenized strings; default `True` when
                the model has a tokenizer.

        Returns:
            A list of strings, or int32 token ids `(batch, max_length)`
            (start token first, `pad_token_id` after the end token).
        """
        sampler = samplers_lib.get(sampler)
        max_length = max_length or self.sequence_length
        check_max_length(max_length, self.sequence_length)
        if return_strings is None:
            return_strings = self.tokenizer is not None
        if return_strings and self.tokenizer is None:
            raise ValueError(
                "return_strings=True needs a tokenizer; give the model a "
                "preprocessor with one. Received: tokenizer=None"
            )
        if self.preprocessor is not None:
            inputs = self.preprocessor.generate_preprocess(inputs)
        inputs = tf.nest.map_structure(ops.convert_to_tensor, inputs)
        if not self.built:
            self.build(self.generation_input_shapes(inputs))
        function = self._generate_function(sampler, max_length, jit_compile)
        token_ids = ops.convert_to_numpy(function(inputs))
        if not return_strings:
            return token_ids
        return self.preprocessor.detokenize(token_ids)

    def generation_input_shapes(self, inputs):
        """What `build` takes, for `generate` on an unbuilt model."""
        return tf.nest.map_structure(lambda x: tuple(x.shape), inputs)

    def _generate_function(self, sampler, max_length, jit_compile):
        if not hasattr(self, "_generate_functions"):
            self._generate_functions = {}
        key = (repr(samplers_lib.serialize(sampler)), max_length, jit_compile)
        if key not in self._generate_functions:

            def decode(inputs):
                plain = contextlib.nullcontext()
                with inside_jit_compile() if jit_compile else plain:
                    return self.generate_step(inputs, sampler, max_length)

            # No AutoGraph: decoding loops are `ops.while_loop`s, and
            # converting the call tree was a third of a first caption.
            self._generate_functions[key] = tf.function(
                decode, jit_compile=jit_compile, autograph=False
            )
        return self._generate_functions[key]


def check_max_length(max_length, sequence_length):
    _checks.positive_int("max_length", max_length)
    if not 2 <= max_length <= sequence_length:
        raise ValueError(
            "max_length must be in [2, sequence_length="
            f"{sequence_length}] (the start token plus at least one "
            f"generated token). Received: max_length={max_length}"
        )


def cut_at_end(token_ids, end_token_id, pad_token_id, start_index=0):
    """Ids `(batch, length)` with every position after the first end token
    at or after `start_index` set to pad (samplers stop a row at its end
    token, beams may not); a prompt's own end tokens (the end of an
    earlier chat turn) stay."""
    generated = ops.arange(token_ids.shape[1]) >= start_index
    is_end = ops.cast(ops.equal(token_ids, end_token_id) & generated, "int32")
    ended_before = ops.cumsum(is_end, axis=1) - is_end > 0
    return ops.where(ended_before, pad_token_id, token_ids)
