import contextlib

import keras
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras import samplers as samplers_lib
from mmkeras.layers import TokenAndPositionEmbedding
from mmkeras.layers import TransformerDecoderBlock
from mmkeras.layers import inside_jit_compile
from mmkeras.losses import MaskedSparseCategoricalCrossentropy
from mmkeras.models import _captioning
from mmkeras.models._grid import static_grid
from mmkeras.models._grid import with_coordinates
from mmkeras.models.task import Task

# Logit of the pad token in generation: finite, so softmaxes never give NaN.
_NEVER = -1e9


@keras.saving.register_keras_serializable(package="mmkeras")
class ImageCaptioner(Task):
    """Transformer caption decoder cross-attending to image encoder tokens.

    The image encoder's `"tokens"` (tagged with their grid coordinates if
    `coordinates`, then projected to `hidden_dim` when their size differs)
    are the memory of `num_layers` `TransformerDecoderBlock`s
    over the embedded caption; a final layer norm and a dense layer give
    next-token logits. Training is teacher-forced: inputs `{"image":
    (batch, H, W, C), "token_ids": (batch, T)}` give logits `(batch, T,
    vocabulary_size)` for labels `(batch, T)` = the ids shifted by one,
    `pad_token_id` ignored by the default loss. uint8 images are scaled to
    [0, 1]. `preprocess` maps `mmkeras.data.shapes_captions`-style dicts
    to `(inputs, labels)` with the tokenizer.

    Generation encodes the image once (`build_cache`), then a sampler from
    `mmkeras.samplers` runs one `while_loop` over `call_with_cache`, which
    decodes one position against the cached keys and values.

    Args:
        image_encoder: a layer mapping images to `{"tokens": (batch, N, D),
            ...}`, e.g. `mmkeras.encoders.ConvImageEncoder`.
        vocabulary_size: number of token ids.
        sequence_length: longest caption in tokens, start token included.
        num_layers: number of decoder blocks.
        num_heads: attention heads; must divide `hidden_dim`.
        hidden_dim: width of the decoder.
        intermediate_dim: width of the decoder MLPs.
        dropout: dropout rate in the decoder blocks.
        xla: run each transformer block as one XLA computation.
        coordinates: scale the image tokens to RMS norm 1 per image and
            append each token's (row, column) in [-1, 1] on the encoder's
            square grid (index order otherwise), so cross-attention can
            tell where a token is: captions that relate two objects ("left
            of") need it. Needs a static number of image tokens.
        tokenizer: optional `mmkeras.text.WordPieceTokenizer` with
            `add_start_end=True` and `sequence_length` None or
            `sequence_length + 1`; enables `preprocess` and string output.
        start_token_id: first token of every caption; default the
            tokenizer's.
        end_token_id: the token that ends a caption; default the
            tokenizer's.
        pad_token_id: padding id, ignored by the loss and attention.

    Example:

    >>> captioner = mmkeras.models.ImageCaptioner(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     vocabulary_size=50, sequence_length=8, hidden_dim=32,
    ...     intermediate_dim=64, start_token_id=2, end_token_id=3)
    >>> images = np.zeros((2, 32, 32, 3), "float32")
    >>> ids = np.full((2, 8), 2, "int32")
    >>> captioner({"image": images, "token_ids": ids}).shape
    TensorShape([2, 8, 50])
    >>> captioner.generate(images, max_length=5).shape
    (2, 5)
    """

    def __init__(
        self,
        image_encoder,
        vocabulary_size,
        sequence_length,
        num_layers=2,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=256,
        dropout=0.0,
        xla=True,
        coordinates=False,
        tokenizer=None,
        start_token_id=None,
        end_token_id=None,
        pad_token_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _captioning.check_sizes(
            vocabulary_size=vocabulary_size,
            sequence_length=sequence_length,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
        )
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _captioning.check_tokenizer(tokenizer, vocabulary_size, sequence_length)
        start_token_id, end_token_id = _captioning.special_ids(
            tokenizer, start_token_id, end_token_id
        )
        _captioning.check_token_ids(
            vocabulary_size,
            start_token_id=start_token_id,
            end_token_id=end_token_id,
            pad_token_id=pad_token_id,
        )
        self.image_encoder = image_encoder
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.xla = xla
        self.coordinates = coordinates
        self.tokenizer = tokenizer
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.pad_token_id = pad_token_id
        self._generate_functions = {}

    def build(self, inputs_shape):
        image_shape = tuple(inputs_shape["image"])
        self._image_shape = image_shape
        ids_shape = (None, self.sequence_length)
        encoded = self._build_encoder(self.image_encoder, image_shape)
        image_tokens_shape = tuple(encoded["tokens"])
        self._grid = None
        if self.coordinates:
            self._grid = static_grid(
                "ImageCaptioner(coordinates=True)", image_tokens_shape
            )
            image_tokens_shape = (
                *image_tokens_shape[:-1],
                image_tokens_shape[-1] + 2,
            )
        self.image_projection = None
        if image_tokens_shape[-1] != self.hidden_dim:
            self.image_projection = keras.layers.Dense(
                self.hidden_dim, dtype=self.dtype_policy, name="image_proj"
            )
            self.image_projection.build(image_tokens_shape)
            image_tokens_shape = image_tokens_shape[:-1] + (self.hidden_dim,)
        self.token_embedding = TokenAndPositionEmbedding(
            self.vocabulary_size,
            self.sequence_length,
            self.hidden_dim,
            mask_zero=False,  # the padding mask is explicit, any pad id
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build(ids_shape)
        hidden_shape = ids_shape + (self.hidden_dim,)
        self.decoder_blocks = []
        for i in range(self.num_layers):
            block = TransformerDecoderBlock(
                self.num_heads,
                self.intermediate_dim,
                dropout=self.dropout,
                xla=self.xla,
                dtype=self.dtype_policy,
                name=f"decoder_block_{i}",
            )
            block.build(hidden_shape, image_tokens_shape)
            self.decoder_blocks.append(block)
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=self.dtype_policy, name="output_norm"
        )
        self.output_norm.build(hidden_shape)
        # float32 logits: the loss and the samplers' softmax stay exact.
        self.logits_dense = keras.layers.Dense(
            self.vocabulary_size, dtype="float32", name="logits"
        )
        self.logits_dense.build(hidden_shape)

    def call(self, inputs, training=None):
        image_tokens = self.encode_images(inputs["image"], training)
        token_ids = inputs["token_ids"]
        padding_mask = ops.not_equal(token_ids, self.pad_token_id)
        x = self.token_embedding(token_ids)
        for block in self.decoder_blocks:
            x = block(
                x,
                image_tokens,
                decoder_padding_mask=padding_mask,
                training=training,
            )
        return self.logits_dense(self.output_norm(x))

    def encode_images(self, images, training=None):
        """The decoder's memory: `(batch, N, hidden_dim)` image tokens."""
        images = _captioning.scale_images(images, self.compute_dtype)
        tokens = self.image_encoder(images, training=training)["tokens"]
        if self._grid is not None:
            tokens = with_coordinates(_unit_rms(tokens), self._grid)
        if self.image_projection is not None:
            tokens = self.image_projection(tokens)
        return tokens

    def cross_attention_maps(self, images, token_ids):
        """How much each caption position attends to each image token.

        Returns the last decoder block's cross-attention probabilities
        averaged over heads, `(batch, T, N)` for `token_ids` `(batch, T)`
        and `N` image tokens: row `t` is what the model looked at to
        predict the token after `token_ids[:, t]`.
        """
        image_tokens = self.encode_images(images, training=False)
        padding_mask = ops.not_equal(token_ids, self.pad_token_id)
        x = self.token_embedding(token_ids)
        for block in self.decoder_blocks:
            x, scores = block(
                x,
                image_tokens,
                decoder_padding_mask=padding_mask,
                return_cross_attention_scores=True,
                training=False,
            )
        return ops.mean(scores, axis=1)

    def build_cache(self, images, max_length):
        """Encodes `images` once; returns the decoding cache.

        A dict with `"cross"`, per block the `(batch, 2, N, heads,
        head_dim)` projected image keys and values, and `"self"`, per block
        a zero self-attention cache for `max_length` positions.
        """
        image_tokens = self.encode_images(images, training=False)
        batch = ops.shape(image_tokens)[0]
        blocks = self.decoder_blocks
        return {
            "cross": [
                b.compute_cross_attention_cache(image_tokens) for b in blocks
            ],
            "self": [b.empty_cache(batch, max_length) for b in blocks],
        }

    def call_with_cache(self, token_ids, cache, index):
        """Decodes the tokens `(batch, 1)` at position `index`.

        Returns the `(batch, 1, vocabulary_size)` logits of the token at
        `index + 1` and the cache with this position's keys and values.
        """
        x = self.token_embedding(token_ids, start_index=index)
        self_caches = []
        for block, cross, self_cache in zip(
            self.decoder_blocks, cache["cross"], cache["self"], strict=True
        ):
            x, self_cache = block(
                x,
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross,
                training=False,
            )
            self_caches.append(self_cache)
        logits = self.logits_dense(self.output_norm(x))
        return logits, {"cross": cache["cross"], "self": self_caches}

    def generate_step(self, images, sampler, max_length):
        """Token ids `(batch, max_length)` from the start token, in graph;
        `pad_token_id` after the end token."""
        cache = self.build_cache(images, max_length)
        first = ops.zeros_like(cache["self"][0][:, 0, :, 0, 0], "int32")
        token_ids = ops.where(
            ops.arange(max_length)[None] == 0,
            self.start_token_id,
            first + self.pad_token_id,
        )

        def next_fn(token_ids, cache, index):
            previous = ops.take(token_ids, index - 1, axis=1)[:, None]
            logits, cache = self.call_with_cache(previous, cache, index - 1)
            # Padding is never a caption token (the full pass masks it).
            never = ops.arange(self.vocabulary_size) == self.pad_token_id
            return ops.where(never, _NEVER, logits[:, 0]), cache

        token_ids = sampler(
            next_fn,
            token_ids,
            cache,
            start_index=1,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
        )
        return _captioning.cut_at_end(
            token_ids, self.end_token_id, self.pad_token_id
        )

    def generate(
        self,
        images,
        sampler="greedy",
        max_length=None,
        jit_compile=False,
        return_strings=None,
    ):
        """Captions `images` (batch, H, W, C).

        Args:
            images: an array or tensor of images, as the model takes them.
            sampler: a `mmkeras.samplers` name or instance.
            max_length: ids per caption, start token included; default
                `sequence_length`.
            jit_compile: compile the whole decoding loop with XLA.
            return_strings: return detokenized strings; default `True` when
                the model has a tokenizer.

        Returns:
            A list of strings, or int32 token ids `(batch, max_length)`
            (start token first, `pad_token_id` after the end token; the
            pad token is never generated).
        """
        sampler = samplers_lib.get(sampler)
        if not self.built:
            self.build({"image": ops.shape(images)})
        max_length = max_length or self.sequence_length
        _captioning.check_max_length(max_length, self.sequence_length)
        if return_strings is None:
            return_strings = self.tokenizer is not None
        if return_strings:
            _captioning.require_tokenizer(self.tokenizer, "return_strings=True")
        key = (repr(samplers_lib.serialize(sampler)), max_length, jit_compile)
        if key not in self._generate_functions:

            def decode(images):
                plain = contextlib.nullcontext()
                with inside_jit_compile() if jit_compile else plain:
                    return self.generate_step(images, sampler, max_length)

            self._generate_functions[key] = tf.function(
                decode, jit_compile=jit_compile
            )
        token_ids = self._generate_functions[key](ops.convert_to_tensor(images))
        token_ids = ops.convert_to_numpy(token_ids)
        if not return_strings:
            return token_ids
        return [
            t.decode() for t in self.tokenizer.detokenize(token_ids).numpy()
        ]

    def preprocess(self, element):
        """Maps a dict with "image" and "caption" strings to `(inputs,
        labels)`, for `tf.data.Dataset.map`; see `caption_preprocessor`."""
        _captioning.require_tokenizer(self.tokenizer, "preprocess")
        return caption_preprocessor(
            self.tokenizer, self.sequence_length, self.pad_token_id
        )(element)

    def default_compile_arguments(self):
        """Adam(1e-3) and the masked sequence cross-entropy (padding
        ignored); no metrics (BLEU-4 and CIDEr score generated captions,
        see `benchmarks/captioning.py`)."""
        loss = MaskedSparseCategoricalCrossentropy(
            from_logits=True, pad_id=self.pad_token_id
        )
        return {
            "optimizer": keras.optimizers.Adam(1e-3),
            "loss": loss,
            "metrics": None,
        }

    def get_build_config(self):
        return {"image_shape": self._image_shape}

    def build_from_config(self, config):
        self.build({"image": config["image_shape"]})

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "image_encoder": serialize(self.image_encoder),
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "xla": self.xla,
                "coordinates": self.coordinates,
                "tokenizer": serialize(self.tokenizer),
                "start_token_id": self.start_token_id,
                "end_token_id": self.end_token_id,
                "pad_token_id": self.pad_token_id,
            }
        )
        return config


