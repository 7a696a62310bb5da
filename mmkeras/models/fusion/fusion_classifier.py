import inspect

import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import AttentionFusion
from mmkeras.layers import BilinearFusion
from mmkeras.layers import ConcatFusion
from mmkeras.layers import GatedFusion
from mmkeras.layers import LateFusion
from mmkeras.models import _classifier
from mmkeras.models.fusion.fusion_preprocessor import FusionPreprocessor
from mmkeras.models.fusion.fusion_serving import FusionServing
from mmkeras.models.task import Task

# The `fusion=` names; `fusion=` also takes a fusion head layer of
# `mmkeras.layers` (any layer called as `head(image_tokens, text_tokens,
# text_mask, text_pooled)`).
FUSIONS = (
    "concat",
    "gated",
    "bilinear",
    "attention",
    "late",
    "image_only",
    "text_only",
)


@keras.saving.register_keras_serializable(package="mmkeras")
class FusionClassifier(Task):
    """Image + text classifier with a choice of fusion, for comparing them.

    Both encoders (any `mmkeras.encoders` pair) encode their modality; the
    fusion `fusion` combines them and a classifier head
    `Dense(hidden_dim, "relu") -> Dropout -> Dense(num_classes)` gives the
    logits (float32). `fusion` is a name of `FUSIONS` or a fusion head
    layer of `mmkeras.layers`, as `VQAModel` takes, e.g.
    `mmkeras.layers.CoAttentionFusionHead(64, num_heads=4)`: it is called
    as `head(image_tokens, text_tokens, text_mask, text_pooled)` with the
    encoders' tokens, the mask `token_ids != 0` and the pooled text, and
    its `(batch, features)` output goes to the classifier head. The names:

    - `"concat"`: early fusion, `ConcatFusion` of the pooled vectors.
    - `"gated"`: `GatedFusion` (GMU) of the pooled vectors.
    - `"bilinear"`: `BilinearFusion` (MFB) of the pooled vectors.
    - `"attention"`: `AttentionFusion` over both token sequences; padded
      text tokens (id 0) get no attention.
    - `"late"`: one head per modality on its pooled vector, combined at the
      decision level by a learned `LateFusion` of their logits. Additive in
      the modalities, so it cannot learn their interactions.
    - `"image_only"` / `"text_only"`: unimodal baselines with the same
      inputs; the other modality is never read (its encoder is built, for
      identical checkpoints, but frozen and never called).

    Inputs are a dict: `"image"` float32 `(batch, height, width, 3)` (the
    pixels an `ImageConverter` makes, never uint8) and `"token_ids"` int32
    `(batch, length)` with 0 for padding. With a `FusionPreprocessor`,
    `fit`, `evaluate` and `predict` take raw `{"image", "text", "label"}`
    examples instead.

    Args:
        image_encoder: an image encoder layer (returns `"tokens"`, `"pooled"`).
        text_encoder: a text encoder layer (returns `"tokens"`, `"pooled"`).
        num_classes: number of labels.
        fusion: one of `FUSIONS`, or a fusion head layer (see above),
            saved with the model.
        hidden_dim: size of the named fusions' fused vector and of the
            classifier heads' hidden layer.
        num_heads: heads of the attention fusion; must divide `hidden_dim`.
        dropout: dropout rate in the named fusions and the heads.
        xla: run the attention fusion's core under XLA: `True`, `False`
            or `"auto"` (the default) compiles on a GPU or TPU only. A head
            layer has its own `xla`.
        preprocessor: optional `FusionPreprocessor` (image converter and
            tokenizer with a `sequence_length`), saved with the model;
            with it `fit`/`predict` take raw examples and exports take
            image bytes and text strings.
        class_names: optional list of `num_classes` label strings, logit
            `i` scoring `class_names[i]`; exports then return them.

    Example:

    >>> model = mmkeras.models.FusionClassifier(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...         "tiny", vocabulary_size=100
    ...     ),
    ...     num_classes=2,
    ...     fusion="gated",
    ... )
    >>> inputs = {
    ...     "image": np.zeros((2, 32, 32, 3), "float32"),
    ...     "token_ids": np.ones((2, 8), "int32"),
    ... }
    >>> model(inputs).shape
    TensorShape([2, 2])
    >>> model.compile()  # Adam, sparse CE from logits, accuracy
    """

    preprocessor_cls = FusionPreprocessor
    serving_cls = FusionServing

    def __init__(
        self,
        image_encoder,
        text_encoder,
        num_classes,
        fusion="concat",
        hidden_dim=128,
        num_heads=4,
        dropout=0.0,
        xla="auto",
        preprocessor=None,
        class_names=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        _classifier.check_encoders(image_encoder, text_encoder)
        _checks.positive_int("num_classes", num_classes)
        if isinstance(fusion, str):
            _checks.one_of("fusion", fusion, FUSIONS)
        else:
            _check_fusion_head(fusion)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("num_heads", num_heads)
        if fusion == "attention":
            _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        class_names = _checks.optional_names(
            "class_names", class_names, num_classes, "num_classes"
        )
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.num_classes = num_classes
        self.fusion = fusion
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.xla = xla
        self.class_names = class_names
        if not isinstance(fusion, str):
            self.fusion_layer = fusion

    def build(self, inputs_shape):
        self._record_input_shapes(inputs_shape)
        image = self._build_encoder(self.image_encoder, inputs_shape["image"])
        text = self._build_encoder(
            self.text_encoder, inputs_shape["token_ids"], "int32"
        )
        if not isinstance(self.fusion, str):
            self._build_fusion_head(image, text, inputs_shape["token_ids"])
            return
        # The ignored encoder gets no gradients; with its variables frozen
        # the optimizer does not warn about them. (Variables, not
        # `encoder.trainable`: Keras skips setting False on a layer that is
        # already False, leaving sublayers built later trainable.)
        ignored = {
            "image_only": self.text_encoder,
            "text_only": self.image_encoder,
        }.get(self.fusion)
        for variable in ignored.weights if ignored else []:
            variable.trainable = False
        if self.fusion in ("late", "image_only"):
            self.image_head = self._head("image_head", image["pooled"])
        if self.fusion in ("late", "text_only"):
            self.text_head = self._head("text_head", text["pooled"])
        if self.fusion == "late":
            self.fusion_layer = LateFusion(
                "learned", dtype=self.dtype_policy, name="fusion"
            )
            logits_shape = (None, self.num_classes)
            self.fusion_layer.build([logits_shape, logits_shape])
        elif self.fusion in ("concat", "gated", "bilinear", "attention"):
            key = "tokens" if self.fusion == "attention" else "pooled"
            shapes = [image[key], text[key]]
            self.fusion_layer = self._fusion_layer()
            self.fusion_layer.build(shapes)
            fused = self.fusion_layer.compute_output_shape(shapes)
            self.head = self._head("head", fused)

    def _build_fusion_head(self, image, text, ids_shape):
        """Builds the head layer `fusion` (unless built, as a head shared
        with another model is) and the classifier on its output."""
        shapes = (image["tokens"], text["tokens"], tuple(ids_shape))
        shapes = (*shapes, text["pooled"])
        if not self.fusion_layer.built:
            self.fusion_layer.build(*shapes)
        dtypes = ("float32", "float32", "bool", "float32")
        fused = self.fusion_layer.compute_output_spec(
            *map(keras.KerasTensor, shapes, dtypes)
        )
        self.head = self._head("head", fused.shape)

    def _fusion_layer(self):
        common = dict(dtype=self.dtype_policy, name="fusion")
        if self.fusion == "concat":
            return ConcatFusion(dropout=self.dropout, **common)
        if self.fusion == "gated":
            return GatedFusion(self.hidden_dim, dropout=self.dropout, **common)
        if self.fusion == "bilinear":
            return BilinearFusion(
                self.hidden_dim, mode="mfb", dropout=self.dropout, **common
            )
        return AttentionFusion(
            self.num_heads,
            self.hidden_dim,
            dropout=self.dropout,
            xla=self.xla,
            **common,
        )

    def _head(self, name, input_shape):
        return _classifier.classifier_head(self, name, input_shape)

    def call(self, inputs, training=None):
        images, token_ids = inputs["image"], inputs["token_ids"]
        self._check_pixels(images)
        if self.fusion == "image_only":
            pooled = self.image_encoder(images, training=training)["pooled"]
            return _float32(self.image_head(pooled, training=training))
        text = self.text_encoder(token_ids, training=training)
        if self.fusion == "text_only":
            return _float32(self.text_head(text["pooled"], training=training))
        image = self.image_encoder(images, training=training)
        if not isinstance(self.fusion, str):
            fused = self.fusion_layer(
                image["tokens"],
                text["tokens"],
                ops.not_equal(token_ids, 0),
                text["pooled"],
                training=training,
            )
            return _float32(self.head(fused, training=training))
        if self.fusion == "late":
            logits = [
                self.image_head(image["pooled"], training=training),
                self.text_head(text["pooled"], training=training),
            ]
            return _float32(self.fusion_layer(logits))
        if self.fusion == "attention":
            fused = self.fusion_layer(
                [image["tokens"], text["tokens"]],
                mask=[None, ops.not_equal(token_ids, 0)],
                training=training,
            )
        else:
            fused = self.fusion_layer(
                [image["pooled"], text["pooled"]], training=training
            )
        return _float32(self.head(fused, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.saving.serialize_keras_object(
                    self.image_encoder
                ),
                "text_encoder": keras.saving.serialize_keras_object(
                    self.text_encoder
                ),
                "num_classes": self.num_classes,
                "fusion": self.fusion
                if isinstance(self.fusion, str)
                else keras.saving.serialize_keras_object(self.fusion),
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "xla": self.xla,
                "class_names": self.class_names,
            }
        )
        return config


def _check_fusion_head(fusion):
    """A head layer must take the four inputs of `mmkeras.layers`' fusion
    heads, as `head(image_tokens, text_tokens, text_mask, text_pooled)`."""
    accepted = (
        "fusion must be one of "
        + ", ".join(repr(name) for name in FUSIONS)
        + " or a fusion head layer called as head(image_tokens, "
        "question_tokens, question_mask, question_pooled), such as "
        "mmkeras.layers.CoAttentionFusionHead or FiLMFusionHead."
    )
    if not isinstance(fusion, keras.layers.Layer):
        raise TypeError(f"{accepted} Received: fusion={fusion!r}")
    try:
        inspect.signature(fusion.call).bind(None, None, None, None)
    except TypeError:
        raise TypeError(
            f"{accepted} Received: fusion={fusion!r}, a layer called as "
            f"call{inspect.signature(fusion.call)}"
        ) from None


def _float32(logits):
    # Losses and softmax stay float32 under mixed precision.
    return ops.cast(logits, "float32")
