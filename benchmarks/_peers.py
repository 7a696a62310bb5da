"""The equal-size models of `vs_keras_hub.py`: mmkeras's and KerasHub's
dual encoders and captioners, and each side's generation loop (see that
script's docstring for what matches and what differs by design)."""

import keras
import keras_hub
from keras import ops

import mmkeras

START_ID, PAD_ID = 1, 0


def symmetric_info_nce(y_true, y_pred):
    """CLIP's loss on `(images, texts)` logits; labels are the diagonal."""
    image_to_text = -ops.diagonal(ops.log_softmax(y_pred, axis=1))
    text_to_image = -ops.diagonal(ops.log_softmax(y_pred, axis=0))
    return (image_to_text + text_to_image) / 2.0


def mmkeras_vit(sizes, xla):
    return mmkeras.encoders.ViTImageEncoder(
        patch_size=sizes["patch_size"],
        hidden_dim=sizes["width"],
        num_layers=sizes["num_layers"],
        num_heads=sizes["num_heads"],
        intermediate_dim=sizes["intermediate_dim"],
        xla=xla,
    )


def hub_vit(sizes):
    return keras_hub.models.CLIPVisionEncoder(
        patch_size=sizes["patch_size"],
        hidden_dim=sizes["width"],
        num_layers=sizes["num_layers"],
        num_heads=sizes["num_heads"],
        intermediate_dim=sizes["intermediate_dim"],
        intermediate_activation="gelu",  # mmkeras's; CLIP's is quick GELU
        image_shape=(sizes["image_size"], sizes["image_size"], 3),
    )


def mmkeras_dual_encoder(sizes, xla):
    model = mmkeras.models.DualEncoder(
        mmkeras_vit(sizes, xla),
        mmkeras.encoders.TransformerTextEncoder(
            vocabulary_size=sizes["vocabulary_size"],
            sequence_length=sizes["sequence_length"],
            hidden_dim=sizes["width"],
            num_layers=sizes["num_layers"],
            num_heads=sizes["num_heads"],
            intermediate_dim=sizes["intermediate_dim"],
            dropout=0.0,  # CLIP has none
            xla=xla,
        ),
        projection_dim=sizes["projection_dim"],
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    return model


def hub_clip(sizes):
    text_encoder = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=sizes["vocabulary_size"],
        embedding_dim=sizes["width"],
        hidden_dim=sizes["width"],
        num_layers=sizes["num_layers"],
        num_heads=sizes["num_heads"],
        intermediate_dim=sizes["intermediate_dim"],
        intermediate_activation="gelu",
        max_sequence_length=sizes["sequence_length"],
    )
    model = keras_hub.models.CLIPBackbone(
        hub_vit(sizes), text_encoder, sizes["projection_dim"]
    )
    # text_logits is the transpose of vision_logits: one loss covers both.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={"vision_logits": symmetric_info_nce, "text_logits": None},
        jit_compile=False,
    )
    return model


