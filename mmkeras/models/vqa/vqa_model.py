import keras
import numpy as np
from keras import ops

from mmkeras import _checks
from mmkeras import layers
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused
from mmkeras.models.task import Task
from mmkeras.models.vqa.vqa_preprocessor import QUESTION_INPUTS
from mmkeras.models.vqa.vqa_preprocessor import VQAPreprocessor
from mmkeras.models.vqa.vqa_serving import VQAServing

# The `fusion=` shortcuts, each a head of `mmkeras.layers` built from the
# model's hidden_dim, num_heads, dropout, xla and fusion_layers.
FUSIONS = (
    "co_attention",
    "concat",
    "bilinear",
    "attention",
    "relation",
    "transformer",
    "film",
)


@keras.saving.register_keras_serializable(package="mmkeras")
class VQAModel(Task):
    """Visual question answering: image + question -> answer logits.

    The image encoder's `"tokens"` and the question (text encoder tokens,
    or a fixed-size question encoding) meet in a fusion head of
    `mmkeras.layers` (called as `head(image_tokens, question_tokens,
    question_mask, question_pooled)`), whose vector an MLP (f_phi in the
    relation network's terms: two ReLU layers of `hidden_dim`, dropout, a
    float32 linear layer) maps to `(batch, num_answers)` logits.

    `fusion` is a head object, e.g.
    `mmkeras.layers.FiLMFusionHead(hidden_dim=256, num_layers=4)`, or a
    shortcut that builds one from the model's `hidden_dim`, `num_heads`,
    `dropout`, `xla` and `fusion_layers`:

    - `"co_attention"` (default): `CoAttentionFusionHead`, MCAN-style
      co-attention of the two streams, then both mean-pooled.
    - `"concat"`: `ConcatFusionHead`, the CNN+MLP baseline of Santoro et
      al. 2017 (every image token flattened, with the pooled question).
    - `"bilinear"`: `BilinearFusionHead`, MFB over question-guided
      attention.
    - `"attention"`: `AttentionFusionHead`, a learned query over all
      tokens.
    - `"relation"`: `RelationFusionHead`, a relation network over the
      image tokens tagged with their grid coordinates, for relational
      questions ("what is the shape of the object closest to the red
      one?").
    - `"transformer"`: `TransformerFusionHead`, single-stream fusion
      (VisualBERT-style) in `fusion_layers` encoder blocks; relational
      like the relation network at a fraction of its cost.
    - `"film"`: `FiLMFusionHead`, `fusion_layers` residual conv blocks
      over the image tokens' square grid whose channels the question
      scales and shifts (Perez et al. 2018). Needs a conv encoder.

    Inputs are a dict: `"image"` float32 `(batch, H, W, 3)` as the
    preprocessor's `ImageConverter` makes them (integer images are
    refused) and either `"question_ids"` int32 `(batch, T)` with 0 as
    padding (`question_input="tokens"`; padding never changes the logits)
    or `"question_encoding"` float32 `(batch, E)`, e.g. Sort-of-CLEVR's
    11-dim encoding (`question_input="encoding"`, no text encoder). With
    a `VQAPreprocessor`, `fit`, `evaluate` and `predict` take raw
    `mmkeras.data` examples instead.

    Args:
        image_encoder: an `mmkeras.encoders` image encoder.
        text_encoder: an `mmkeras.encoders` text encoder; `None` with
            `question_input="encoding"`.
        num_answers: number of answer classes.
        fusion: a fusion head layer, or one of the shortcuts above.
        question_input: `"tokens"` or `"encoding"`.
        hidden_dim: width of the classifier MLP (and of the shortcuts'
            heads and of the question encoding's projection).
        num_heads: attention heads of the shortcuts' heads; must divide
            `hidden_dim`.
        dropout: dropout in the shortcuts' heads and before the last
            layer.
        fusion_layers: blocks of `fusion="transformer"` and
            `fusion="film"` (unused by the other shortcuts).
        xla: run the shortcuts' attention cores under XLA: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.
        preprocessor: an optional `VQAPreprocessor` (image converter and
            question tokenizer), kept with the model so that `fit` takes
            raw examples and exports take image bytes and questions.
        answers: optional list of `num_answers` answer strings, logit `i`
            scoring `answers[i]`; exports then return answer strings.

    Example:

    >>> model = mmkeras.models.VQAModel(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...         "tiny", vocabulary_size=100
    ...     ),
    ...     num_answers=13,
    ...     fusion=mmkeras.layers.CoAttentionFusionHead(64, num_heads=4),
    ... )
    >>> model.compile()
    >>> inputs = {
    ...     "image": np.zeros((2, 32, 32, 3), "float32"),
    ...     "question_ids": np.array([[5, 6, 7, 0]] * 2, "int32"),
    ... }
    >>> model(inputs).shape
    TensorShape([2, 13])
    """

    preprocessor_cls = VQAPreprocessor
    serving_cls = VQAServing

    def __init__(
        self,
        image_encoder,
        text_encoder,
        num_answers,
        fusion="co_attention",
        question_input="tokens",
        hidden_dim=128,
        num_heads=4,
        dropout=0.0,
        fusion_layers=2,
        xla="auto",
        preprocessor=None,
        answers=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        if image_encoder is None:
            raise ValueError(
                "image_encoder must be an image encoder layer. Received: "
                "image_encoder=None"
            )
        _checks.positive_int("num_answers", num_answers)
        if not isinstance(fusion, keras.layers.Layer):
            _checks.one_of("fusion", fusion, FUSIONS)
        _checks.one_of("question_input", question_input, QUESTION_INPUTS)
        _check_text_encoder(text_encoder, question_input)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("num_heads", num_heads)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _checks.positive_int("fusion_layers", fusion_layers)
        _check_preprocessor(preprocessor, question_input)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.num_answers = num_answers
        self.fusion = fusion
        self.question_input = question_input
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.fusion_layers = fusion_layers
        self.xla = xla
        self.answers = _checks.optional_names(
            "answers", answers, num_answers, "num_answers"
        )
        # A shortcut's head is made in `build`, as the other sublayers are.
        self.head = None if isinstance(fusion, str) else fusion

    def _shortcut_head(self, fusion):
        """The head `fusion` (a name of `FUSIONS`) stands for."""
        named = {"dtype": self.dtype_policy, "name": fusion}
        if fusion == "concat":
            return layers.ConcatFusionHead(**named)
        if fusion == "relation":
            return layers.RelationFusionHead(self.hidden_dim, **named)
        if fusion == "film":
            return layers.FiLMFusionHead(
                self.hidden_dim, self.fusion_layers, **named
            )
        attention = (self.hidden_dim, self.num_heads)
        options = {"dropout": self.dropout, "xla": self.xla, **named}
        if fusion == "transformer":
            return layers.TransformerFusionHead(
                *attention, num_layers=self.fusion_layers, **options
            )
        cls = {
            "co_attention": layers.CoAttentionFusionHead,
            "bilinear": layers.BilinearFusionHead,
            "attention": layers.AttentionFusionHead,
        }[fusion]
        return cls(*attention, **options)

    def build(self, inputs_shape):
        self._record_input_shapes(inputs_shape)
        image = self._build_encoder(self.image_encoder, inputs_shape["image"])
        if self.question_input == "tokens":
            ids_shape = tuple(inputs_shape["question_ids"])
            text = self._build_encoder(self.text_encoder, ids_shape, "int32")
            question, pooled = text["tokens"], text["pooled"]
            mask = ids_shape
        else:
            encoding_shape = tuple(inputs_shape["question_encoding"])
            self.question_embedding = self._dense(
                "question_embedding", self.hidden_dim, encoding_shape
            )
            pooled = (encoding_shape[0], self.hidden_dim)
            question = (encoding_shape[0], 1, self.hidden_dim)
            mask = question[:2]
        shapes = (image["tokens"], question, mask, pooled)
        if self.head is None:
            self.head = self._shortcut_head(self.fusion)
        if not self.head.built:
            self.head.build(*shapes)
        features = self.head.compute_output_shape(*shapes)
        self.hidden_0 = self._dense("f_0", self.hidden_dim, features, "relu")
        hidden = (features[0], self.hidden_dim)
        self.hidden_1 = self._dense("f_1", self.hidden_dim, hidden, "relu")
        self.classifier_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="classifier_dropout"
        )
        # Logits stay float32 under mixed precision, for a stable softmax.
        self.logits = self._dense(
            "logits", self.num_answers, hidden, dtype="float32"
        )
        self.built = True

    def _dense(self, name, units, shape, activation=None, dtype=None):
        layer = keras.layers.Dense(
            units,
            activation=activation,
            dtype=dtype or self.dtype_policy,
            name=name,
        )
        layer.build(shape)
        return layer

    def _encode(self, inputs, training):
        """The head's inputs: image tokens, question tokens, their mask and
        the pooled question."""
        self._check_pixels(inputs["image"])
        image = self.image_encoder(inputs["image"], training=training)
        if self.question_input == "tokens":
            ids = inputs["question_ids"]
            text = self.text_encoder(ids, training=training)
            question, pooled = text["tokens"], text["pooled"]
            mask = ops.not_equal(ids, 0)
        else:
            pooled = self.question_embedding(inputs["question_encoding"])
            question = pooled[:, None]
            mask = ops.ones(ops.shape(question)[:2], "bool")
        return image["tokens"], question, mask, pooled

    def image_attention_maps(self, inputs):
        """How much the question attends to each image token, `(batch, N)`
        for N image tokens, averaged over heads and question tokens (the
        head's `image_attention`: co-attention's question-to-image
        attention, the bilinear head's question query, the attention
        head's query). Raises ValueError for heads without one (concat,
        relation, transformer, FiLM)."""
        if not self.built:
            self(inputs)
        return self.head.image_attention(*self._encode(inputs, False))

    def call(self, inputs, training=None):
        features = self.head(*self._encode(inputs, training), training=training)
        hidden = self.hidden_1(self.hidden_0(features))
        hidden = self.classifier_dropout(hidden, training=training)
        return self.logits(hidden)

    def explain(self, image, path, question=None, texts=()):
        """Answers `question` about `image` and writes the image and where
        the question looked (`image_attention_maps`) into the PNG `path`.

        Needs a preprocessor with a tokenizer, `answers` and a head with
        an `image_attention` (co-attention, bilinear or attention).

        Args:
            image: `(height, width, 3)` pixels, uint8 or floats in [0, 1];
                converted by the preprocessor's `ImageConverter`.
            path: the PNG to write (atomically).
            question: the question string (`mmkeras explain --question`).

        Returns:
            The answer.
        """
        if self.tokenizer is None or self.answers is None:
            raise ValueError(
                "VQAModel.explain answers in words: build the model with a "
                "VQAPreprocessor with a tokenizer and answers=. Received: "
                f"tokenizer={self.tokenizer!r}, answers={self.answers!r}"
            )
        refuse_unused("a VQA model", texts=texts)
        if not question:
            raise RequestError(
                "this model needs --question: VQAModel.explain answers a "
                f"question about the image. Received: question={question!r}"
            )
        # Imported when drawing: loading the models never loads PIL.
        from mmkeras import explain as drawing

        pixels = self.preprocessor.convert_images(np.asarray(image)[None])
        inputs = {
            "image": pixels,
            "question_ids": self.preprocessor.tokenize([question]),
        }
        weights = ops.convert_to_numpy(self.image_attention_maps(inputs))[0]
        logits = ops.convert_to_numpy(self(inputs, training=False))[0]
        answer = self.answers[int(np.argmax(logits))]
        converter = self.preprocessor.image_converter
        base = drawing.panel(drawing.display_pixels(pixels[0], converter))
        panels = [
            (base, question),
            (drawing.heat(base, weights), f"answer: {answer}"),
        ]
        drawing.save_png(drawing.sheet(panels), path)
        return answer

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "image_encoder": serialize(self.image_encoder),
                "text_encoder": serialize(self.text_encoder),
                "num_answers": self.num_answers,
                "fusion": self.fusion
                if isinstance(self.fusion, str)
                else serialize(self.fusion),
                "question_input": self.question_input,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "fusion_layers": self.fusion_layers,
                "xla": self.xla,
                "answers": self.answers,
            }
        )
        return config


def _check_text_encoder(text_encoder, question_input):
    if (text_encoder is None) == (question_input == "tokens"):
        need = "a text encoder" if text_encoder is None else "None"
        raise ValueError(
            f"text_encoder must be {need} with question_input="
            f"{question_input!r}. Received: text_encoder={text_encoder!r}"
        )


def _check_preprocessor(preprocessor, question_input):
    given = getattr(preprocessor, "question_input", question_input)
    if given != question_input:
        raise ValueError(
            "the preprocessor must make the model's question input: give "
            f"both question_input={question_input!r}. Received: a "
            f"preprocessor with question_input={given!r}"
        )
