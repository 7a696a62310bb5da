import json

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.models import _serving_inputs
from mmkeras.models.generative_serving import GenerativeServing
from mmkeras.models.serving import ExportError
from mmkeras.models.serving import RequestError

# Example prompts draw at most this many tokens of the vocabulary.
_MAX_EXAMPLE_TOKENS = 8


class CausalLMServing(GenerativeServing):
    """Export of `CausalLM`.

    - `generate` (default; with a tokenizer): `prompts: string[N]` in,
      `answers: string[N]` out, as `CausalLM.generate` gives them: BPE
      tokenization, left padding to `max_prompt_length`, the prefill, the
      sampler's cached loop and detokenization, all in the graph. An
      empty prompt starts from the end-of-text token; a prompt of more
      than `max_prompt_length` tokens is refused naming it.
    - `generate_ids`: left-padded `token_ids: int32[N, P]` and
      `padding_mask: bool[N, P]` (`P = max_prompt_length`) in, the
      answers' `token_ids: int32[N, max_new_tokens]` out (`pad_token_id`
      after the end token).
    - ONNX: `encoder` (the prefill: the `generate_ids` inputs in, the
      key/value cache `key_values`, the cache's `cache_padding_mask`, the
      `initial_token_ids` and the `start_index` out) and `decoder_step`
      (one token, its index and the cache in; its logits and the updated
      cache out), from `GenerativeServing`. The folder carries the BPE
      vocabulary and merges, so `run_onnx.py --prompt` tokenizes without
      TensorFlow.

    Args:
        model: a built `CausalLM`.
        sampler: a `mmkeras.samplers` name or instance.
        max_prompt_length: prompt tokens the exported graphs take (every
            prompt is left-padded to it; a longer one is refused).
        max_new_tokens: the most tokens an answer has.
    """

    default_signature = "generate"
    # Prompts are left-padded here, not by the tokenizer.
    pads_text = True

    def __init__(
        self, model, sampler="greedy", max_prompt_length=64, max_new_tokens=64
    ):
        _checks.positive_int("max_prompt_length", max_prompt_length)
        _checks.positive_int("max_new_tokens", max_new_tokens)
        max_length = max_prompt_length + max_new_tokens
        if max_length > model.sequence_length:
            raise ExportError(
                "max_prompt_length + max_new_tokens must fit the model's "
                f"{model.sequence_length}-token context. Received: "
                f"max_prompt_length={max_prompt_length}, "
                f"max_new_tokens={max_new_tokens}"
            )
        super().__init__(model, sampler, max_length)
        self.max_prompt_length = max_prompt_length
        self.max_new_tokens = max_new_tokens

    def generation_specs(self):
        shape = [None, self.max_prompt_length]
        return {
            "token_ids": tf.TensorSpec(shape, tf.int32, "token_ids"),
            "padding_mask": tf.TensorSpec(shape, tf.bool, "padding_mask"),
        }

    def generate_ids(self, inputs):
        """The answers' ids (the prompt cut off) for left-padded prompts."""
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
        preprocessor = self.preprocessor
        prompts = _serving_inputs.counted(
            "prompts",
            prompts,
            self.prompt_lengths(prompts),
            self.max_prompt_length,
            "shorten it, or export with a larger max_prompt_length",
        )
        inputs = preprocessor.generate_preprocess(
            prompts, self.max_prompt_length
        )
        ids = self.generate_ids(inputs)
        model = self.model
        keep = (ids != model.end_token_id) & (ids != model.pad_token_id)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))

    def prompt_lengths(self, prompts):
        """Tokens of each prompt as the preprocessor makes them: an empty
        one is one token, a start token adds one."""
        preprocessor = self.preprocessor
        lengths = preprocessor.tokenize(prompts).row_lengths()
        lengths = tf.maximum(lengths, 1)
        return lengths + int(preprocessor.add_start_token)

    def request(self, image_bytes, question=None, texts=()):
        raise RequestError(self._takes_prompts())

    def predict(self, image_paths, question=None, texts=()):
        raise RequestError(self._takes_prompts())

    def _takes_prompts(self):
        return (
            f"a {type(self.model).__name__} continues text prompts and "
            "takes no images: run `mmkeras generate MODEL --prompt "
            "'...'` (or --chat '...')"
        )

    # ONNX: the consumer tokenizes with the vocabulary and merges.

    def tokenizer_config(self):
        tokenizer = self.tokenizer
        if not hasattr(tokenizer, "merges"):
            raise ExportError(
                "the ONNX consumer tokenizes prompts with byte-level BPE; "
                "give the CausalLMPreprocessor a mmkeras.text."
                "BytePairTokenizer. Received: a "
                f"{type(tokenizer).__name__}"
            )
        preprocessor = self.preprocessor
        return {
            "type": "byte_pair",
            "vocabulary": "vocabulary.jsonl",
            "merges": "merges.txt",
            "special_tokens": list(tokenizer.special_tokens),
            "pre_tokenizer": tokenizer.pre_tokenizer,
            "add_start_token": preprocessor.add_start_token,
            "start_token_id": preprocessor.start_token_id,
            "empty_prompt_token_id": preprocessor.empty_prompt_token_id,
            "max_prompt_length": self.max_prompt_length,
        }

    def onnx_config(self):
        config = super().onnx_config()
        # Answers are detokenized by the BPE tokenizer, not WordPiece.
        config.pop("vocabulary", None)
        config["max_new_tokens"] = self.max_new_tokens
        if self.tokenizer is not None:
            config["request"] = {"task": "generate"}
        return config

    def special_token_ids(self):
        """Answers leave out the end and pad tokens; other special tokens
        (a chat turn's) are written, as `CausalLM.generate` does."""
        model = self.model
        return sorted({model.end_token_id, model.pad_token_id})

    def onnx_files(self):
        """The vocabulary, one JSON string per line (a token may hold any
        character), and the merges, one `a b` rule per line by rank."""
        if self.tokenizer is None:
            return {}
        vocabulary = self.tokenizer.get_vocabulary()
        return {
            "vocabulary.jsonl": [
                json.dumps(token, ensure_ascii=False) for token in vocabulary
            ],
            "merges.txt": list(self.tokenizer.merges),
        }

    # Verification.

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        ids = self.example_generation_inputs(batch_size, rng)
        encoded = {
            k: ops.convert_to_numpy(v) for k, v in self.encode(ids).items()
        }
        past = {f"past_{n}": encoded[n] for n in self.cache_names}
        # The first step: the last prompt token, after the prefill.
        last = self.max_prompt_length - 1
        step = {
            "token_ids": ids["token_ids"][:, last:],
            "index": np.array(last, "int32"),
        }
        examples = {
            "generate_ids": ids,
            "encoder": ids,
            "decoder_step": {**step, **past},
        }
        if self.tokenizer is not None:
            prompts = self.example_prompts(batch_size, rng)
            examples["generate"] = {"prompts": prompts}
        return examples

    def example_generation_inputs(self, batch_size, rng):
        """Left-padded ids of random lengths, the first prompt full."""
        length = self.max_prompt_length
        ids = rng.integers(
            0, self.model.vocabulary_size, (batch_size, length), "int32"
        )
        lengths = rng.integers(1, length + 1, batch_size)
        lengths[0] = length
        mask = np.arange(length)[None] >= length - lengths[:, None]
        ids = np.where(mask, ids, self.model.pad_token_id).astype("int32")
        return {"token_ids": ids, "padding_mask": mask}

    def example_prompts(self, batch_size, rng):
        """UTF-8 prompts: random tokens of the vocabulary, then a chat
        turn (its `<|im_end|>` is in the prompt) and an empty prompt."""
        tokenizer = self.tokenizer
        special = {tokenizer.token_to_id(t) for t in tokenizer.special_tokens}
        ordinary = [
            i for i in range(tokenizer.vocabulary_size()) if i not in special
        ]
        prompts = []
        for _ in range(batch_size):
            count = rng.integers(1, _MAX_EXAMPLE_TOKENS + 1)
            ids = rng.choice(ordinary, count)
            prompts.append(tokenizer.detokenize(ids).numpy().decode())
        if batch_size > 1 and self.preprocessor.chat_template is not None:
            prompts[1] = self.preprocessor.apply_chat_template(prompts[1])
        if batch_size > 2:
            prompts[2] = ""
        # A random byte cut from a character may merge into more tokens.
        lengths = self.prompt_lengths(tf.constant(prompts)).numpy()
        return np.array(
            [
                p.encode() if n <= self.max_prompt_length else b"a"
                for p, n in zip(prompts, lengths, strict=True)
            ],
            object,
        )

    def reference(self, name, inputs):
        if name == "generate_ids":
            ids = tf.function(self.generate_ids, autograph=False)(inputs)
            return {"token_ids": ops.convert_to_numpy(ids)}
        if name == "generate":
            answers = self.model.generate(
                [p.decode() for p in inputs["prompts"]],
                max_new_tokens=self.max_new_tokens,
                sampler=self.sampler,
            )
            return {"answers": np.array([a.encode() for a in answers], object)}
        return super().reference(name, inputs)
