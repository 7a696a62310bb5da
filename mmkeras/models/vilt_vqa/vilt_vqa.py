import keras

from mmkeras import _checks
from mmkeras.models.task import Task
from mmkeras.models.vilt.vilt_backbone import ViLTBackbone
from mmkeras.models.vilt.vilt_backbone import check_tokenizer
from mmkeras.models.vilt_vqa.vilt_vqa_serving import ViLTVQAServing
from mmkeras.models.vqa.vqa_preprocessor import VQAPreprocessor


@keras.saving.register_keras_serializable(package="mmkeras")
class ViLTVQA(Task):
    """ViLT fine-tuned for VQA: image + question -> answer logits, from a
    `ViLTBackbone` (pretrained by `ViLTPretrainer`, or new).

    The image and the question run through the backbone as one sequence;
    its pooled `[CLS]` output goes through ViLT's classifier (dense of
    `hidden_dim`, layer norm, GELU, dropout, a float32 linear layer) to
    `(batch, num_answers)` logits. Answers are classes, as in `VQAModel`:
    the same `VQAPreprocessor` (`{"image", "question", "answer_id"}` as
    `mmkeras.data.easy_vqa` gives them), the same exports (`answer`,
    `logits`) and the same default `compile()` (Adam, cross-entropy,
    accuracy).

    Args:
        backbone: a `ViLTBackbone`, e.g. `ViLTPretrainer.from_preset(
            name).backbone`; its weights are fine-tuned.
        num_answers: number of answer classes.
        hidden_dim: width of the classifier; default twice the backbone's.
        dropout: dropout before the last layer.
        preprocessor: an optional `VQAPreprocessor` whose tokenizer is the
            backbone's (its vocabulary and sequence length).
        answers: optional list of `num_answers` answer strings.

    Example:

    >>> backbone = mmkeras.models.vilt.ViLTBackbone(
    ...     vocabulary_size=100, sequence_length=8, patch_size=8,
    ...     hidden_dim=32, num_layers=2, num_heads=4, intermediate_dim=64)
    >>> model = mmkeras.models.ViLTVQA(backbone, num_answers=13)
    >>> model({"image": np.zeros((2, 32, 32, 3), "float32"),
    ...        "question_ids": np.ones((2, 8), "int32")}).shape
    TensorShape([2, 13])
    """

    preprocessor_cls = VQAPreprocessor
    serving_cls = ViLTVQAServing
    # Questions are always token ids (VQAServing and VQAPreprocessor ask).
    question_input = "tokens"

    def __init__(
        self,
        backbone,
        num_answers,
        hidden_dim=None,
        dropout=0.0,
        preprocessor=None,
        answers=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        if not isinstance(backbone, ViLTBackbone):
            raise TypeError(
                "backbone must be a ViLTBackbone. Received: "
                f"backbone={backbone!r}"
            )
        _checks.positive_int("num_answers", num_answers)
        _checks.optional_positive_int("hidden_dim", hidden_dim)
        _checks.rate("dropout", dropout)
        if getattr(preprocessor, "question_input", "tokens") != "tokens":
            raise ValueError(
                "ViLTVQA reads questions as tokens: give a VQAPreprocessor "
                "with a tokenizer. Received: question_input="
                f"{preprocessor.question_input!r}"
            )
        check_tokenizer(preprocessor, backbone)
        self.backbone = backbone
        self.num_answers = num_answers
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.answers = _checks.optional_names(
            "answers", answers, num_answers, "num_answers"
        )

    @property
    def text_encoder(self):
        """The backbone, which embeds the question: `VQAServing` reads the
        token id range from its `vocabulary_size`."""
        return self.backbone

    def build(self, inputs_shape):
        self._record_input_shapes(inputs_shape)
        if not self.backbone.built:
            self.backbone.build(
                tuple(inputs_shape["image"]),
                tuple(inputs_shape["question_ids"]),
            )
        width = self.backbone.hidden_dim
        hidden = self.hidden_dim or 2 * width
        self.hidden = keras.layers.Dense(
            hidden, dtype=self.dtype_policy, name="hidden"
        )
        self.hidden.build((None, width))
        self.hidden_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=self.dtype_policy, name="hidden_norm"
        )
        self.hidden_norm.build((None, hidden))
        self.classifier_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="classifier_dropout"
        )
        # Logits stay float32 under mixed precision, for a stable softmax.
        self.logits = keras.layers.Dense(
            self.num_answers, dtype="float32", name="logits"
        )
        self.logits.build((None, hidden))
        self.built = True

    def call(self, inputs, training=None):
        self._check_pixels(inputs["image"])
        pooled = self.backbone(
            inputs["image"], inputs["question_ids"], training=training
        )["pooled"]
        hidden = keras.activations.gelu(self.hidden_norm(self.hidden(pooled)))
        hidden = self.classifier_dropout(hidden, training=training)
        return self.logits(hidden)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "num_answers": self.num_answers,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "answers": self.answers,
            }
        )
        return config
