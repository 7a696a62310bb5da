
import keras
from keras import ops

from mmkeras import _checks
from mmkeras import losses
from mmkeras.models import _contrastive
from mmkeras.models.task import Task
from mmkeras.models.vilt.vilt_backbone import ViLTBackbone
from mmkeras.models.vilt.vilt_backbone import check_tokenizer
from mmkeras.models.vilt.vilt_preprocessor import IGNORED
from mmkeras.models.vilt.vilt_preprocessor import ViLTPreprocessor
from mmkeras.models.vilt.vilt_serving import ViLTServing

# ITM logits of a row with no other caption in the batch to contrast: a
# confident "no match" constant, so the row adds no loss and no gradient.
_NO_NEGATIVE = (20.0, -20.0)


@keras.saving.register_keras_serializable(package="mmkeras")
class ViLTPretrainer(Task):
    """ViLT pretraining: image-text matching (ITM), masked language
    modelling (MLM) and image-text contrast (ITC) on one `ViLTBackbone`.

    Called on `ViLTPreprocessor` outputs (`"image"`, `"token_ids"`,
    `"masked_ids"`), it returns a dict of three logits:

    - `"itc"` `(batch, batch)`: `logit_scale * cos(image_i, text_j)`
      between the image-only and the text-only passes through the same
      stack (`[CLS]` output before the pooler, as ALBEF's, a linear
      projection, L2 norm);
    - `"itm"` `(batch, 2, 2)`: match/no-match logits of each pair and of
      the image with a hard negative caption, drawn (training) in
      proportion to the softmax of the ITC similarities within the
      batch, never the pair's own caption nor a copy of it (ALBEF); at
      inference the most similar other caption. For the first
      `hard_negatives_after` optimizer steps the negative is drawn
      uniformly from the other captions instead (easy negatives while
      the ITC similarities mean little);
    - `"mlm"` `(batch, T, vocabulary_size)`: the word logits of the
      masked caption seen with the image, decoded with the word
      embeddings (`tie_weights=True`) or a matrix of its own.

    `compile()` defaults to AdamW and the sum ITM + MLM + ITC: sparse
    cross-entropy, `MaskedSparseCategoricalCrossentropy(pad_id=-100)` and
    `InfoNCE`; Keras reports each as `itm_loss`, `mlm_loss` and
    `itc_loss`. `fit` takes raw `{"image", "caption"}` pairs through the
    preprocessor. `match_scores` gives the ITM probability of pairs.

    Under a `tf.distribute` strategy the captions of every replica are
    gathered (`mmkeras.losses.all_gather`): `"itc"` is then each
    replica's images against the global batch's captions, `(local,
    global)`, as `InfoNCE` takes it, and the hard negatives are drawn from
    the global batch too. The draws are per replica, so a mirrored run is
    not the same as one device's.

    Args:
        backbone: a `ViLTBackbone`.
        projection_dim: size of the ITC embedding space.
        temperature: the initial ITC temperature (learned).
        max_logit_scale: the upper clip of the ITC logit scale.
        tie_weights: decode MLM with the word embeddings.
        seed: the seed of the hard-negative draws.
        hard_negatives_after: optimizer steps of uniform negatives before
            the hard ones (0: hard from the start).
        preprocessor: optional `ViLTPreprocessor`.

    Example:

    >>> backbone = mmkeras.models.vilt.ViLTBackbone(
    ...     vocabulary_size=100, sequence_length=8, patch_size=8,
    ...     hidden_dim=32, num_layers=2, num_heads=4, intermediate_dim=64)
    >>> model = mmkeras.models.ViLTPretrainer(backbone, projection_dim=16)
    >>> outputs = model({"image": np.zeros((2, 32, 32, 3), "float32"),
    ...                  "token_ids": np.ones((2, 8), "int32"),
    ...                  "masked_ids": np.ones((2, 8), "int32")})
    >>> outputs["itm"].shape
    TensorShape([2, 2, 2])
    """

    preprocessor_cls = ViLTPreprocessor
    serving_cls = ViLTServing
    # The ITM classes, in logit order: what the exported `match` returns.
    match_labels = ("no match", "match")

    def __init__(
        self,
        backbone,
        projection_dim=64,
        temperature=0.07,
        max_logit_scale=100.0,
        tie_weights=True,
        seed=0,
        hard_negatives_after=0,
        preprocessor=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        if not isinstance(backbone, ViLTBackbone):
            raise TypeError(
                "backbone must be a ViLTBackbone. Received: "
                f"backbone={backbone!r}"
            )
        _checks.positive_int("projection_dim", projection_dim)
        _checks.integer("seed", seed)
        _checks.non_negative_int("hard_negatives_after", hard_negatives_after)
        _contrastive.check_temperature(temperature, max_logit_scale)
        check_tokenizer(preprocessor, backbone)
        self.backbone = backbone
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.max_logit_scale = max_logit_scale
        self.tie_weights = tie_weights
        self.seed = seed
        self.hard_negatives_after = hard_negatives_after
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, inputs_shape):
        self._record_input_shapes(inputs_shape)
        image_shape = tuple(inputs_shape["image"])
        ids_shape = tuple(inputs_shape["token_ids"])
        if not self.backbone.built:
            self.backbone.build(image_shape, ids_shape)
        width = self.backbone.hidden_dim
        pooled = (None, width)
        self.image_projection = self._dense(
            "image_projection", self.projection_dim, pooled, use_bias=False
        )
        self.text_projection = self._dense(
            "text_projection", self.projection_dim, pooled, use_bias=False
        )
        self.itm_head = self._dense("itm_head", 2, pooled, dtype="float32")
        tokens = (None, None, width)
        self.mlm_transform = self._dense(
            "mlm_transform", width, tokens, activation="gelu"
        )
        self.mlm_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, dtype=self.dtype_policy, name="mlm_norm"
        )
        self.mlm_norm.build(tokens)
        vocabulary = self.backbone.vocabulary_size
        self.mlm_decoder = None
        if not self.tie_weights:
            self.mlm_decoder = self._dense(
                "mlm_decoder", vocabulary, tokens, use_bias=False
            )
        self.mlm_bias = self.add_weight(
            shape=(vocabulary,),
            initializer="zeros",
            name="mlm_bias",
            # Added to float32 logits: never cast to a float16 policy.
            autocast=False,
        )
        self.log_logit_scale = _contrastive.add_log_logit_scale(
            self, self.temperature, self.max_logit_scale
        )
        self.built = True

    def _dense(self, name, units, shape, dtype=None, **options):
        layer = keras.layers.Dense(
            units, dtype=dtype or self.dtype_policy, name=name, **options
        )
        layer.build(shape)
        return layer

    @property
    def text_encoder(self):
        """The backbone, which embeds the text: `ClassifierServing` reads
        the token id range from its `vocabulary_size`."""
        return self.backbone

    @property
    def logit_scale(self):
        """The ITC logit scale `1 / temperature`, clipped."""
        return _contrastive.logit_scale(
            self.log_logit_scale, self.max_logit_scale
        )

    def encode_image(self, images, training=False):
        """L2-normalised ITC embeddings of images alone."""
        cls = self.backbone(image=images, training=training)["cls"]
        return _contrastive.normalize(self.image_projection(cls))

    def encode_text(self, token_ids, training=False):
        """L2-normalised ITC embeddings of captions alone."""
        cls = self.backbone(token_ids=token_ids, training=training)["cls"]
        return _contrastive.normalize(self.text_projection(cls))

    def itm_logits(self, images, token_ids, training=False):
        """`(batch, 2)` float32 logits: [no match, match] of each pair."""
        self._check_pixels(images)
        pooled = self.backbone(images, token_ids, training=training)
        return self.itm_head(pooled["pooled"])

    def match_scores(self, images, token_ids):
        """The probability that each image matches its caption, `(batch,)`."""
        return ops.softmax(self.itm_logits(images, token_ids))[:, 1]

    def mlm_logits(self, images, masked_ids, training=False):
        """`(batch, T, vocabulary_size)` float32 word logits of the masked
        caption seen with the image."""
        tokens = self.backbone(images, masked_ids, training=training)
        return self._words(tokens["text_tokens"])

    def _words(self, text_tokens):
        hidden = self.mlm_norm(self.mlm_transform(text_tokens))
        hidden = ops.cast(hidden, "float32")
        if self.mlm_decoder is None:
            words = ops.cast(self.backbone.word_embeddings, "float32")
            logits = ops.matmul(hidden, ops.transpose(words))
        else:
            logits = ops.cast(self.mlm_decoder(hidden), "float32")
        return logits + self.mlm_bias

    def hard_negatives(
        self, token_ids, similarities, training=False, candidate_ids=None
    ):
        """`(indices, found)`: for each row of `similarities` (images by
        candidate captions, `candidate_ids`, default `token_ids`), the
        caption drawn as the hard negative of the row's pair (in
        proportion to the row's softmax when `training`, else the most
        similar), and whether any candidate differs from the row's own
        caption `token_ids[i]`."""
        ids = ops.cast(token_ids, "int32")
        candidates = ids if candidate_ids is None else candidate_ids
        candidates = ops.cast(candidates, "int32")
        same = ops.all(
            ops.equal(ids[:, None, :], candidates[None, :, :]), axis=-1
        )
        scores = ops.where(same, -1e9, ops.cast(similarities, "float32"))
        found = ops.logical_not(ops.all(same, axis=-1))
        if training:
            indices = keras.random.categorical(
                scores, 1, seed=self.seed_generator
            )[:, 0]
        else:
            indices = ops.argmax(scores, axis=-1)
        return ops.cast(indices, "int32"), found

    def call(self, inputs, training=None):
        images, ids = inputs["image"], inputs["token_ids"]
        self._check_pixels(images)
        # Under a strategy every replica's captions are the candidates: the
        # ITC negatives (InfoNCE's (local, global) logits) and the ITM
        # hard negatives span the global batch.
        candidates = losses.all_gather(ops.cast(ids, "int32"))
        itc = self.logit_scale * ops.matmul(
            self.encode_image(images, training),
            ops.transpose(losses.all_gather(self.encode_text(ids, training))),
        )
        indices, found = self.hard_negatives(
            ids, self._negative_scores(itc, training), training, candidates
        )
        # One joint pass over the pairs, the hard negatives and the masked
        # captions: a third of the layer calls to trace and run.
        count = ops.shape(ids)[0]
        joint = self.backbone(
            ops.concatenate([images] * 3, axis=0),
            ops.concatenate(
                [
                    ops.cast(ids, "int32"),
                    ops.take(candidates, indices, axis=0),
                    ops.cast(inputs["masked_ids"], "int32"),
                ],
                axis=0,
            ),
            training=training,
        )
        matching = self.itm_head(joint["pooled"][: 2 * count])
        negative = ops.where(
            found[:, None],
            matching[count:],
            ops.convert_to_tensor(_NO_NEGATIVE),
        )
        itm = ops.stack([matching[:count], negative], axis=1)
        mlm = self._words(joint["text_tokens"][2 * count :])
        return {"itm": itm, "mlm": mlm, "itc": itc}

    def _negative_scores(self, itc, training):
        """The ITC logits the negatives are drawn from: zeros (a uniform
        draw) in the first `hard_negatives_after` optimizer steps."""
        itc = ops.stop_gradient(itc)
        if (
            not training
            or not self.hard_negatives_after
            or self.optimizer is None
        ):
            return itc
        hard = ops.greater_equal(
            self.optimizer.iterations, self.hard_negatives_after
        )
        return itc * ops.cast(hard, itc.dtype)

    def default_compile_arguments(self):
        """AdamW(1e-3, no decay on the temperature) and the ITM, MLM and
        ITC losses, summed; ITM accuracy as the metric."""
        optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01)
        optimizer.exclude_from_weight_decay(var_names=["log_logit_scale"])
        return {
            "optimizer": optimizer,
            "loss": {
                "itm": keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True
                ),
                "mlm": losses.MaskedSparseCategoricalCrossentropy(
                    from_logits=True, pad_id=IGNORED
                ),
                "itc": losses.InfoNCE(),
            },
            "metrics": {
                "itm": [keras.metrics.SparseCategoricalAccuracy("accuracy")]
            },
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "projection_dim": self.projection_dim,
                "temperature": self.temperature,
                "max_logit_scale": self.max_logit_scale,
                "tie_weights": self.tie_weights,
                "seed": self.seed,
                "hard_negatives_after": self.hard_negatives_after,
            }
        )
        return config
