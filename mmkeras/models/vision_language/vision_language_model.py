import keras
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.layers import GatedCrossAttentionBlock
from mmkeras.layers import ImageTokenProjector
from mmkeras.layers import PerceiverResampler
from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.causal_lm.causal_lm_backbone import _positions
from mmkeras.models.generative_task import NEVER
from mmkeras.models.task import freeze_variables
from mmkeras.models.vision_language import _explain
from mmkeras.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
)
from mmkeras.models.vision_language.vision_language_serving import (
    VisionLanguageServing,
)

CONNECTORS = ("gated_cross_attention", "prefix")


@keras.saving.register_keras_serializable(package="mmkeras")
class VisionLanguageModel(CausalLM):
    """A frozen language model that sees images: image + prompt -> answer.

    A frozen image encoder's `"tokens"` reach a frozen `CausalLMBackbone`
    through new, trained weights only, in one of two designs:

    - `connector="gated_cross_attention"` (Flamingo): a
      `PerceiverResampler` turns the tokens into `num_latents` latents, and
      a `GatedCrossAttentionBlock` before every `cross_attention_every`-th
      block of the language model (blocks 0, k, 2k, ...) lets the text
      tokens at and after the image placeholder attend to them. Its gates
      start at 0, so a new model's logits are the language model's,
      exactly; a text-only row's stay so after training.
    - `connector="prefix"` (LLaVA-1.5): an `ImageTokenProjector` maps each
      image token to the language model's width, and the projected tokens
      replace the embeddings of the placeholder's image ids, in order.

    `call({"image", "token_ids", "padding_mask"})` gives float32 logits
    `(batch, length, vocabulary_size)` (without `"image"`, those of the
    language model alone); the image ids in `token_ids`
    (`image_token_id`, put there by the `VisionLanguagePreprocessor`) say
    where the image is. `generate(images, prompts)` encodes each image
    once; the decoding cache holds the language model's keys and values,
    and for the gated design every gated block's cross-attention keys and
    values of the latents, computed once at the prefill. The image id is
    never generated.

    Args:
        backbone: a `CausalLMBackbone` (frozen here).
        image_encoder: a layer mapping float images to `{"tokens": (batch,
            n, d), ...}` (frozen here; run in inference mode).
        preprocessor: a `VisionLanguagePreprocessor`.
        connector: `"gated_cross_attention"` or `"prefix"`.
        cross_attention_every: the gated design's `k`.
        num_latents: the resampler's latents.
        resampler_layers: the resampler's layers.
        intermediate_dim: the gated blocks' MLP width; default the
            language model's.
        image_token_id: the placeholder's id; default the preprocessor's.
        end_token_id: the id that ends an answer; default the
            preprocessor's.
        pad_token_id: the id after the end; default `end_token_id`.
        xla: compile each new block whole: `True`, `False` or `"auto"`.

    Example:

    >>> model = mmkeras.models.vision_language.builders.tiny()
    >>> model.generate(np.zeros((32, 32, 3), "uint8"),
    ...                "<image>\\nWhat is this?", max_new_tokens=3)
    """

    preprocessor_cls = VisionLanguagePreprocessor
    serving_cls = VisionLanguageServing
    generation_inputs = ("image", "token_ids", "padding_mask")

    def __init__(
        self,
        backbone,
        image_encoder,
        preprocessor=None,
        connector="gated_cross_attention",
        cross_attention_every=4,
        num_latents=64,
        resampler_layers=2,
        intermediate_dim=None,
        image_token_id=None,
        end_token_id=None,
        pad_token_id=None,
        xla="auto",
        **kwargs,
    ):
        if end_token_id is None and preprocessor is not None:
            end_token_id = preprocessor.end_token_id
        super().__init__(
            backbone,
            preprocessor=preprocessor,
            end_token_id=end_token_id,
            pad_token_id=pad_token_id,
            **kwargs,
        )
        _checks.one_of("connector", connector, CONNECTORS)
        _checks.positive_int("cross_attention_every", cross_attention_every)
        _checks.positive_int("num_latents", num_latents)
        _checks.positive_int("resampler_layers", resampler_layers)
        _checks.optional_positive_int("intermediate_dim", intermediate_dim)
        if image_token_id is None and preprocessor is not None:
            image_token_id = preprocessor.image_token_id
        _checks.non_negative_int("image_token_id", image_token_id)
        _check_preprocessor(preprocessor, image_token_id, end_token_id)
        backbone.trainable = False
        image_encoder.trainable = False
        self.image_encoder = image_encoder
        self.connector = connector
        self.cross_attention_every = cross_attention_every
        self.num_latents = num_latents
        self.resampler_layers = resampler_layers
        self.intermediate_dim = intermediate_dim
        self.image_token_id = image_token_id
        self.xla = xla

    @property
    def gated(self):
        return self.connector == "gated_cross_attention"

    def build(self, inputs_shape):
        image_shape = tuple(inputs_shape["image"])
        ids_shape = tuple(inputs_shape["token_ids"])
        self._record_input_shapes(
            {
                "image": image_shape,
                "token_ids": ids_shape,
                "padding_mask": ids_shape,
            }
        )
        tokens_shape = self._build_encoder(self.image_encoder, image_shape)[
            "tokens"
        ]
        self._num_image_tokens = tokens_shape[1]
        backbone = self.backbone
        freeze_variables(backbone)
        if self.gated:
            self._build_gated(tokens_shape, backbone)
        else:
            self.projector = ImageTokenProjector(
                backbone.hidden_dim, dtype=self.dtype_policy, name="projector"
            )
            self.projector.build(tokens_shape)
            self._check_prefix_length()

    def _build_gated(self, tokens_shape, backbone):
        self.resampler = PerceiverResampler(
            self.num_latents,
            self.resampler_layers,
            backbone.num_heads,
            hidden_dim=backbone.hidden_dim,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            xla=self.xla,
            dtype=self.dtype_policy,
            name="resampler",
        )
        self.resampler.build(tokens_shape)
        latents_shape = (None, self.num_latents, backbone.hidden_dim)
        self.gated_blocks = []
        for index in range(0, backbone.num_layers, self.cross_attention_every):
            block = GatedCrossAttentionBlock(
                backbone.num_heads,
                self.intermediate_dim or backbone.intermediate_dim,
                num_key_value_heads=backbone.num_key_value_heads,
                layer_norm_epsilon=backbone.layer_norm_epsilon,
                xla=self.xla,
                dtype=self.dtype_policy,
                name=f"gated_cross_attention_{index}",
            )
            block.build((None, None, backbone.hidden_dim), latents_shape)
            self.gated_blocks.append(block)

    def _check_prefix_length(self):
        expected = self.preprocessor and self.preprocessor.num_image_tokens
        if expected and expected != self._num_image_tokens:
            raise ValueError(
                "connector='prefix' puts one image token in place of each "
                f"placeholder id, so the preprocessor's num_image_tokens "
                f"must be the encoder's {self._num_image_tokens} tokens. "
                f"Received: num_image_tokens={expected}"
            )

    def encode_images(self, images):
        """The image side: the resampler's latents `(batch, num_latents,
        hidden_dim)` (gated) or the projected tokens `(batch, n,
        hidden_dim)` (prefix), of converted pixels."""
        self._check_pixels(images)
        images = ops.cast(images, self.compute_dtype)
        tokens = self.image_encoder(images, training=False)["tokens"]
        if self.gated:
            return self.resampler(tokens)
        return self.projector(tokens)

    def call(self, inputs, training=None):
        token_ids = ops.convert_to_tensor(inputs["token_ids"])
        padding_mask = ops.cast(inputs["padding_mask"], "bool")
        # No image at all (text only): the language model's pass.
        image = None
        if inputs.get("image") is not None:
            image = self.encode_images(inputs["image"])
        attends = self.attends_image(token_ids, padding_mask)
        x = self._embed(token_ids, image, padding_mask)
        positions = _positions(padding_mask)
        for index, block in enumerate(self.backbone.blocks):
            x = self._cross(index, x, attends, image_latents=image)
            x = block(
                x,
                padding_mask=padding_mask,
                positions=positions,
                training=training,
            )
        hidden = self.backbone.final_norm(x)
        return self.backbone.token_logits(hidden)

    def attends_image(self, token_ids, padding_mask):
        """`(batch, length)` bool: real tokens at or after an image id
        (the padding may use the same id)."""
        padding_mask = ops.cast(padding_mask, "bool")
        is_image = ops.equal(token_ids, self.image_token_id) & padding_mask
        seen = ops.cumsum(ops.cast(is_image, "int32"), axis=1) > 0
        return seen & padding_mask

    def _embed(self, token_ids, image, padding_mask):
        x = self.backbone.token_embedding(token_ids)
        if self.gated or image is None:
            return x
        # The k-th image id of a row takes the k-th projected token (the
        # padding may use the same id).
        is_image = ops.equal(token_ids, self.image_token_id) & padding_mask
        order = ops.cumsum(ops.cast(is_image, "int32"), axis=1) - 1
        order = ops.clip(order, 0, self._num_image_tokens - 1)
        tokens = ops.take_along_axis(
            ops.cast(image, x.dtype), order[:, :, None], axis=1
        )
        return ops.where(is_image[:, :, None], tokens, x)

    def _cross(self, index, x, attends, image_latents=None, caches=None):
        """Runs the gated block before LM block `index`, if there is one;
        `caches` stacks every gated block's keys and values."""
        if not self.gated or index % self.cross_attention_every:
            return x
        number = index // self.cross_attention_every
        return self.gated_blocks[number](
            x,
            image_latents=image_latents,
            attends_image=attends,
            cache=None if caches is None else caches[:, number],
        )

    # The generation parts (GenerativeTask).

    def build_cache(self, inputs, max_length):
        """Encodes the images and prefills the cache with every prompt
        token but the last; the gated blocks' keys and values of the
        latents are computed here, once."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        prompt_mask = ops.cast(inputs["padding_mask"], "bool")
        batch = ops.shape(token_ids)[0]
        prompt_length = token_ids.shape[1]
        answer_length = max_length - prompt_length
        padding_mask = ops.concatenate(
            [prompt_mask, ops.ones((batch, answer_length), "bool")], axis=1
        )
        prompt_attends = self.attends_image(token_ids, prompt_mask)
        has_image = ops.any(prompt_attends, axis=1, keepdims=True)
        attends = ops.concatenate(
            [prompt_attends, ops.repeat(has_image, answer_length, axis=1)],
            axis=1,
        )
        image = self.encode_images(inputs["image"])
        cache = {
            "key_values": self.backbone.empty_cache(batch, max_length),
            "padding_mask": padding_mask,
            "attends_image": attends,
        }
        if self.gated:
            cache["cross"] = ops.stack(
                [b.compute_cache(image) for b in self.gated_blocks], axis=1
            )
        if prompt_length > 1:
            _, cache = self._cached_pass(token_ids[:, :-1], cache, 0, image)
        return cache

    def call_with_cache(self, token_ids, cache, index):
        return self._cached_pass(token_ids, cache, index)

    def _cached_pass(self, token_ids, cache, index, image=None):
        """`(logits, cache)` of `token_ids` `(batch, n)` at cache slots
        `index` to `index + n - 1`; `image` replaces the prefix design's
        image ids in a prefill."""
        padding_mask = cache["padding_mask"]
        index = ops.convert_to_tensor(index, "int32")
        batch, count = ops.shape(token_ids)[0], token_ids.shape[1]
        positions = ops.slice(
            _positions(padding_mask), (0, index), (batch, count)
        )
        attends = ops.slice(cache["attends_image"], (0, index), (batch, count))
        real = ops.slice(padding_mask, (0, index), (batch, count))
        x = self._embed(token_ids, image, real)
        key_values = []
        for i, block in enumerate(self.backbone.blocks):
            x = self._cross(i, x, attends, caches=cache.get("cross"))
            x, block_cache = block(
                x,
                padding_mask=padding_mask,
                positions=positions,
                cache=cache["key_values"][:, i],
                cache_update_index=index,
            )
            key_values.append(block_cache)
        logits = self.backbone.token_logits(self.backbone.final_norm(x))
        return logits, {**cache, "key_values": ops.stack(key_values, axis=1)}

    def cache_spec(self, max_length):
        spec = super().cache_spec(max_length)
        spec["attends_image"] = tf.TensorSpec((None, max_length), tf.bool)
        if self.gated:
            block = self.gated_blocks[0]
            shape = (
                None,
                len(self.gated_blocks),
                2,
                self.num_latents,
                self.backbone.num_key_value_heads,
                block.cross_attention.key_dim,
            )
            spec["cross"] = tf.TensorSpec(shape, self.compute_dtype)
        return spec

    def mask_pad_logits(self, logits):
        """The pad and the image id are never generated: an image id
        written by the model would be no image."""
        logits = super().mask_pad_logits(logits)
        never = ops.arange(self.vocabulary_size) == self.image_token_id
        return ops.where(never, NEVER, logits)

    # What users call.

    def generate(self, images, prompts, max_new_tokens=64, **kwargs):
        """Answers each prompt about its image.

        Args:
            images: one image per prompt (an array `(height, width, 3)`,
                uint8 or [0, 1] floats, or encoded PNG/JPEG bytes; None
                for a text-only prompt), a batch array, or for one prompt
                one image.
            prompts: a string or a list of strings, each with
                `IMAGE_PLACEHOLDER` once where its image goes (none for a
                text-only prompt); or a dict of model inputs (`image`,
                left-padded `token_ids`, `padding_mask`), `images` then
                None.
            max_new_tokens: the most tokens generated per prompt.
            **kwargs: `sampler`, `jit_compile`, `return_strings` as
                `CausalLM.generate` takes them.

        Returns:
            The answers: a string for a string prompt, else a list; or
            int32 ids `(batch, max_new_tokens)`.
        """
        if isinstance(prompts, dict):
            if images is not None:
                raise ValueError(
                    "model inputs carry their images under 'image': pass "
                    "images=None with a dict of inputs. Received: images "
                    f"of type {type(images).__name__}"
                )
            return super().generate(prompts, max_new_tokens, **kwargs)
        _checks.positive_int("max_new_tokens", max_new_tokens)
        limit = self.sequence_length - max_new_tokens
        inputs = self.preprocessor_or_error().generate_inputs(
            images, prompts, limit if limit >= 1 else None
        )
        answers = super().generate(inputs, max_new_tokens, **kwargs)
        return answers[0] if isinstance(prompts, str) else answers

    def chat(self, images, messages, max_new_tokens=256, **kwargs):
        """The assistant's reply to `messages` (a user message, or a list
        of `{"role", "content"}` dicts) about `images`: the message that
        shows an image says `IMAGE_PLACEHOLDER` where it goes."""
        prompt = self.preprocessor_or_error().apply_chat_template(messages)
        return self.generate(images, prompt, max_new_tokens, **kwargs)

    def explain(
        self, image, path, question=None, texts=(), prompt=None, **kwargs
    ):
        """Answers `prompt` (or `question`; default "What is in this
        picture?") about `image` greedily, as `chat` with the image
        before the message, and draws into the PNG `path` the image, then
        per word of the answer its attention over the image tokens
        (`_explain.image_attention`: through the resampler's latents, or
        the prefix's image tokens directly). `max_new_tokens` (16) may be
        given. Returns the answer."""
        return _explain.explain(
            self, image, path, prompt or question, texts, **kwargs
        )

    def default_compile_arguments(self):
        """AdamW(1e-4) on the new weights, cross-entropy on the answers'
        tokens (the preprocessor weighs the rest 0)."""
        arguments = super().default_compile_arguments()
        arguments["optimizer"] = keras.optimizers.AdamW(1e-4, weight_decay=0.01)
        return arguments

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.saving.serialize_keras_object(
                    self.image_encoder
                ),
                "connector": self.connector,
                "cross_attention_every": self.cross_attention_every,
                "num_latents": self.num_latents,
                "resampler_layers": self.resampler_layers,
                "intermediate_dim": self.intermediate_dim,
                "image_token_id": self.image_token_id,
                "xla": self.xla,
            }
        )
        return config


def _check_preprocessor(preprocessor, image_token_id, end_token_id):
    if preprocessor is None:
        return
    for name, mine, theirs in (
        ("image_token_id", image_token_id, preprocessor.image_token_id),
        ("end_token_id", end_token_id, preprocessor.end_token_id),
    ):
        if mine != theirs:
            raise ValueError(
                f"{name} must be the preprocessor's ({theirs}), or it "
                f"would read a different token. Received: {name}={mine}"
            )
