import keras
import numpy as np
import tensorflow as tf

from mmkeras import _checks
from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.models.causal_lm import _chat
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor
from mmkeras.models.preprocessor import _check_range

# Images smaller than this on a side are refused: upsampled to the
# encoder's size they hold no detail to answer from.
MIN_IMAGE_SIDE = 16
# Stand-ins for the turn's texts when the chat template is split.
_PROMPT = "PROMPT\x1fSENTINEL"
_ANSWER = "ANSWER\x1fSENTINEL"


@keras.saving.register_keras_serializable(package="mmkeras")
class VisionLanguagePreprocessor(CausalLMPreprocessor):
    """Images, prompts and answers to `VisionLanguageModel` inputs.

    A prompt names where its image goes with `IMAGE_PLACEHOLDER`
    (`"<image>"`) in the user's text; the tokenizer never sees the
    placeholder: the text is split at it, and in its place come
    `num_image_tokens` copies of `image_token_id` (one for the gated
    cross-attention design, where the tokens after it see the image; the
    number of image tokens for the prefix design, whose embeddings the
    model replaces with projected image tokens). The model finds the
    image by that id, so its positions (and which tokens attend to the
    image) follow from `token_ids` alone.

    For `fit`, `{"image", "prompt", "answer"}` (other keys dropped)
    becomes `({"image", "token_ids", "padding_mask"}, labels,
    sample_weight)`: the conversation in the chat template (the user's
    prompt, then the assistant's answer and `end_token_id`), cut to
    `sequence_length + 1` ids and right-padded, all but the last as
    inputs and all but the first as labels, weighted 1 on the answer and
    its end token only. For `generate`, `generate_inputs(images,
    prompts)` gives left-padded ids and the converted images.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter` with a fixed
            `image_size`.
        tokenizer: an `mmkeras.text.BytePairTokenizer`.
        image_token_id: the id the placeholder becomes: a token of the
            vocabulary the language model never writes in a chat (for
            SmolLM2, an unused special token).
        num_image_tokens: ids per placeholder.
        sequence_length: training ids per example.
        chat_template: the language model's Jinja chat template.
        end_token_id: the id that ends an answer; default the first token
            the template writes after the assistant's text (`<|im_end|>`
            in ChatML).
        **kwargs: `CausalLMPreprocessor`'s `add_start_token`,
            `start_token_id`, `empty_prompt_token_id`.

    Example:

    >>> preprocessor = model.preprocessor
    >>> inputs = preprocessor.generate_inputs(
    ...     np.zeros((1, 32, 32, 3), "uint8"), ["<image>\\nWhat is this?"])
    >>> sorted(inputs)
    ['image', 'padding_mask', 'token_ids']
    """

    def __init__(
        self,
        image_converter=None,
        tokenizer=None,
        image_token_id=None,
        num_image_tokens=1,
        sequence_length=128,
        chat_template=None,
        end_token_id=None,
        **kwargs,
    ):
        super().__init__(
            tokenizer=tokenizer,
            sequence_length=sequence_length,
            chat_template=chat_template,
            **kwargs,
        )
        if image_converter is None or image_converter.image_size is None:
            raise ValueError(
                "VisionLanguagePreprocessor needs an ImageConverter with a "
                "fixed image_size (the encoder's input). Received: "
                f"image_converter={image_converter!r}"
            )
        _checks.non_negative_int("image_token_id", image_token_id)
        _checks.positive_int("num_image_tokens", num_image_tokens)
        if chat_template is None:
            raise ValueError(
                "VisionLanguagePreprocessor writes turns in the language "
                "model's chat template; give chat_template. Received: "
                "chat_template=None"
            )
        self.image_converter = image_converter
        self.image_token_id = image_token_id
        self.num_image_tokens = num_image_tokens
        self._before, self._middle, after = _turn_parts(chat_template)
        if end_token_id is None and tokenizer is not None:
            end_token_id = _first_id(tokenizer, after)
        _checks.non_negative_int("end_token_id", end_token_id)
        self.end_token_id = end_token_id

    def tokenize(self, text):
        """Ids of strings, each placeholder replaced by the image ids."""
        pieces = tf.strings.split(tf.convert_to_tensor(text), IMAGE_PLACEHOLDER)
        ids = super().tokenize(pieces.flat_values)
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        # Image ids after every piece but the last of its text.
        ends = tf.cumsum(pieces.row_lengths()) - 1
        last = tf.scatter_nd(
            ends[:, None],
            tf.ones_like(ends, tf.bool),
            tf.shape(pieces.flat_values, out_type=tf.int64),
        )
        counts = tf.where(last, 0, self.num_image_tokens)
        images = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(counts)], self.image_token_id),
            tf.cast(counts, tf.int64),
        )
        joined = tf.concat([ids, images], axis=1)
        texts = tf.RaggedTensor.from_row_lengths(joined, pieces.row_lengths())
        return texts.merge_dims(1, 2)

    def call(self, x, y=None, sample_weight=None):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "a vision-language model learns each answer's tokens, so y "
                "and sample_weight must be None. Received: "
                f"y={y!r}, sample_weight={sample_weight!r}"
            )
        if not isinstance(x, dict) or not {"image", "prompt", "answer"} <= set(
            x
        ):
            received = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ValueError(
                "VisionLanguagePreprocessor trains on dicts with 'image', "
                f"'prompt' and 'answer'. Received: {received}"
            )
        prompts = tf.convert_to_tensor(x["prompt"])
        _check_prompts(prompts)
        prefix = self._ids(
            tf.strings.join([self._before, prompts, self._middle])
        )
        answers = super().tokenize(x["answer"])
        end = tf.fill([answers.nrows(), 1], self.end_token_id)
        answers = tf.concat([answers, tf.cast(end, answers.dtype)], axis=1)
        _check_prefix_lengths(prefix.row_lengths(), self.sequence_length)
        ids = tf.concat([prefix, answers], axis=1)
        taught = tf.concat(
            [
                tf.zeros_like(prefix, tf.float32),
                tf.ones_like(answers, tf.float32),
            ],
            axis=1,
        )
        length = self.sequence_length + 1
        ids = ids[:, :length].to_tensor(shape=[None, length])
        taught = taught[:, :length].to_tensor(shape=[None, length])
        real = tf.sequence_mask(
            tf.minimum(prefix.row_lengths() + answers.row_lengths(), length),
            length,
        )
        inputs = {
            "image": self.convert_images(x["image"]),
            "token_ids": ids[:, :-1],
            # 0/1 ints: MirroredStrategy's input pipeline fails on bools.
            "padding_mask": tf.cast(real[:, :-1], tf.int32),
        }
        return inputs, ids[:, 1:], taught[:, 1:]

    def convert_images(self, images):
        """uint8 or [0, 1] images `(batch, height, width, 3)` to pixels;
        an image under `MIN_IMAGE_SIDE` pixels on a side is refused."""
        images = tf.convert_to_tensor(images)
        _checks.rank("images", images.shape, 4)
        side = images.shape[1:3]
        if None not in side and min(side) < MIN_IMAGE_SIDE:
            raise ValueError(
                f"images must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} "
                f"pixels. Received: images of {side[0]}x{side[1]}; give a "
                "larger picture"
            )
        return super().convert_images(images)

    def generate_inputs(self, images, prompts, max_prompt_length=None):
        """`{"image", "token_ids", "padding_mask"}` for `generate`: each
        prompt (its text as written, chat template applied or not) with
        its image, or `None` for a text-only prompt.

        Each prompt with an image holds `IMAGE_PLACEHOLDER` exactly once,
        and a prompt without one never; images may be arrays `(height,
        width, 3)` (uint8 or [0, 1] floats) or encoded bytes (PNG, JPEG,
        ...). Prompts are left-padded as `generate_preprocess` pads them.
        """
        prompts = _prompt_list(prompts)
        images = _image_list(images, len(prompts))
        for index, (image, prompt) in enumerate(
            zip(images, prompts, strict=True)
        ):
            _check_pair(index, image, prompt)
        size = self.image_converter.image_size
        blank = np.zeros((*size, 3), "float32")
        pixels = [
            blank
            if image is None
            else self.convert_images(image[None])[0].numpy()
            for image in images
        ]
        inputs = self.generate_preprocess(prompts, max_prompt_length)
        return {"image": np.stack(pixels), **inputs}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_converter": keras.saving.serialize_keras_object(
                    self.image_converter
                ),
                "image_token_id": self.image_token_id,
                "num_image_tokens": self.num_image_tokens,
                "end_token_id": self.end_token_id,
            }
        )
        return config


