import keras
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras import samplers as samplers_lib
from mmkeras.models.causal_lm.causal_lm_backbone import CausalLMBackbone
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor
from mmkeras.models.causal_lm.causal_lm_serving import CausalLMServing
from mmkeras.models.generative_task import GenerativeTask
from mmkeras.models.generative_task import cut_at_end


@keras.saving.register_keras_serializable(package="mmkeras")
class CausalLM(GenerativeTask):
    """A decoder-only language model: next-token logits, `generate` and
    `chat`.

    `call({"token_ids", "padding_mask"})` gives float32 logits `(batch,
    length, vocabulary_size)`; `fit` on raw strings trains on each text's
    next tokens through the `CausalLMPreprocessor`. `generate` left-pads
    the prompts, runs them through the backbone once (the prefill, which
    fills the key/value cache), then a sampler from `mmkeras.samplers`
    continues them one token per step in a single `while_loop`.

    Args:
        backbone: a `CausalLMBackbone`.
        preprocessor: a `CausalLMPreprocessor` (its tokenizer turns
            prompts into ids and answers into text).
        end_token_id: the token that ends an answer (SmolLM2-Instruct's
            `<|im_end|>`); default the tokenizer's.
        pad_token_id: the id after the end; default `end_token_id`.

    Example:

    >>> model = mmkeras.models.CausalLM.from_preset("smollm2_135m.instruct")
    >>> model.generate("The capital of France is", max_new_tokens=3)
    [' Paris.']
    >>> model.chat("What color is the sky?")
    'The sky is a beautiful shade of blue.'
    """

    preprocessor_cls = CausalLMPreprocessor
    serving_cls = CausalLMServing
    generation_inputs = ("token_ids", "padding_mask")

    def __init__(
        self,
        backbone,
        preprocessor=None,
        end_token_id=None,
        pad_token_id=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        if not isinstance(backbone, CausalLMBackbone):
            raise TypeError(
                "backbone must be a CausalLMBackbone. Received: a "
                f"{type(backbone).__name__}"
            )
        if end_token_id is None:
            end_token_id = getattr(self.tokenizer, "end_token_id", None)
        _checks.non_negative_int("end_token_id", end_token_id)
        if pad_token_id is None:
            pad_token_id = end_token_id
        _checks.non_negative_int("pad_token_id", pad_token_id)
        self.backbone = backbone
        self.end_token_id = end_token_id
        self.pad_token_id = pad_token_id
        self.vocabulary_size = backbone.vocabulary_size
        # Prompts carry their own first token.
        self.start_token_id = None

    @property
    def sequence_length(self):
        """The longest prompt plus answer: the backbone's context."""
        return self.backbone.max_sequence_length

    def build(self, inputs_shape):
        shape = tuple(inputs_shape["token_ids"])
        self._record_input_shapes({"token_ids": shape, "padding_mask": shape})
        if not self.backbone.built:
            self.backbone.build({"token_ids": shape, "padding_mask": shape})

    def call(self, inputs, training=None):
        hidden = self.backbone(inputs, training=training)
        return self.backbone.token_logits(hidden)

    def default_compile_arguments(self):
        """AdamW(5e-5), cross-entropy on the logits of real tokens."""
        return {
            "optimizer": keras.optimizers.AdamW(5e-5, weight_decay=0.01),
            "loss": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            ),
            "metrics": [],
            "weighted_metrics": [
                keras.metrics.SparseCategoricalAccuracy("accuracy")
            ],
        }

    def compile(self, *args, weighted_metrics="auto", **kwargs):
        if isinstance(weighted_metrics, str) and weighted_metrics == "auto":
            weighted_metrics = self.default_compile_arguments()[
                "weighted_metrics"
            ]
        super().compile(*args, weighted_metrics=weighted_metrics, **kwargs)

    def golden_outputs(self, inputs):
        """What the zoo's golden files record: `{"next_token_logits":
        (batch, vocabulary_size)}`, the logits after each row's last real
        token (every position's would be megabytes per prompt)."""
        logits = self(inputs)
        mask = ops.cast(inputs["padding_mask"], "int32")
        last = ops.maximum(ops.sum(mask, axis=1) - 1, 0)
        next_logits = ops.take_along_axis(logits, last[:, None, None], axis=1)
        return {"next_token_logits": next_logits[:, 0]}

    # The generation parts (GenerativeTask).

    def build_cache(self, inputs, max_length):
        """Prefills the cache with every prompt token but the last (the
        decoding loop feeds that one, and samples what follows)."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        prompt_mask = ops.cast(inputs["padding_mask"], "bool")
        batch = ops.shape(token_ids)[0]
        prompt_length = token_ids.shape[1]
        answer_mask = ops.ones((batch, max_length - prompt_length), "bool")
        padding_mask = ops.concatenate([prompt_mask, answer_mask], axis=1)
        cache = self.backbone.empty_cache(batch, max_length)
        if prompt_length > 1:
            _, _, cache = self.backbone.call_with_cache(
                token_ids[:, :-1], cache, 0, padding_mask
            )
        return {"key_values": cache, "padding_mask": padding_mask}

    def initial_token_ids(self, inputs, cache, max_length):
        token_ids = ops.cast(inputs["token_ids"], "int32")
        prompt_length = token_ids.shape[1]
        pad = ops.full(
            (ops.shape(token_ids)[0], max_length - prompt_length),
            self.pad_token_id,
            "int32",
        )
        return ops.concatenate([token_ids, pad], axis=1), prompt_length

    def call_with_cache(self, token_ids, cache, index):
        logits, _, key_values = self.backbone.call_with_cache(
            token_ids, cache["key_values"], index, cache["padding_mask"]
        )
        return logits, {**cache, "key_values": key_values}

    def cache_spec(self, max_length):
        backbone = self.backbone
        return {
            "key_values": tf.TensorSpec(
                (
                    None,
                    backbone.num_layers,
                    2,
                    max_length,
                    backbone.num_key_value_heads,
                    backbone.head_dim,
                ),
                self.compute_dtype,
            ),
            "padding_mask": tf.TensorSpec((None, max_length), tf.bool),
        }

    # What users call.

    def generate(
        self,
        prompts,
        max_new_tokens=64,
        sampler="greedy",
        jit_compile=False,
        return_strings=None,
    ):
        """Continues each prompt with up to `max_new_tokens` tokens.

        Args:
            prompts: a string or a list of strings (a preprocessor is
                needed), or a dict of left-padded `token_ids` and
                `padding_mask` as the preprocessor makes them.
            max_new_tokens: the most tokens generated per prompt; each
                answer stops at the end token.
            sampler: a `mmkeras.samplers` name or instance.
            jit_compile: compile the whole decoding loop with XLA.
            return_strings: return the answers as text (default when
                the model has a tokenizer) rather than ids.

        Returns:
            The answers (without their prompts): a string for a string
            prompt, else a list; or int32 ids `(batch, max_new_tokens)`,
            `pad_token_id` after the end token.
        """
        _checks.positive_int("max_new_tokens", max_new_tokens)
        single = isinstance(prompts, str)
        inputs = self._prompt_inputs(prompts, max_new_tokens)
        prompt_length = inputs["token_ids"].shape[1]
        max_length = prompt_length + max_new_tokens
        if not self.built:
            self.build(self.generation_input_shapes(inputs))
        sampler = samplers_lib.get(sampler)
        function = self._generate_function(sampler, max_length, jit_compile)
        token_ids = function(inputs)[:, prompt_length:]
        if return_strings is None:
            return_strings = self.tokenizer is not None
        if not return_strings:
            return ops.convert_to_numpy(token_ids)
        answers = self.detokenize_answers(token_ids)
        return answers[0] if single else answers

    def _prompt_inputs(self, prompts, max_new_tokens):
        limit = self.sequence_length - max_new_tokens
        if limit < 1:
            raise ValueError(
                f"max_new_tokens must leave room for a prompt in the "
                f"model's {self.sequence_length}-token context. Received: "
                f"max_new_tokens={max_new_tokens}"
            )
        if isinstance(prompts, dict):
            inputs = {
                key: ops.convert_to_tensor(prompts[key])
                for key in self.generation_inputs
            }
            if inputs["token_ids"].shape[1] > limit:
                raise ValueError(
                    f"token_ids hold {inputs['token_ids'].shape[1]} "
                    f"positions, more than the {limit} left for a prompt "
                    f"with max_new_tokens={max_new_tokens}"
                )
            return inputs
        if self.preprocessor is None:
            raise ValueError(
                "generate() takes strings only with a preprocessor; give "
                "the model a CausalLMPreprocessor, or pass a dict of "
                "token_ids and padding_mask. Received: preprocessor=None"
            )
        if not isinstance(prompts, str) and (
            not isinstance(prompts, (list, tuple))
            or not prompts
            or not all(isinstance(p, str) for p in prompts)
        ):
            raise TypeError(
                "prompts must be a string or a non-empty list of strings. "
                f"Received: {prompts!r}"
            )
        batch = [prompts] if isinstance(prompts, str) else list(prompts)
        return self.preprocessor.generate_preprocess(batch, limit)

    def detokenize_answers(self, token_ids):
        """Answer ids `(batch, length)` to strings, without the end and
        pad tokens."""
        token_ids = cut_at_end(token_ids, self.end_token_id, self.pad_token_id)
        keep = (token_ids != self.end_token_id) & (
            token_ids != self.pad_token_id
        )
        ragged = tf.ragged.boolean_mask(token_ids, keep)
        texts = self.tokenizer.detokenize(ragged)
        return [text.decode() for text in ops.convert_to_numpy(texts)]

    def chat(self, messages, max_new_tokens=256, sampler="greedy", **kwargs):
        """The assistant's reply to `messages` (a user message, or a list
        of `{"role", "content"}` dicts), in the model's chat template."""
        prompt = self.preprocessor_or_error().apply_chat_template(messages)
        return self.generate(
            prompt, max_new_tokens=max_new_tokens, sampler=sampler, **kwargs
        )

    def preprocessor_or_error(self):
        if self.preprocessor is None:
            raise ValueError(
                f"{type(self).__name__} has no preprocessor, so it cannot "
                "read text; build it with preprocessor=. Received: "
                "preprocessor=None"
            )
        return self.preprocessor

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "end_token_id": self.end_token_id,
                "pad_token_id": self.pad_token_id,
            }
        )
        return config
