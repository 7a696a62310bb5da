import keras
from keras import ops

from mmkeras import _checks
from mmkeras.models import _vqa
from mmkeras.models.task import Task

QUESTION_INPUTS = ("tokens", "encoding")


@keras.saving.register_keras_serializable(package="mmkeras")
class VQAModel(Task):
    """Visual question answering: image + question -> answer logits.

    The image encoder's `"tokens"` and the question (text encoder tokens,
    or a fixed-size question encoding) meet in one of seven fusions, whose
    vector an MLP (f_phi in the relation network's terms: two ReLU layers
    of `hidden_dim`, dropout, a float32 linear layer) maps to
    `(batch, num_answers)` logits:

    - `"co_attention"` (default): both streams projected to `hidden_dim`,
      one MCAN-style `mmkeras.layers.CoAttention` layer (self- and guided
      attention each way), then the mean image token and the masked mean
      question token, concatenated.
    - `"concat"`: the CNN+MLP baseline of Santoro et al. 2017, every image
      token flattened and concatenated with the pooled question.
    - `"bilinear"`: MFB; the pooled question attends over the image
      tokens and `mmkeras.layers.BilinearFusion` pools both.
    - `"attention"`: `mmkeras.layers.AttentionFusion` over all tokens.
    - `"relation"`: a relation network (Santoro et al. 2017). Image tokens
      tagged with their grid coordinates are the objects; g_theta (four
      ReLU layers of `hidden_dim`) reads every ordered pair with the pooled
      question; the pair outputs are averaged. This is the fusion for
      relational questions ("what is the shape of the object closest to
      the red one?").
    - `"transformer"`: single-stream fusion (VisualBERT-style); a learned
      fusion token, the question tokens and the image tokens go through
      `fusion_layers` transformer encoder blocks together, and the fusion
      token's output is the fused vector. Relational like the relation
      network (every token attends to every other in each layer) at a
      fraction of its cost on Sort-of-CLEVR.
    - `"film"`: FiLM (Perez et al. 2018); `fusion_layers` residual conv
      blocks over the image tokens' square grid, each with its channels
      scaled and shifted by the pooled question (`mmkeras.layers.FiLM`),
      then a max pool. Needs a conv encoder's square grid of tokens.

    Inputs are a dict: `"image"` float32 `(batch, H, W, 3)` and either
    `"question_ids"` int32 `(batch, T)` with 0 as padding
    (`question_input="tokens"`; padding never changes the logits) or
    `"question_encoding"` float32 `(batch, E)`, e.g. Sort-of-CLEVR's
    11-dim encoding (`question_input="encoding"`, no text encoder). Use
    `vqa_preprocessor` to map `mmkeras.data` datasets to these inputs.

    Args:
        image_encoder: an `mmkeras.encoders` image encoder.
        text_encoder: an `mmkeras.encoders` text encoder; `None` with
            `question_input="encoding"`.
        num_answers: number of answer classes.
        fusion: one of `"co_attention"`, `"concat"`, `"bilinear"`,
            `"attention"`, `"relation"`, `"transformer"`, `"film"`.
        question_input: `"tokens"` or `"encoding"`.
        hidden_dim: width of the fusion and of the classifier MLP.
        num_heads: attention heads of the fusion; must divide `hidden_dim`.
        dropout: dropout in the fusion and before the last layer.
        fusion_layers: number of blocks of `fusion="transformer"` and
            `fusion="film"` (unused by the other fusions).
        xla: run the fusion's attention cores under XLA.
        tokenizer: optional question tokenizer (an
            `mmkeras.text.WordPieceTokenizer` with a `sequence_length`),
            kept with the model so exports can take question strings.
        answers: optional list of `num_answers` answer strings, logit `i`
            scoring `answers[i]`; exports then return answer strings.

    Example:

    >>> model = mmkeras.models.VQAModel(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...         "tiny", vocabulary_size=100
    ...     ),
    ...     num_answers=13,
    ... )
    >>> model.compile()
    >>> inputs = {
    ...     "image": np.zeros((2, 32, 32, 3), "float32"),
    ...     "question_ids": np.array([[5, 6, 7, 0]] * 2, "int32"),
    ... }
    >>> model(inputs).shape
    TensorShape([2, 13])
    """

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
        xla=True,
        tokenizer=None,
        answers=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_encoder is None:
            raise ValueError(
                "image_encoder must be an image encoder layer. Received: "
                "image_encoder=None"
            )
        _checks.positive_int("num_answers", num_answers)
        _checks.one_of("fusion", fusion, _vqa.FUSIONS)
        _checks.one_of("question_input", question_input, QUESTION_INPUTS)
        _check_text_encoder(text_encoder, question_input)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("num_heads", num_heads)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _checks.positive_int("fusion_layers", fusion_layers)
        if tokenizer is not None and question_input != "tokens":
            raise ValueError(
                'tokenizer needs question_input="tokens". Received: '
                f"question_input={question_input!r}"
            )
        answers = _checks.optional_names(
            "answers", answers, num_answers, "num_answers"
        )
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
        self.tokenizer = tokenizer
        self.answers = answers

    def build(self, inputs_shape):
        image = self._build_encoder(self.image_encoder, inputs_shape["image"])
        image_tokens = image["tokens"]
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
        self.head = _vqa.make_head(
            self.fusion,
            self.hidden_dim,
            self.num_heads,
            self.dropout,
            self.xla,
            self.dtype_policy,
            self.fusion_layers,
        )
        self.head.build(image_tokens, question, mask, pooled)
        features = self.head.compute_output_shape(
            image_tokens, question, mask, pooled
        )
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
        co-attention's question-to-image attention, the bilinear fusion's
        question query, the attention fusion's query). Raises ValueError
        for fusions without one ("concat", "relation", "transformer",
        "film")."""
        if not self.built:
            self(inputs)
        return self.head.image_attention(*self._encode(inputs, False))

    def call(self, inputs, training=None):
        features = self.head(*self._encode(inputs, training), training=training)
        hidden = self.hidden_1(self.hidden_0(features))
        hidden = self.classifier_dropout(hidden, training=training)
        return self.logits(hidden)

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
                "num_answers": self.num_answers,
                "fusion": self.fusion,
                "question_input": self.question_input,
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "fusion_layers": self.fusion_layers,
                "xla": self.xla,
                "tokenizer": keras.saving.serialize_keras_object(
                    self.tokenizer
                ),
                "answers": self.answers,
            }
        )
        return config


def vqa_preprocessor(tokenizer=None, question_input="tokens"):
    """A `tf.data` map function from `mmkeras.data` VQA elements to
    `(inputs, answer_id)` for `VQAModel`, batched or not.

    Images become float32 (uint8 divided by 255); with
    `question_input="tokens"` the `"question"` strings become
    `"question_ids"` through `tokenizer` (give it a `sequence_length` so
    batches are dense), else `"question_encoding"` is passed through.

    Args:
        tokenizer: an `mmkeras.text.WordPieceTokenizer`; unused with
            `question_input="encoding"`.
        question_input: `"tokens"` or `"encoding"`, as in `VQAModel`.

    Example:

    >>> questions = ["what is the shape of the red object?"] * 20
    >>> tokenizer = mmkeras.text.WordPieceTokenizer(
    ...     mmkeras.text.build_vocabulary(questions, 100), sequence_length=16
    ... )
    >>> ds = mmkeras.data.sort_of_clevr(8, seed=0, batch_size=4).map(
    ...     mmkeras.models.vqa_model.vqa_preprocessor(tokenizer)
    ... )
    """
    _checks.one_of("question_input", question_input, QUESTION_INPUTS)
    if question_input == "tokens" and tokenizer is None:
        raise ValueError(
            'question_input="tokens" needs a tokenizer. Received: '
            "tokenizer=None"
        )

    def preprocess(element):
        image = element["image"]
        scale = 255.0 if "int" in str(image.dtype) else 1.0
        inputs = {"image": ops.cast(image, "float32") / scale}
        if question_input == "tokens":
            inputs["question_ids"] = tokenizer(element["question"])
        else:
            inputs["question_encoding"] = element["question_encoding"]
        return inputs, element["answer_id"]

    return preprocess


def _check_text_encoder(text_encoder, question_input):
    if (text_encoder is None) == (question_input == "tokens"):
        need = "a text encoder" if text_encoder is None else "None"
        raise ValueError(
            f"text_encoder must be {need} with question_input="
            f"{question_input!r}. Received: text_encoder={text_encoder!r}"
        )