def _turn_parts(template):
    """`(before, middle, after)`: the chat template's text before the
    user's prompt, between it and the answer, and after the answer, for
    one exchange. A template that writes the prompt differently with and
    without the answer is refused."""
    one = [{"role": "user", "content": _PROMPT}]
    two = one + [{"role": "assistant", "content": _ANSWER}]
    prompt = _chat.render(template, one, add_generation_prompt=True)
    exchange = _chat.render(template, two, add_generation_prompt=False)
    if (
        prompt.count(_PROMPT) != 1
        or not exchange.startswith(prompt)
        or not exchange[len(prompt) :].startswith(_ANSWER)
    ):
        raise ValueError(
            "chat_template must write a user message and the assistant's "
            "opening, then the answer after them, so that a training "
            "example starts with the prompt generate() writes. Received a "
            "template rendering one exchange as "
            f"{exchange!r}"
        )
    before, middle = prompt.split(_PROMPT)
    return before, middle, exchange[len(prompt) + len(_ANSWER) :]


def _first_id(tokenizer, text):
    ids = np.asarray(tokenizer([text])[0]).tolist() if text else []
    if not ids:
        raise ValueError(
            "the chat template writes nothing after an answer, so the end "
            "of an answer has no token; give end_token_id. Received: "
            "end_token_id=None"
        )
    return int(ids[0])


