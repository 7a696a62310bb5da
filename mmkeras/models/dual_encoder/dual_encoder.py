
import keras
import numpy as np
from keras import ops

from mmkeras import _checks
from mmkeras import losses
from mmkeras import metrics
from mmkeras.models import _contrastive
from mmkeras.models.dual_encoder import _pictures
from mmkeras.models.dual_encoder.dual_encoder_preprocessor import (
    DualEncoderPreprocessor,
)
from mmkeras.models.dual_encoder.dual_encoder_serving import DualEncoderServing
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused
from mmkeras.models.task import Task

_DIRECTIONS = ("image_to_text", "text_to_image")


@keras.saving.register_keras_serializable(package="mmkeras")
class DualEncoder(Task):
    """A CLIP-style contrastive image-text dual encoder.

    Each tower's `"pooled"` output goes through a linear projection (no
    bias) to a shared `projection_dim` space and is L2-normalised. Called on
    `{"image": (B, H, W, C), "token_ids": (B, L)}`, the model returns the
    `(B, B)` logits `exp(t) * cos(image_i, text_j)`, where the logit scale
    `exp(t)` is learned as its log `t`, starts at `1 / temperature` and is
    clipped to at most `max_logit_scale`, as in CLIP (Radford et al. 2021).

    Images are the float pixels an `ImageConverter` makes, never uint8.
    With a `DualEncoderPreprocessor`, `fit`, `evaluate`, `predict` and
    `evaluate_retrieval` take raw `{"image", "caption"}` pairs instead.

    `compile()` defaults to AdamW (no weight decay on the logit scale) and
    `mmkeras.losses.InfoNCE`, which ignores labels: `fit` takes a dataset of
    input dicts alone or of `(inputs, anything)`. Held-out recall@K over a
    whole set comes from `evaluate_retrieval`; `explain` draws how one
    image ranks texts and `draw_retrieval` how texts rank images.

    Under a `tf.distribute` strategy with several replicas, each replica
    scores its images against the texts of every replica (gathered with
    `mmkeras.losses.all_gather`), so InfoNCE's negatives span the global
    batch, as in CLIP: training, `evaluate` and `predict` then give what
    one device gives on the global batch.

    Args:
        image_encoder: an image encoder returning a dict with `"pooled"`
            (see `mmkeras.encoders`).
        text_encoder: a text encoder returning a dict with `"pooled"`.
        projection_dim: size of the shared embedding space.
        temperature: the initial softmax temperature, `1 / logit_scale`.
        learn_temperature: whether the logit scale is trained.
        max_logit_scale: the upper clip of the logit scale.
        preprocessor: optional `DualEncoderPreprocessor` (image
            converter and tokenizer with a `sequence_length`), saved with
            the model; with it `fit` takes raw pairs, and exports, `explain`
            and `draw_retrieval` take images and text strings.

    Example:

    >>> model = mmkeras.models.DualEncoder(
    ...     mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
    ...     mmkeras.encoders.TransformerTextEncoder.from_preset(
    ...         "tiny", vocabulary_size=100),
    ...     projection_dim=32)
    >>> inputs = {"image": np.zeros((4, 32, 32, 3), "float32"),
    ...           "token_ids": np.ones((4, 8), "int32")}
    >>> model(inputs).shape
    TensorShape([4, 4])
    >>> model.compile()
    >>> history = model.fit(inputs, epochs=1, verbose=0)
    """

    preprocessor_cls = DualEncoderPreprocessor
    serving_cls = DualEncoderServing

    def __init__(
        self,
        image_encoder,
        text_encoder,
        projection_dim=256,
        temperature=0.07,
        learn_temperature=True,
        max_logit_scale=100.0,
        preprocessor=None,
        **kwargs,
    ):
        super().__init__(preprocessor=preprocessor, **kwargs)
        _checks.positive_int("projection_dim", projection_dim)
        _contrastive.check_temperature(temperature, max_logit_scale)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.max_logit_scale = max_logit_scale
        # Created here, not in build(), so encode_* work before a full call.
        self.image_projection = keras.layers.Dense(
            projection_dim, use_bias=False, name="image_projection"
        )
        self.text_projection = keras.layers.Dense(
            projection_dim, use_bias=False, name="text_projection"
        )

    def build(self, input_shape):
        self._record_input_shapes(input_shape)
        for key, encoder, projection, dtype in (
            ("image", self.image_encoder, self.image_projection, "float32"),
            ("token_ids", self.text_encoder, self.text_projection, "int32"),
        ):
            outputs = self._build_encoder(encoder, input_shape[key], dtype)
            if not projection.built:
                projection.build(outputs["pooled"])
        self.log_logit_scale = _contrastive.add_log_logit_scale(
            self, self.temperature, self.max_logit_scale, self.learn_temperature
        )

    @property
    def logit_scale(self):
        """The current (clipped) logit scale `1 / temperature`."""
        return _contrastive.logit_scale(
            self.log_logit_scale, self.max_logit_scale
        )

    def call(self, inputs, training=None):
        images = self.encode_image(inputs["image"], training=training)
        texts = self.encode_text(inputs["token_ids"], training=training)
        # Under a strategy: every replica's texts, the global negatives.
        texts = losses.all_gather(texts)
        return self.logit_scale * ops.matmul(images, ops.transpose(texts))

    def encode_image(self, images, training=False):
        """L2-normalised image embeddings `(batch, projection_dim)` of
        converted pixels."""
        self._check_pixels(images)
        pooled = self.image_encoder(images, training=training)["pooled"]
        return _contrastive.normalize(self.image_projection(pooled))

    def encode_text(self, token_ids, training=False):
        """L2-normalised text embeddings `(batch, projection_dim)`."""
        pooled = self.text_encoder(token_ids, training=training)["pooled"]
        return _contrastive.normalize(self.text_projection(pooled))

    def score(self, images, token_ids):
        """Cosine similarities `(num_images, num_texts)`."""
        return ops.matmul(
            self.encode_image(images),
            ops.transpose(self.encode_text(token_ids)),
        )

    def retrieve(self, query_embeddings, candidate_embeddings, k=5):
        """The `k` best candidates of each query by dot product.

        Works both ways: pass image embeddings as queries and text ones as
        candidates, or the reverse.

        Returns:
            `(indices, scores)`, each `(num_queries, k)`, best first.
        """
        _checks.positive_int("k", k)
        count = candidate_embeddings.shape[0]
        if count is not None and k > count:
            raise ValueError(
                f"k must be at most the number of candidates ({count}). "
                f"Received: k={k}"
            )
        scores = ops.matmul(
            ops.convert_to_tensor(query_embeddings, "float32"),
            ops.transpose(
                ops.convert_to_tensor(candidate_embeddings, "float32")
            ),
        )
        scores, indices = ops.top_k(scores, k)
        return indices, scores

    def evaluate_retrieval(self, dataset, ks=(1, 5, 10), relevant=None):
        """Recall@K both ways over a whole held-out set.

        Every element of `dataset` (dicts, or `(dict, ...)` tuples) is one
        image-text pair: raw pairs when the model has a preprocessor,
        model inputs otherwise. The dicts may carry `"image_id"` so several
        captions of one image count as one gallery image.

        Args:
            dataset: the pairs, batched.
            ks: the K of recall@K.
            relevant: optional boolean `(pairs, pairs)` array in dataset
                order, `relevant[i, j]` when text j is true of image i.
                Adds `true_at_1_*`, the share of queries whose top hit is
                relevant: when captions fit many images, recall against
                the one paired item is capped far below 1 and this is not.

        Returns:
            A dict such as `{"recall_at_1_image_to_text": 0.8, ...}`.
        """
        _checks.positive_ints("ks", ks)
        ids, pairs = [], []
        for batch in dataset:
            raw = keras.utils.unpack_x_y_sample_weight(batch)[0]
            inputs = raw
            if self.preprocessor is not None:
                inputs = keras.utils.unpack_x_y_sample_weight(
                    self.preprocessor(raw)
                )[0]
            images = self.encode_image(inputs["image"])
            texts = self.encode_text(inputs["token_ids"])
            pairs.append(ops.convert_to_numpy(ops.stack([images, texts], 1)))
            if "image_id" in raw:
                ids.append(ops.convert_to_numpy(raw["image_id"]))
        pairs = np.concatenate(pairs)
        ids = np.concatenate(ids) if ids else np.arange(len(pairs))
        results = {}
        for direction in _DIRECTIONS:
            for k in ks:
                recall = metrics.RecallAtK(k, direction, normalize=False)
                recall.update_state(ids, pairs)
                results[recall.name] = float(recall.result())
        if relevant is not None:
            results |= _true_at_1(pairs[:, 0] @ pairs[:, 1].T, relevant)
        return results

    def explain(self, image, path, question=None, texts=()):
        """Ranks `texts` for `image` and draws the ranking into the PNG
        `path`: the image, then the texts best first with their cosine
        similarities.

        Args:
            image: `(height, width, 3)` pixels, uint8 or floats in [0, 1];
                converted by the preprocessor's `ImageConverter`.
            path: the PNG to write (atomically).
            texts: the candidate texts (`mmkeras explain --text`); none
                is a `RequestError`.

        Returns:
            The text the model ranks first.
        """
        refuse_unused("a dual encoder", question=question)
        texts = _check_texts("texts", texts)
        self._check_tokenizer("explain")
        pixels = self.preprocessor.convert_images(np.asarray(image)[None])
        scores = ops.convert_to_numpy(
            self.score(pixels, self.preprocessor.tokenize(texts))
        )[0]
        order = np.argsort(-scores, kind="stable")
        _pictures.text_ranking(
            ops.convert_to_numpy(pixels[0]),
            self.preprocessor.image_converter,
            texts,
            order,
            scores,
            path,
        )
        return texts[order[0]]

    def draw_retrieval(self, texts, images, path, k=4):
        """Ranks `images` for each of `texts` and writes one row per text
        to the PNG `path`: the text, then its `k` best images with their
        cosine similarities.

        Args:
            texts: the query strings.
            images: the gallery, `(height, width, 3)` pixels each, uint8
                or floats in [0, 1] (any sizes: each is converted by the
                preprocessor's `ImageConverter`).
            path: the PNG to write (atomically).
            k: images shown per text, at most `len(images)`.

        Returns:
            `(indices, scores)`, each `(len(texts), k)`, best first.

        Example:

        >>> indices, scores = model.draw_retrieval(
        ...     ["a red circle"], [scene_1, scene_2, scene_3], "ranked.png",
        ...     k=2)
        """
        texts = _check_texts("texts", texts)
        self._check_tokenizer("draw_retrieval")
        convert = self.preprocessor.convert_images
        pixels = ops.concatenate(
            [convert(np.asarray(image)[None]) for image in images]
        )
        indices, scores = self.retrieve(
            self.encode_text(self.preprocessor.tokenize(texts)),
            self.encode_image(pixels),
            k,
        )
        indices = ops.convert_to_numpy(indices)
        scores = ops.convert_to_numpy(scores)
        _pictures.image_ranking(
            texts,
            ops.convert_to_numpy(pixels),
            self.preprocessor.image_converter,
            indices,
            scores,
            path,
        )
        return indices, scores

    def draw_similarity(self, images, texts, path, matches=None):
        """Writes the cosine of every image (rows) with every text
        (columns) to the PNG `path`; where `matches[i]` is image `i`'s
        right text (an index into `texts`), that cell is green and the
        best wrong text's red. Returns the `(images, texts)` cosines.

        Example:

        >>> cosines = model.draw_similarity(
        ...     [cat_photo, rocket_photo], ["cat face", "rocket"],
        ...     "grid.png", matches=[0, 1])
        """
        return _pictures.draw_similarity(self, images, texts, path, matches)

    def _check_tokenizer(self, method):
        if self.tokenizer is None:
            received = (
                "preprocessor=None"
                if self.preprocessor is None
                else "a preprocessor without a tokenizer"
            )
            raise ValueError(
                f"DualEncoder.{method} takes images and text strings, so the "
                "model needs a preprocessor with a tokenizer: build it with "
                "preprocessor=DualEncoderPreprocessor(converter, tokenizer). "
                f"Received: {received}"
            )

    def default_compile_arguments(self):
        """AdamW (no weight decay on the temperature) and InfoNCE; no
        metrics (recall@K needs the whole set, see `evaluate_retrieval`)."""
        optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01)
        optimizer.exclude_from_weight_decay(var_names=["log_logit_scale"])
        return {
            "optimizer": optimizer,
            "loss": losses.InfoNCE(),
            "metrics": None,
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        # InfoNCE ignores labels; datasets of inputs alone give y=None.
        if y is None and y_pred is not None:
            y = ops.zeros(ops.shape(y_pred)[:1])
        return super().compute_loss(x, y, y_pred, sample_weight, training)

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
                "projection_dim": self.projection_dim,
                "temperature": self.temperature,
                "learn_temperature": self.learn_temperature,
                "max_logit_scale": self.max_logit_scale,
            }
        )
        return config


def _true_at_1(scores, relevant):
    """The share of queries, each way, whose top-scored hit is relevant."""
    relevant = np.asarray(relevant, bool)
    if relevant.shape != scores.shape:
        raise ValueError(
            f"relevant must be (pairs, pairs) = {scores.shape}, one row per "
            f"image and one column per text of the dataset, but has shape "
            f"{relevant.shape}."
        )
    rows = np.arange(len(scores))
    return {
        "true_at_1_image_to_text": float(
            relevant[rows, scores.argmax(1)].mean()
        ),
        "true_at_1_text_to_image": float(
            relevant[scores.argmax(0), rows].mean()
        ),
    }


def _check_texts(name, texts):
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        # A request error: `mmkeras explain` makes it a usage error.
        raise RequestError(
            f"a dual encoder ranks texts: give {name}=[...] (the command's "
            f"--text, repeatable). Received: no {name}"
        )
    if not all(isinstance(text, str) for text in texts):
        raise ValueError(
            f"{name} must be a list of strings (the texts to rank). "
            f"Received: {name}={texts!r}"
        )
    return texts
