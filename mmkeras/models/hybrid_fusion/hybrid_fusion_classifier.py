import keras
from keras import ops

from mmkeras import _checks
from mmkeras.layers import ConcatFusion
from mmkeras.layers import LateFusion
from mmkeras.models import _classifier
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.models.fusion import FusionServing
from mmkeras.models.task import Task

BRANCHES = ("early", "image", "text")


@keras.saving.register_keras_serializable(package="mmkeras")
class HybridFusionClassifier(Task):
    """Image + text classifier with early and late fusion together.

    Hybrid fusion (Atrey et al. 2010) keeps both kinds of evidence: an
    early branch classifies the concatenated pooled features (it can learn
    how the modalities interact), and an image head and a text head each
    classify their own modality (they keep working when the other one is
    uninformative). A learned `LateFusion` weighs the three branches'
    logits, starting equal; `branch_weights()` says how much each counts.

    Inputs and preprocessing are those of `FusionClassifier`
    (`FusionPreprocessor`: raw `{"image", "text", "label"}`), and so is its
    export (`FusionServing`: labels and probabilities from image bytes and
    text).

    Args:
        image_encoder: an image encoder layer (returns `"pooled"`).
        text_encoder: a text encoder layer (returns `"pooled"`).
        num_classes: number of labels.
        hidden_dim: width of each branch's hidden layer.
        dropout: dropout rate in the early fusion and the branch heads.
        class_names: optional list of `num_classes` label strings.
        preprocessor: a `FusionPreprocessor`, or None for model inputs.

    Example:

    >>> model = mmkeras.models.HybridFusionClassifier(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...         "tiny", vocabulary_size=100),
    ...     num_classes=2)
    >>> model({"image": np.zeros((2, 32, 32, 3), "float32"),
    ...        "token_ids": np.ones((2, 8), "int32")}).shape
    TensorShape([2, 2])
    """

    preprocessor_cls = FusionPreprocessor
    serving_cls = FusionServing

    def __init__(
        self,
        image_encoder,
        text_encoder,
        num_classes,
        hidden_dim=128,
        dropout=0.0,
        class_names=None,
        preprocessor=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        _classifier.check_encoders(image_encoder, text_encoder)
        _checks.positive_int("num_classes", num_classes)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.rate("dropout", dropout)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.num_classes = num_classes
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.class_names = _checks.optional_names(
            "class_names", class_names, num_classes, "num_classes"
        )

    def build(self, inputs_shape):
        self._record_input_shapes(inputs_shape)
        image = self._build_encoder(self.image_encoder, inputs_shape["image"])
        text = self._build_encoder(
            self.text_encoder, inputs_shape["token_ids"], "int32"
        )
        pooled = [image["pooled"], text["pooled"]]
        self.early_fusion = ConcatFusion(
            dropout=self.dropout, dtype=self.dtype_policy, name="early"
        )
        self.early_fusion.build(pooled)
        fused = self.early_fusion.compute_output_shape(pooled)
        self.heads = [
            self._head(f"{branch}_head", shape)
            for branch, shape in zip(BRANCHES, [fused, *pooled], strict=True)
        ]
        self.late_fusion = LateFusion(
            "learned", dtype=self.dtype_policy, name="late"
        )
        logits_shape = (None, self.num_classes)
        self.late_fusion.build([logits_shape] * len(BRANCHES))

    def _head(self, name, input_shape):
        return _classifier.classifier_head(self, name, input_shape)

    def call(self, inputs, training=None):
        self._check_pixels(inputs["image"])
        image = self.image_encoder(inputs["image"], training=training)
        text = self.text_encoder(inputs["token_ids"], training=training)
        pooled = [image["pooled"], text["pooled"]]
        fused = self.early_fusion(pooled, training=training)
        logits = [
            head(features, training=training)
            for head, features in zip(self.heads, [fused, *pooled], strict=True)
        ]
        # Losses and softmax stay float32 under mixed precision.
        return ops.cast(self.late_fusion(logits), "float32")

    def branch_weights(self):
        """`{branch: weight}`: the late fusion's weights of the early,
        image and text branches (they sum to 1)."""
        weights = ops.convert_to_numpy(self.late_fusion.normalized_weights())
        return dict(zip(BRANCHES, weights.tolist(), strict=True))

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "image_encoder": serialize(self.image_encoder),
                "text_encoder": serialize(self.text_encoder),
                "num_classes": self.num_classes,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "class_names": self.class_names,
            }
        )
        return config
