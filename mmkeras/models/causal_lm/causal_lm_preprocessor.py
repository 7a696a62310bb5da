import keras
import tensorflow as tf

from mmkeras import _checks
from mmkeras.models.causal_lm import _chat
from mmkeras.models.preprocessor import Preprocessor

# Prompts are left-padded to a multiple of this, so prompts of nearby
# lengths share one traced generation function.
PROMPT_BUCKET = 16


@keras.saving.register_keras_serializable(package="mmkeras")
class CausalLMPreprocessor(Preprocessor):
    """Strings to `CausalLM` inputs: training examples and prompts.

    For `fit`, a batch of strings becomes `({"token_ids", "padding_mask"},
    labels, sample_weight)` (the mask as 0/1 int32): the text's ids (cut
    to `sequence_length + 1`, right-padded), all but the last as inputs
    and all but the first as labels, weighted 1 on real tokens. For
    `generate`, prompts become left-padded `{"token_ids",
    "padding_mask"}`, so every prompt ends at the same position and
    decoding continues them all at once; positions count from each
    prompt's first real token, so a prompt's answer does not depend on
    its batch.

    An empty prompt starts from `empty_prompt_token_id` (the end-of-text
    token of the vocabulary): the model then writes from the start of a
    document.

    Args:
        tokenizer: an `mmkeras.text.BytePairTokenizer` (or any tokenizer
            layer that maps strings to ragged ids and back).
        sequence_length: training ids per example.
        add_start_token: prepend `start_token_id` to every text (Llama 2
            does; SmolLM2 does not).
        start_token_id: id of the start token, when added.
        empty_prompt_token_id: id an empty prompt becomes.
        chat_template: the model's Jinja chat template (Hugging Face's
            format), used by `apply_chat_template`.

    Example:

    >>> preprocessor = model.preprocessor
    >>> inputs = preprocessor.generate_preprocess(["Hi", "The capital of"])
    >>> inputs["token_ids"].shape
    TensorShape([2, 16])
    """

    def __init__(
        self,
        tokenizer=None,
        sequence_length=512,
        add_start_token=False,
        start_token_id=None,
        empty_prompt_token_id=0,
        chat_template=None,
        **kwargs,
    ):
        kwargs.pop("image_converter", None)
        super().__init__(tokenizer=tokenizer, **kwargs)
        _checks.positive_int("sequence_length", sequence_length)
        if add_start_token:
            _checks.non_negative_int("start_token_id", start_token_id)
        _checks.non_negative_int("empty_prompt_token_id", empty_prompt_token_id)
        if chat_template is not None:
            _chat.compile_template(chat_template)
        self.sequence_length = sequence_length
        self.add_start_token = add_start_token
        self.start_token_id = start_token_id
        self.empty_prompt_token_id = empty_prompt_token_id
        self.chat_template = chat_template

    def _ids(self, texts):
        """Ragged int32 ids of a batch of strings (start token added)."""
        texts = tf.convert_to_tensor(texts)
        if texts.dtype != tf.string:
            raise TypeError(
                "CausalLMPreprocessor takes strings. Received: dtype="
                f"{texts.dtype.name}"
            )
        if texts.shape.rank == 0:
            texts = texts[None]
        ids = self.tokenize(texts)
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        if self.add_start_token:
            start = tf.fill([ids.nrows(), 1], self.start_token_id)
            start = tf.cast(start, ids.dtype)
            ids = tf.concat([start, ids], axis=1)
        return tf.cast(ids, tf.int32)

    def call(self, x, y=None, sample_weight=None):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "a causal LM learns each text's next tokens, so y and "
                "sample_weight must be None. Received: "
                f"y={y!r}, sample_weight={sample_weight!r}"
            )
        ids = self._ids(x)
        length = self.sequence_length + 1
        real = tf.sequence_mask(tf.minimum(ids.row_lengths(), length), length)
        ids = ids[:, :length].to_tensor(shape=[None, length])
        # 0/1 ints, not bools: MirroredStrategy's input pipeline fails
        # on bool tensors (an AddN of bools, TensorFlow 2.21).
        mask = tf.cast(real[:, :-1], tf.int32)
        inputs = {"token_ids": ids[:, :-1], "padding_mask": mask}
        weights = tf.cast(real[:, 1:], "float32")
        return inputs, ids[:, 1:], weights

    def generate_preprocess(self, prompts, max_prompt_length=None):
        """Left-padded `{"token_ids", "padding_mask"}` for `prompts` (a
        string or a batch of them).

        Args:
            prompts: a string or a batch of strings.
            max_prompt_length: in a graph (an export), the static width
                every prompt is padded to; eagerly, the longest a prompt
                may be (default: no limit), prompts being padded to a
                multiple of `PROMPT_BUCKET` tokens.

        Raises:
            ValueError: a prompt is longer than `max_prompt_length`
                tokens (eagerly; in a graph an assertion with the same
                message fails).
        """
        ids = self._ids(prompts)
        lengths = ids.row_lengths()
        empty = tf.cast(lengths == 0, lengths.dtype)
        fill = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(empty)], self.empty_prompt_token_id),
            empty,
        )
        ids = tf.concat([fill, ids], axis=1)
        lengths = ids.row_lengths()
        if max_prompt_length is not None:
            _check_prompt_lengths(lengths, max_prompt_length)
        if tf.executing_eagerly():
            width = _bucket(int(tf.reduce_max(lengths)))
            if max_prompt_length is not None:
                width = min(width, max_prompt_length)
        elif max_prompt_length is None:
            raise ValueError(
                "in a graph, prompts are padded to a static width: give "
                "max_prompt_length. Received: max_prompt_length=None"
            )
        else:
            width = max_prompt_length
        # Left padding: reverse, pad on the right, reverse back.
        padded = tf.reverse(ids, axis=[1]).to_tensor(shape=[None, width])
        mask = tf.sequence_mask(lengths, width)
        return {
            "token_ids": tf.reverse(padded, axis=[1]),
            "padding_mask": tf.reverse(mask, axis=[1]),
        }

    def apply_chat_template(self, messages, add_generation_prompt=True):
        """The prompt string of a conversation in the model's template.

        Args:
            messages: a user message (a string), or a list of `{"role",
                "content"}` dicts (roles `system`, `user`, `assistant`).
            add_generation_prompt: end with the assistant's turn opening.
        """
        if self.chat_template is None:
            raise ValueError(
                "this preprocessor has no chat_template; give one, or call "
                "generate() with the prompt text. Received: "
                "chat_template=None"
            )
        return _chat.render(self.chat_template, messages, add_generation_prompt)

    def get_config(self):
        config = super().get_config()
        config.pop("image_converter")
        config.update(
            {
                "sequence_length": self.sequence_length,
                "add_start_token": self.add_start_token,
                "start_token_id": self.start_token_id,
                "empty_prompt_token_id": self.empty_prompt_token_id,
                "chat_template": self.chat_template,
            }
        )
        return config


def _bucket(length):
    return (length + PROMPT_BUCKET - 1) // PROMPT_BUCKET * PROMPT_BUCKET


def _check_prompt_lengths(lengths, limit):
    longest = tf.reduce_max(lengths)
    if tf.executing_eagerly():
        if int(longest) > limit:
            row = int(tf.argmax(lengths))
            raise ValueError(
                f"prompt {row} has {int(longest)} tokens, more than the "
                f"{limit} this generation has room for; shorten it, or "
                "lower max_new_tokens. Received: prompt of "
                f"{int(longest)} tokens"
            )
        return
    tf.debugging.assert_less_equal(
        longest,
        tf.cast(limit, longest.dtype),
        message=f"a prompt is longer than the {limit} tokens this "
        "generation has room for; shorten it or lower max_new_tokens",
    )
