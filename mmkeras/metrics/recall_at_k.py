import keras
import numpy as np
from keras import ops

from mmkeras import _checks
from mmkeras.metrics import _python

# Queries scored at a time, so the similarity matrix never has to fit whole.
_CHUNK = 1024


@keras.saving.register_keras_serializable(package="mmkeras")
class RecallAtK(keras.metrics.Metric):
    """Recall@K of image-text retrieval over the whole evaluated set.

    Retrieval is over everything seen since the last reset, not within a
    batch: the metric keeps the embeddings (in python) and ranks in
    `result()`, as held-out recall@K is reported (e.g. 5k COCO images and
    their 25k captions). `y_pred` stacks each pair's embeddings, `(batch, 2,
    dim)` with the image at index 0 and the text at index 1; `y_true` holds
    an id `(batch,)` of each pair's image, so the captions of one image
    share an id and the image enters the gallery once.

    - `"image_to_text"`: each image queries all texts; a hit is any of its
      texts among the top `k`.
    - `"text_to_image"`: each text queries the images; a hit is its image
      among the top `k`.

    A query ranks below the candidates scoring strictly higher than its best
    match, so ties count in its favour and the value does not depend on the
    order of the data. Similarity is the dot product, of L2-normalised
    embeddings if `normalize` (cosine). The state is python, so it is exact
    under single-process strategies such as `MirroredStrategy` but is not
    gathered across workers; the ranking runs in `tf.py_function`, so
    compile with `jit_compile=False`.

    Args:
        k: how many retrieved items count.
        direction: `"image_to_text"` or `"text_to_image"`.
        normalize: whether to L2-normalise the embeddings first.
        name: the metric name, by default e.g. `"recall_at_5_text_to_image"`.
        dtype: the dtype of the result.

    Example:

    >>> recall = mmkeras.metrics.RecallAtK(k=1, direction="text_to_image")
    >>> embeddings = np.stack([np.eye(3), np.eye(3)], axis=1)
    >>> recall.update_state(np.arange(3), embeddings)
    >>> float(recall.result())
    1.0
    """

    def __init__(
        self,
        k=1,
        direction="image_to_text",
        normalize=True,
        name=None,
        dtype=None,
    ):
        _checks.positive_int("k", k)
        _checks.one_of(
            "direction", direction, ("image_to_text", "text_to_image")
        )
        super().__init__(name=name or f"recall_at_{k}_{direction}", dtype=dtype)
        self.k = k
        self.direction = direction
        self.normalize = normalize
        self._ids, self._images, self._texts = [], [], []
        # A variable so Keras tracks and resets the metric like any other.
        self.count = self.add_variable(
            (), "zeros", dtype="float64", name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "RecallAtK is a set metric: sample_weight must be None."
            )
        y_pred = ops.cast(y_pred, "float32")
        if len(y_pred.shape) != 3 or y_pred.shape[1] != 2:
            raise ValueError(
                "y_pred must stack image and text embeddings as (batch, 2, "
                f"dim). Received: y_pred with shape {tuple(y_pred.shape)}"
            )
        y_true = ops.reshape(ops.cast(y_true, "int64"), (-1,))
        added = _python.call(self._add, [y_true, y_pred], ())
        self.count.assign_add(added)

    def result(self):
        return ops.cast(_python.call(self._recall, [], ()), self.dtype)

    def reset_state(self):
        super().reset_state()
        for store in (self._ids, self._images, self._texts):
            store.clear()

    def get_config(self):
        return {
            **super().get_config(),
            "k": self.k,
            "direction": self.direction,
            "normalize": self.normalize,
        }

    def _add(self, ids, embeddings):
        if len(ids) != len(embeddings):
            raise ValueError(
                f"y_true has {len(ids)} ids but y_pred {len(embeddings)} pairs."
            )
        self._ids.append(ids)
        self._images.append(embeddings[:, 0].astype("float64"))
        self._texts.append(embeddings[:, 1].astype("float64"))
        return len(ids)

    def _recall(self):
        if not self._ids:
            return 0.0
        ids = np.concatenate(self._ids)
        texts = np.concatenate(self._texts)
        image_ids, first = np.unique(ids, return_index=True)
        images = np.concatenate(self._images)[first]
        if self.normalize:
            images, texts = _l2_normalize(images), _l2_normalize(texts)
        if self.direction == "text_to_image":
            queries, query_ids, gallery, gallery_ids = (
                texts,
                ids,
                images,
                image_ids,
            )
        else:
            queries, query_ids, gallery, gallery_ids = (
                images,
                image_ids,
                texts,
                ids,
            )
        hits = 0
        for start in range(0, len(queries), _CHUNK):
            chunk = slice(start, start + _CHUNK)
            scores = queries[chunk] @ gallery.T
            match = query_ids[chunk, None] == gallery_ids[None, :]
            best = np.max(np.where(match, scores, -np.inf), axis=1)
            better = np.sum(scores > best[:, None], axis=1)
            hits += int(np.sum(better < self.k))
        return hits / len(queries)


def _l2_normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
