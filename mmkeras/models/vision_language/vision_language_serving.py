import numpy as np
import tensorflow as tf

from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.models import _serving_inputs
from mmkeras.models.causal_lm.causal_lm_serving import CausalLMServing
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import Serving
from mmkeras.models.serving import same_length

# Splits the chat template around the user's message.
_MESSAGE = "MESSAGE\x1fSENTINEL"
# Example questions draw at most this many tokens of the vocabulary.
_MAX_EXAMPLE_TOKENS = 6


class VisionLanguageServing(CausalLMServing):
    """Export of `VisionLanguageModel`.

    - `chat` (default; with a tokenizer): `image_bytes: string[N]` and
      `prompts: string[N]` (UTF-8; the user's message about the image,
      without `<image>`) in, `answers: string[N]` out. The graph writes
      each message as the model was trained on it, `<image>` then a new
      line then the message, in the chat template, and runs what
      `VisionLanguageModel.chat` runs: image decoding and conversion, BPE
      with the image ids in place of the placeholder, left padding to
      `max_prompt_length`, the image encoding and the prefill, the
      sampler's cached loop and detokenization. A message that is empty
      or holds `<image>` itself is refused naming it, as is one of more
      than `max_prompt_length` tokens (template and image ids included).
    - `generate_ids`: converted pixels `image: float32[N, H, W, 3]` and
      left-padded `token_ids: int32[N, P]`, `padding_mask: bool[N, P]`
      in, the answers' `token_ids: int32[N, max_new_tokens]` out.
    - ONNX: `encoder` (the `generate_ids` inputs in: the image encoder,
      the resampler or projector, the gated blocks' cross-attention keys
      and values and the prefill; every cache entry out) and
      `decoder_step` (one token, its index and `past_<entry>`, the
      cross-attention keys and values among them, in; its logits and
      `present_<entry>` out). `run_onnx.py --image a.png --question
      "What is this?"` answers as `chat`.

    Args:
        model: a built `VisionLanguageModel`.
        sampler: a `mmkeras.samplers` name or instance.
        max_prompt_length: prompt tokens the exported graphs take.
        max_new_tokens: the most tokens an answer has.
    """

    default_signature = "chat"

    def __init__(
        self, model, sampler="greedy", max_prompt_length=64, max_new_tokens=64
    ):
        super().__init__(model, sampler, max_prompt_length, max_new_tokens)
        self.before = self.after = None
        if self.tokenizer is not None:
            self.before, self.after = self.template_parts()

    def template_parts(self):
        """`(before, after)`: the chat template's text around a user
        message, the image placeholder and its new line in `before`."""
        turn = self.preprocessor.apply_chat_template(_MESSAGE)
        before, after = turn.split(_MESSAGE)
        return f"{before}{IMAGE_PLACEHOLDER}\n", after

    def chat_prompt(self, message):
        """The prompt `chat` writes for the user's `message`."""
        return f"{self.before}{message}{self.after}"

    def generation_specs(self):
        return {
            "image": tf.TensorSpec(self.image_shape, tf.float32, "image"),
            **super().generation_specs(),
        }

    def functions(self):
        specs = self.generation_specs()

        @self.signature(specs.values())
        def generate_ids(image, token_ids, padding_mask):
            inputs = {
                "image": image,
                "token_ids": token_ids,
                "padding_mask": padding_mask,
            }
            return {"token_ids": self.generate_ids(inputs)}

        functions = {"generate_ids": generate_ids}
        if self.tokenizer is not None:
            prompts = tf.TensorSpec([None], tf.string, "prompts")

            @self.signature([self.bytes_spec(), prompts])
            def chat(image_bytes, prompts):
                return {"answers": self.chat_answers(image_bytes, prompts)}

            functions["chat"] = chat
        return functions

    def chat_answers(self, image_bytes, prompts):
        """Answer strings for encoded images and messages, in the graph."""
        same_length("image_bytes", image_bytes, "prompts", prompts)
        prompts = _checked_messages(prompts)
        prompts = tf.strings.join([self.before, prompts, self.after])
        prompts = _serving_inputs.counted(
            "prompts",
            prompts,
            self.prompt_lengths(prompts),
            self.max_prompt_length,
            "shorten it, or export with a larger max_prompt_length",
        )
        inputs = self.preprocessor.generate_preprocess(
            prompts, self.max_prompt_length
        )
        inputs["image"] = self.decode(image_bytes)
        ids = self.generate_ids(inputs)
        model = self.model
        keep = (ids != model.end_token_id) & (ids != model.pad_token_id)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))

    def request(self, image_bytes, question=None, texts=()):
        """`chat`'s inputs: each image with the `--question` message."""
        if texts:
            raise RequestError(
                f"a {type(self.model).__name__} takes no texts (--text); "
                "ask with --question. Received: "
                f"texts={list(texts)!r}"
            )
        images = self.images(image_bytes)
        if not question:
            raise RequestError(
                f"a {type(self.model).__name__} answers a question about "
                "each image: give --question (or run `mmkeras chat MODEL "
                "--image IMAGE 'What is this?'`)"
            )
        return {"image_bytes": images, "prompts": [question] * len(images)}

    # Serving's, which CausalLMServing refuses: this family takes images.
    predict = Serving.predict

    # ONNX: run_onnx.py writes the template and the image ids itself.

    def tokenizer_config(self):
        config = super().tokenizer_config()
        config.update(
            {
                "image_placeholder": IMAGE_PLACEHOLDER,
                "image_token_id": self.preprocessor.image_token_id,
                "num_image_tokens": self.preprocessor.num_image_tokens,
            }
        )
        return config

    def onnx_config(self):
        config = super().onnx_config()
        if self.tokenizer is not None:
            config["request"] = {"task": "chat", "text_flag": "question"}
            config["chat"] = {"before": self.before, "after": self.after}
        return config

    # Verification.

    def example_generation_inputs(self, batch_size, rng):
        inputs = super().example_generation_inputs(batch_size, rng)
        pixels, _ = self.example_images(batch_size, rng)
        return {"image": pixels, **inputs}

    def examples(self, batch_size, seed):
        examples = super().examples(batch_size, seed)
        examples.pop("generate", None)
        if self.tokenizer is not None:
            rng = np.random.default_rng(seed + 1)
            _, encoded = self.example_images(batch_size, rng)
            examples["chat"] = {
                "image_bytes": encoded,
                "prompts": self.example_messages(batch_size, rng),
            }
        return examples

    def example_messages(self, batch_size, rng):
        """UTF-8 messages of random ordinary tokens, none empty."""
        tokenizer = self.tokenizer
        special = {tokenizer.token_to_id(t) for t in tokenizer.special_tokens}
        special.add(self.preprocessor.image_token_id)
        ordinary = [
            i for i in range(tokenizer.vocabulary_size()) if i not in special
        ]
        messages = []
        for _ in range(batch_size):
            ids = rng.choice(ordinary, rng.integers(1, _MAX_EXAMPLE_TOKENS))
            text = tokenizer.detokenize(ids).numpy().decode("utf-8", "replace")
            messages.append((text.strip() or "what is this").encode())
        return np.array(messages, object)

    def reference(self, name, inputs):
        if name == "chat":
            answers = self.model.generate(
                list(inputs["image_bytes"]),
                [self.chat_prompt(p.decode()) for p in inputs["prompts"]],
                max_new_tokens=self.max_new_tokens,
                sampler=self.sampler,
            )
            return {"answers": np.array([a.encode() for a in answers], object)}
        return super().reference(name, inputs)


def _checked_messages(prompts):
    """`prompts` once none is empty and none holds the placeholder (the
    signature puts the image before the message); the first that does is
    named by its index."""
    pieces = tf.strings.split(prompts, IMAGE_PLACEHOLDER).row_lengths()
    for ok, problem in (
        (tf.strings.length(tf.strings.strip(prompts)) > 0, "is empty"),
        (pieces == 1, f"holds {IMAGE_PLACEHOLDER}"),
    ):
        first = tf.argmin(
            tf.concat([tf.cast(ok, tf.int32), [0]], 0), output_type=tf.int32
        )
        message = tf.strings.format(
            "prompts[{}] " + problem + ": send the question about the image "
            f"alone (the image goes before it, as {IMAGE_PLACEHOLDER} in "
            "the chat template)",
            first,
        )
        assertion = tf.debugging.Assert(tf.reduce_all(ok), [message])
        with tf.control_dependencies([assertion]):
            prompts = tf.identity(prompts)
    return prompts
