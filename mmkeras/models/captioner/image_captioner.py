import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.layers import TokenAndPositionEmbedding
from mmkeras.layers import TransformerDecoderBlock
from mmkeras.losses import MaskedSparseCategoricalCrossentropy
from mmkeras.models._grid import static_grid
from mmkeras.models._grid import with_coordinates
from mmkeras.models.captioner import _captioning
from mmkeras.models.captioner.captioner_preprocessor import (
    CaptionerPreprocessor,
)
from mmkeras.models.captioner.captioner_serving import CaptionerServing
from mmkeras.models.generative_task import GenerativeTask
from mmkeras.models.serving import refuse_unused


@keras.saving.register_keras_serializable(package="mmkeras")
class ImageCaptioner(GenerativeTask):
    """Transformer caption decoder cross-attending to image encoder tokens.

    The image encoder's `"tokens"` (tagged with their grid coordinates if
    `coordinates`, then projected to `hidden_dim` when their size differs)
    are the memory of `num_layers` `TransformerDecoderBlock`s over the
    embedded caption; a final layer norm and a dense layer give next-token
    logits. Training is teacher-forced: inputs `{"image": (batch, H, W,
    C), "token_ids": (batch, T)}` give logits `(batch, T,
    vocabulary_size)` for labels `(batch, T)` = the ids shifted by one,
    `pad_token_id` ignored by the default loss. Images are float pixels as
    the preprocessor's `ImageConverter` makes them; its
    `CaptionerPreprocessor` maps raw `{"image", "caption"}` examples
    (uint8 or [0, 1] images, strings) to inputs and labels in `fit`.

    `generate` (from `GenerativeTask`) encodes the image once
    (`build_cache`), then a sampler from `mmkeras.samplers` runs one
    `while_loop` over `call_with_cache`, which decodes one position
    against the cached keys and values.

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
        xla: run each transformer block as one XLA computation: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.
        coordinates: scale the image tokens to RMS norm 1 per image and
            append each token's (row, column) in [-1, 1] on the encoder's
            square grid (index order otherwise), so cross-attention can
            tell where a token is: captions that relate two objects ("left
            of") need it. Needs a static number of image tokens.
        preprocessor: optional `CaptionerPreprocessor` (image converter,
            tokenizer, `sequence_length` equal to the model's); enables
            raw data in `fit`/`predict`, raw images in `generate` and
            string output.
        start_token_id: first token of every caption; default the
            preprocessor's tokenizer's.
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

    preprocessor_cls = CaptionerPreprocessor
    serving_cls = CaptionerServing
    # `build_cache` and `generate` take the images alone.
    generation_inputs = "image"

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
        xla="auto",
        coordinates=False,
        preprocessor=None,
        start_token_id=None,
        end_token_id=None,
        pad_token_id=0,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
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
        _captioning.check_preprocessor(
            preprocessor, vocabulary_size, sequence_length
        )
        start_token_id, end_token_id = _captioning.special_ids(
            self.tokenizer, start_token_id, end_token_id
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
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.pad_token_id = pad_token_id

    def build(self, inputs_shape):
        image_shape = tuple(inputs_shape["image"])
        ids_shape = (image_shape[0], self.sequence_length)
        self._record_input_shapes(
            {"image": image_shape, "token_ids": ids_shape}
        )
        image_tokens_shape = self._build_image_side(image_shape)
        self._num_image_tokens = image_tokens_shape[1]
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

    def _build_image_side(self, image_shape):
        """Builds the encoder and the projection; returns the shape of the
        decoder's memory."""
        encoded = self._build_encoder(self.image_encoder, image_shape)
        tokens_shape = tuple(encoded["tokens"])
        self._grid = None
        if self.coordinates:
            self._grid = static_grid(
                "ImageCaptioner(coordinates=True)", tokens_shape
            )
            tokens_shape = (*tokens_shape[:-1], tokens_shape[-1] + 2)
        self.image_projection = None
        if tokens_shape[-1] != self.hidden_dim:
            self.image_projection = keras.layers.Dense(
                self.hidden_dim, dtype=self.dtype_policy, name="image_proj"
            )
            self.image_projection.build(tokens_shape)
            tokens_shape = tokens_shape[:-1] + (self.hidden_dim,)
        return tokens_shape

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
        """The decoder's memory: `(batch, N, hidden_dim)` image tokens of
        converted pixels (uint8 images are refused: the preprocessor
        converts them)."""
        self._check_pixels(images)
        images = ops.cast(images, self.compute_dtype)
        tokens = self.image_encoder(images, training=training)["tokens"]
        if self._grid is not None:
            tokens = with_coordinates(_captioning.unit_rms(tokens), self._grid)
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

    def cache_spec(self, max_length):
        """`build_cache`'s structure as `tf.TensorSpec`s, batch None."""
        if not self.built:
            raise ValueError(
                "ImageCaptioner.cache_spec needs a built model (the number "
                "of image tokens comes from the encoder); call it on a "
                "batch first"
            )

        def spec(length):
            shape = (None, 2, length, self.num_heads, self._head_dim())
            return tf.TensorSpec(shape, self.compute_dtype)

        blocks = self.decoder_blocks
        return {
            "cross": [spec(self._num_image_tokens) for _ in blocks],
            "self": [spec(max_length) for _ in blocks],
        }

    def _head_dim(self):
        return self.hidden_dim // self.num_heads

    def call_with_cache(self, token_ids, cache, index):
        """Decodes the tokens `(batch, 1)` at position `index`.

        Returns the `(batch, 1, vocabulary_size)` logits of the token at
        `index + 1` and the cache with this position's keys and values,
        written in place into each block's self-attention cache.
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

    def generation_input_shapes(self, images):
        return {"image": tuple(images.shape)}

    def explain(self, image, path, question=None, texts=()):
        """Captions `image` greedily and draws, into the PNG `path`, the
        image then one map per word: where the last decoder block's
        cross-attention looked (averaged over heads) to write it, the rest
        of the image dimmed. Image tokens must form a square grid (conv
        and patch encoders do).

        Args:
            image: `(height, width, 3)` pixels, uint8 or floats in [0, 1];
                the preprocessor's converter resizes them.
            path: the PNG to write (atomically).

        Returns:
            The caption.
        """
        # Imported here: the drawing helpers are no part of the model.
        from mmkeras import explain as drawing

        refuse_unused("a captioner", question=question, texts=texts)
        if self.tokenizer is None:
            raise ValueError(
                "explain writes the caption's words, so the captioner needs "
                "a preprocessor with a tokenizer. Received: tokenizer=None"
            )
        images = np.asarray(image)[None]
        pixels = self.preprocessor.generate_preprocess(images)
        ids = self.generate(images, return_strings=False)
        maps = ops.convert_to_numpy(self.cross_attention_maps(pixels, ids))[0]
        words, rows = [], []
        for position, token in enumerate(ids[0, 1:]):
            if token in (self.end_token_id, self.pad_token_id):
                break
            words.append(self.tokenizer.id_to_token(int(token)))
            rows.append(maps[position])
        caption = self.preprocessor.detokenize(ids)[0]
        converter = self.preprocessor.image_converter
        pixels = ops.convert_to_numpy(pixels)[0]
        base = drawing.panel(drawing.display_pixels(pixels, converter))
        panels = [(base, caption)]
        panels += [
            (drawing.heat(base, m), w)
            for w, m in zip(words, rows, strict=True)
        ]
        drawing.save_png(drawing.sheet(panels), path)
        return caption

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
                "start_token_id": self.start_token_id,
                "end_token_id": self.end_token_id,
                "pad_token_id": self.pad_token_id,
            }
        )
        return config