class HubCaptioner(keras.layers.Layer):
    """ImageCaptioner's layout from KerasHub parts, for cached decoding.

    A `CLIPVisionEncoder`, token and position embeddings, pre-LN
    `TransformerDecoder` blocks cross-attending to the image tokens, a
    LayerNorm and a float32 Dense to logits, as in
    `mmkeras.models.ImageCaptioner`.
    """

    def __init__(self, vision_encoder, sizes, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.vision_encoder = vision_encoder
        self.sizes = sizes
        self.sequence_length = sequence_length
        self.token_embedding = keras_hub.layers.TokenAndPositionEmbedding(
            sizes["vocabulary_size"], sequence_length, sizes["width"]
        )
        self.blocks = [
            keras_hub.layers.TransformerDecoder(
                sizes["intermediate_dim"],
                sizes["num_heads"],
                activation="gelu",
                normalize_first=True,
            )
            for _ in range(sizes["num_layers"])
        ]
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.logits_dense = keras.layers.Dense(
            sizes["vocabulary_size"], dtype="float32"
        )

    def build(self, images_shape):
        num_patches = (images_shape[1] // self.sizes["patch_size"]) ** 2
        tokens_shape = (None, num_patches + 1, self.sizes["width"])
        hidden_shape = (None, self.sequence_length, self.sizes["width"])
        self.token_embedding.build(hidden_shape[:2])
        for block in self.blocks:
            block.build(hidden_shape, tokens_shape)
        self.output_norm.build(hidden_shape)
        self.logits_dense.build(hidden_shape)

    def build_cache(self, images, max_length):
        """`(image_tokens, cache)`; the cache holds per block the projected
        image keys and values and a zero self-attention cache."""
        image_tokens = self.vision_encoder({"images": images})
        batch = ops.shape(image_tokens)[0]
        heads = self.sizes["num_heads"]
        shape = (batch, 2, max_length, heads, self.sizes["width"] // heads)
        cache = {
            "cross": [_cross_cache(b, image_tokens) for b in self.blocks],
            "self": [ops.zeros(shape) for _ in self.blocks],
        }
        return image_tokens, cache

    def call_with_cache(self, token_ids, image_tokens, cache, index):
        x = self.token_embedding(token_ids, start_index=index)
        self_caches = []
        for block, cross, self_cache in zip(
            self.blocks, cache["cross"], cache["self"], strict=True
        ):
            # The block wants encoder_sequence even with a cross cache; it
            # only reads its (absent) Keras mask, so any batch size works.
            x, self_cache, _ = block(
                x,
                image_tokens,
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross,
            )
            self_caches.append(self_cache)
        logits = self.logits_dense(self.output_norm(x))
        return logits, {"cross": cache["cross"], "self": self_caches}


def _cross_cache(block, image_tokens):
    # KerasHub's public way (BartSeq2SeqLM._build_cache) fills this with a
    # whole extra decoder step; project directly, as mmkeras does.
    attention = block._cross_attention_layer
    keys = attention._key_dense(image_tokens)
    values = attention._value_dense(image_tokens)
    return ops.stack([keys, values], axis=1)


def _start_ids(images, max_length):
    row = ops.convert_to_tensor([[START_ID] + [PAD_ID] * (max_length - 1)])
    return ops.tile(ops.cast(row, "int32"), [ops.shape(images)[0], 1])


def mmkeras_generate(model, images, sampler, max_length):
    cache = model.build_cache(images, max_length)

    def next_fn(token_ids, cache, index):
        previous = ops.take(token_ids, index - 1, axis=1)[:, None]
        logits, cache = model.call_with_cache(previous, cache, index - 1)
        return logits[:, 0], cache

    return sampler(next_fn, _start_ids(images, max_length), cache, 1)


def hub_generate(model, images, sampler, max_length):
    image_tokens, cache = model.build_cache(images, max_length)

    def next_fn(prompt, cache, index):
        previous = ops.take(prompt, index - 1, axis=1)[:, None]
        logits, cache = model.call_with_cache(
            previous, image_tokens, cache, index - 1
        )
        return logits[:, 0], None, cache

    return sampler(next_fn, _start_ids(images, max_length), cache, index=1)


def captioners(sizes, max_length, xla):
    """The two captioners, built, with their sampler-driving functions."""
    mm = mmkeras.models.ImageCaptioner(
        mmkeras_vit(sizes, xla),
        vocabulary_size=sizes["vocabulary_size"],
        sequence_length=max_length,
        num_layers=sizes["num_layers"],
        num_heads=sizes["num_heads"],
        hidden_dim=sizes["width"],
        intermediate_dim=sizes["intermediate_dim"],
        xla=xla,
        start_token_id=START_ID,
        end_token_id=2,  # never consulted: the loops run every position
        pad_token_id=PAD_ID,
    )
    hub = HubCaptioner(hub_vit(sizes), sizes, max_length)
    shape = (None, sizes["image_size"], sizes["image_size"], 3)
    mm.build({"image": shape})
    hub.build(shape)
    return {"mmkeras": (mm, mmkeras_generate), "KerasHub": (hub, hub_generate)}