def _unit_rms(tokens):
    """`tokens` scaled so that an image's tokens have RMS norm 1.

    Position must weigh as much as content: conv tokens are some ten times
    longer than two coordinates in [-1, 1], and the decoder then never
    learned where objects are (benchmarks/captioning.py oracle with its
    tokens scaled up shows the same). Relative sizes within the image are
    kept, so empty page stays weaker than an object."""
    # In float32: the sum of squares overflows float16 for long tokens.
    squared = ops.square(ops.cast(tokens, "float32"))
    squared = ops.mean(ops.sum(squared, axis=-1), axis=1)
    scale = ops.cast(ops.rsqrt(squared + 1e-6), tokens.dtype)
    return tokens * scale[:, None, None]


def caption_preprocessor(tokenizer, sequence_length, pad_token_id=0):
    """A `tf.data` map function from dicts with "image" and "caption"
    (strings) to `({"image", "token_ids"}, labels)` for `ImageCaptioner`.

    Captions become `sequence_length + 1` ids with the tokenizer (which
    adds the start and end tokens); `token_ids` are all but the last,
    `labels` all but the first (the next token at every position).

    Example:

    >>> tokenizer = mmkeras.configs.caption_shapes.tokenizer()
    >>> preprocess = mmkeras.models.image_captioner.caption_preprocessor(
    ...     tokenizer, sequence_length=12)
    >>> ds = mmkeras.data.shapes_captions(8, seed=0, batch_size=4)
    >>> inputs, labels = next(iter(ds.map(preprocess)))
    >>> inputs["token_ids"].shape, labels.shape
    (TensorShape([4, 12]), TensorShape([4, 12]))
    """

    def preprocess(element):
        ids = tokenizer(element["caption"])
        token_ids, labels = _captioning.teacher_forcing(
            ids, pad_token_id, sequence_length
        )
        return {"image": element["image"], "token_ids": token_ids}, labels

    return preprocess
