import numpy as np
import tensorflow as tf

from mmkeras import _checks
from mmkeras.models.generative_serving import GenerativeServing


class CausalLMServing(GenerativeServing):
    """Export of `CausalLM`.

    - `generate` (with a tokenizer): prompt strings in, answer strings
      out; BPE tokenization, left padding, the prefill, the sampler's
      cached loop and detokenization all in the graph.
    - `generate_ids`: left-padded `token_ids` and `padding_mask` `(batch,
      max_prompt_length)` in, answer ids `(batch, max_new_tokens)` out.
    - ONNX: `encoder` (the prefill: the prompt in, the key/value cache,
      the initial ids and the start index out) and `decoder_step` (one
      token in, its logits and the updated cache out), from
      `GenerativeServing`.

    Args:
        model: a built `CausalLM`.
        sampler: a `mmkeras.samplers` name or instance.
        max_prompt_length: prompt tokens the exported graphs take (every
            prompt is left-padded to it; a longer one is refused).
        max_new_tokens: the most tokens an answer has.
    """

    default_signature = "generate"

    def __init__(
        self, model, sampler="greedy", max_prompt_length=64, max_new_tokens=32
    ):
        _checks.positive_int("max_prompt_length", max_prompt_length)
        _checks.positive_int("max_new_tokens", max_new_tokens)
        super().__init__(model, sampler)
        self.max_prompt_length = max_prompt_length
        self.max_new_tokens = max_new_tokens
        self.max_length = max_prompt_length + max_new_tokens
        if self.max_length > model.sequence_length:
            raise ValueError(
                "max_prompt_length + max_new_tokens must fit the model's "
                f"{model.sequence_length}-token context. Received: "
                f"{max_prompt_length} + {max_new_tokens}"
            )
        self.cache_spec = model.cache_spec(self.max_length)

    def generation_specs(self):
        shape = [None, self.max_prompt_length]
        return {
            "token_ids": tf.TensorSpec(shape, tf.int32, "token_ids"),
            "padding_mask": tf.TensorSpec(shape, tf.bool, "padding_mask"),
        }

    def generate_ids(self, inputs):
        ids = super().generate_ids(inputs)
        return ids[:, self.max_prompt_length :]

    def functions(self):
        specs = self.generation_specs()

        @self.signature(specs.values())
        def generate_ids(token_ids, padding_mask):
            inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
            return {"token_ids": self.generate_ids(inputs)}

        functions = {"generate_ids": generate_ids}
        if self.tokenizer is not None:

            @self.signature([tf.TensorSpec([None], tf.string, "prompts")])
            def generate(prompts):
                return {"answers": self.answers(prompts)}

            functions["generate"] = generate
        return functions

    def answers(self, prompts):
        """Answer strings for prompt strings, in the graph."""
        inputs = self.preprocessor.generate_preprocess(
            prompts, self.max_prompt_length
        )
        ids = self.generate_ids(inputs)
        model = self.model
        keep = (ids != model.end_token_id) & (ids != model.pad_token_id)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))

    def id_limits(self):
        return {**super().id_limits(), "index": self.max_length}

    def examples(self, batch_size, seed):
        examples = super().examples(batch_size, seed)
        rng = np.random.default_rng(seed)
        ids = examples["generate"]["token_ids"]
        # Left-padded prompts of different lengths, the longest full.
        lengths = rng.integers(1, self.max_prompt_length + 1, len(ids))
        lengths[0] = self.max_prompt_length
        positions = np.arange(self.max_prompt_length)
        mask = positions[None] >= self.max_prompt_length - lengths[:, None]
        examples["generate_ids"] = {"token_ids": ids, "padding_mask": mask}
        for name in ("encoder", "decoder_step"):
            examples[name] = dict(examples[name])
        del examples["generate"]
        if self.tokenizer is not None:
            examples["generate"] = {
                "prompts": np.array(
                    [t.encode() for t in self.example_texts(batch_size, rng)],
                    object,
                )
            }
        return examples

    def example_generation_inputs(self, batch_size, rng):
        ids = self.example_ids(
            batch_size,
            rng,
            self.max_prompt_length,
            self.model.vocabulary_size,
        )
        mask = np.ones(ids.shape, bool)
        return {"token_ids": ids, "padding_mask": mask}

    def reference(self, name, inputs):
        if name == "generate_ids":
            return super().reference("generate", inputs)
        if name == "generate":
            answers = self.model.generate(
                [p.decode() for p in inputs["prompts"]],
                max_new_tokens=self.max_new_tokens,
                sampler=self.sampler,
            )
            return {"answers": np.array([a.encode() for a in answers], object)}
        return super().reference(name, inputs)