def _placeholders(prompts):
    return tf.strings.split(prompts, IMAGE_PLACEHOLDER).row_lengths() - 1


def _is_empty(prompts):
    text = tf.strings.regex_replace(prompts, IMAGE_PLACEHOLDER, "")
    return tf.strings.length(tf.strings.strip(text)) == 0


def _check_prompts(prompts):
    """In training: one placeholder per prompt, and some text."""
    _require(
        tf.reduce_all(_placeholders(prompts) == 1),
        f"every training prompt must hold {IMAGE_PLACEHOLDER} once, where "
        "its image goes (one image per example)",
    )
    _require(
        ~tf.reduce_any(_is_empty(prompts)),
        "a training prompt is empty: give each image a question or an "
        "instruction",
    )


def _check_prefix_lengths(lengths, limit):
    _require(
        tf.reduce_max(lengths) < limit,
        "a prompt (image tokens included) leaves no room for its answer "
        f"in sequence_length={limit} tokens; shorten it or raise "
        "sequence_length",
    )


def _require(condition, message):
    """A ValueError eagerly; in a graph (tf.data) an assertion."""
    if tf.executing_eagerly():
        if not bool(condition):
            raise ValueError(message)
        return
    tf.debugging.Assert(condition, [message])


def _prompt_list(prompts):
    batch = [prompts] if isinstance(prompts, str) else prompts
    if (
        not isinstance(batch, (list, tuple))
        or not batch
        or not all(isinstance(p, str) for p in batch)
    ):
        raise TypeError(
            "prompts must be a string or a non-empty list of strings. "
            f"Received: {prompts!r}"
        )
    return list(batch)


def _image_list(images, count):
    """One image (an array, or None) per prompt; encoded bytes decoded."""
    if images is None:
        images = [None] * count
    elif isinstance(images, (bytes, np.ndarray)) and (
        isinstance(images, bytes) or images.ndim == 3
    ):
        images = [images]
    elif isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    if not isinstance(images, (list, tuple)):
        raise TypeError(
            "images must be an image, a list of images (arrays or encoded "
            f"bytes, or None) or a batch array. Received: {type(images)}"
        )
    if len(images) != count:
        raise ValueError(
            f"generate takes one image (or None) per prompt: {count} "
            f"prompt(s) and {len(images)} image(s). Received: "
            f"{len(images)} images"
        )
    return [_image(i, image) for i, image in enumerate(images)]


def _image(index, image):
    if image is None:
        return None
    if isinstance(image, bytes):
        try:
            image = tf.io.decode_image(
                image, channels=3, expand_animations=False
            ).numpy()
        except tf.errors.InvalidArgumentError:
            raise ValueError(
                f"image {index} is not a readable image (corrupt, truncated "
                "or not PNG/JPEG/GIF/BMP). Received: "
                f"{len(image)} bytes"
            ) from None
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"image {index} must be (height, width, 3) RGB. Received: "
            f"shape {image.shape}"
        )
    if min(image.shape[:2]) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"image {index} is {image.shape[1]}x{image.shape[0]} pixels, "
            f"under the {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} minimum; give a "
            "larger picture"
        )
    _check_range(tf.convert_to_tensor(image))
    return image


def _check_pair(index, image, prompt):
    count = prompt.count(IMAGE_PLACEHOLDER)
    if not prompt.replace(IMAGE_PLACEHOLDER, "").strip():
        raise ValueError(
            f"prompt {index} is empty: ask a question or give an "
            f"instruction. Received: {prompt!r}"
        )
    if image is not None and count != 1:
        what = "no" if count == 0 else f"{count}"
        raise ValueError(
            f"prompt {index} has an image but {what} {IMAGE_PLACEHOLDER} "
            f"placeholder(s); write {IMAGE_PLACEHOLDER} once where the "
            f"image goes (one image per prompt). Received: {prompt!r}"
        )
    if image is None and count:
        raise ValueError(
            f"prompt {index} holds {IMAGE_PLACEHOLDER} but no image was "
            "given for it; pass its image, or remove the placeholder. "
            f"Received: {prompt!r}"
        )
