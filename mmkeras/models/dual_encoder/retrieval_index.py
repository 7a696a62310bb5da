"""`RetrievalIndex`: the embeddings of a gallery of texts or images,
searched with queries of the other side, saved as one checksummed `.npz`
file, shipped by zoo entries (`index.npz`, `RetrievalIndex.from_preset`)
and exported into a SavedModel's `retrieve` signature."""

import hashlib
import os
import zipfile

import numpy as np
from keras import ops

from mmkeras import _checks
from mmkeras import _files
from mmkeras import data
from mmkeras.models.dual_encoder.dual_encoder import DualEncoder
from mmkeras.models.serving import RequestError
from mmkeras.zoo import cache
from mmkeras.zoo import loading
from mmkeras.zoo import registry

SIDES = ("text", "image")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
# The file a zoo entry ships its index in.
PRESET_FILE = "index.npz"
# Hits per golden query recorded in an entry's golden.npz.
GOLDEN_K = 5
# 2: the fingerprint covers the towers, not only the projections.
_FORMAT = 2
_FIELDS = ("format", "keys", "embeddings", "side", "fingerprint", "checksum")


class RetrievalIndex:
    """Keys (captions, or image file names) with the L2-normalised
    embeddings a `DualEncoder` gave them, on one `side` ("text" or
    "image"). `search` ranks the keys for queries of the other side: an
    image index answers texts, a text index answers images.

    The index records the `fingerprint` of the model that embedded it (a
    hash of its towers, projections and vocabulary), so searching or
    exporting it with another model, or the same one trained further, is
    refused rather than answered with meaningless cosines.

    A zoo entry may ship its index (`index.npz`):
    `RetrievalIndex.from_preset(name)` loads it with the entry's model.

    Args:
        keys: the names returned by `search`, unique strings, at least one.
        embeddings: `(len(keys), projection_dim)` floats; normalised here.
        side: `"text"` or `"image"`: what the keys are.
        fingerprint: `fingerprint(model)` of the model that embedded them.
        model: the `DualEncoder` that embeds queries (`from_texts`,
            `from_images` and `load(path, model)` attach it).

    Example:

    >>> index = RetrievalIndex.from_texts(model, ["a cat", "a cup"])
    >>> keys, scores = index.search(photo, k=1)  # (1, 1) each
    >>> index.save("captions.npz")
    >>> RetrievalIndex.load("captions.npz", model).search(photo, k=2)
    >>> emoji = RetrievalIndex.from_preset("dual_encoder_lite0_minilm.emoji")
    >>> emoji.search(photo, k=5)  # every emoji's caption, best first
    """

    def __init__(self, keys, embeddings, side, fingerprint, model=None):
        _checks.one_of("side", side, SIDES)
        keys = list(keys)
        if not keys:
            raise ValueError(
                f"a retrieval index needs at least one key: there is "
                f"nothing to search. Received: 0 {side}s"
            )
        for i, key in enumerate(keys):
            if not isinstance(key, str):
                raise TypeError(
                    f"keys must be strings. Received: keys[{i}]={key!r}"
                )
        duplicate = _first_duplicate(keys)
        if duplicate is not None:
            raise ValueError(
                f"keys must be unique, or a hit could not say which entry "
                f"it is. Received: {duplicate!r} twice"
            )
        embeddings = np.asarray(embeddings, "float32")
        if embeddings.ndim != 2 or len(embeddings) != len(keys):
            raise ValueError(
                f"embeddings must be (keys, projection_dim) = "
                f"({len(keys)}, D). Received: shape {embeddings.shape}"
            )
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        bad = ~(np.isfinite(norms[:, 0]) & (norms[:, 0] > 0))
        if bad.any():
            raise ValueError(
                f"embeddings must be finite and non-zero, or the key's "
                f"cosines mean nothing; {int(bad.sum())} are not, the "
                f"first of key {keys[int(np.argmax(bad))]!r}"
            )
        self.keys = np.array(keys, dtype=str)
        self.embeddings = embeddings / norms
        self.side = side
        self.fingerprint = fingerprint
        # (path, reason) of the files `from_images` skipped.
        self.skipped = []
        self.model = None
        if model is not None:
            self.attach(model)

    @property
    def projection_dim(self):
        return self.embeddings.shape[1]

    @property
    def query_side(self):
        """The side of the queries: `"image"` for a text index."""
        return SIDES[1 - SIDES.index(self.side)]

    def __len__(self):
        return len(self.keys)

    def __repr__(self):
        return (
            f"<RetrievalIndex of {len(self)} {self.side}s, "
            f"projection_dim={self.projection_dim}>"
        )

    @classmethod
    def from_texts(cls, model, texts, batch_size=256):
        """The index of `texts` (unique strings; they are the keys),
        embedded by `model` in batches of `batch_size`."""
        _checks.positive_int("batch_size", batch_size)
        _check_model(model)
        texts = [texts] if isinstance(texts, str) else list(texts)
        _check_texts("texts", texts)
        parts = [
            _text_embeddings(model, texts[start : start + batch_size])
            for start in range(0, len(texts), batch_size)
        ]
        embeddings = _stacked(parts, model)
        return cls(texts, embeddings, "text", fingerprint(model), model)

    @classmethod
    def from_images(
        cls, model, images, keys=None, batch_size=32, on_error="raise"
    ):
        """The index of `images`: image file paths (keys: their file
        names) or `(height, width, 3)` pixel arrays (give `keys`),
        embedded by `model` in batches of `batch_size`.

        A file that is missing or does not decode raises a `ValueError`
        naming it, or with `on_error="skip"` is left out and listed in
        the index's `skipped` (`[(path, reason)]`).
        """
        _checks.positive_int("batch_size", batch_size)
        _checks.one_of("on_error", on_error, ("raise", "skip"))
        _check_model(model)
        images = list(images)
        if keys is None:
            if not all(isinstance(i, (str, os.PathLike)) for i in images):
                raise ValueError(
                    "keys are needed for pixel arrays (file paths name "
                    "themselves). Received: keys=None"
                )
            keys = [os.path.basename(os.fspath(path)) for path in images]
        keys = list(keys)
        if len(keys) != len(images):
            raise ValueError(
                f"give one key per image. Received: {len(keys)} keys for "
                f"{len(images)} images"
            )
        kept, pixels, skipped, parts = [], [], [], []
        for key, image in zip(keys, images, strict=True):
            try:
                pixels.append(_pixels(model, image))
            except (OSError, ValueError) as error:
                if on_error == "raise":
                    raise
                skipped.append((os.fspath(image), str(error)))
                continue
            kept.append(key)
            if len(pixels) == batch_size:
                parts.append(_image_embeddings(model, pixels))
                pixels = []
        if pixels:
            parts.append(_image_embeddings(model, pixels))
        if not kept and skipped:
            raise ValueError(
                f"none of the {len(skipped)} images could be read; the "
                f"first: {skipped[0][1]}"
            )
        index = cls(
            kept, _stacked(parts, model), "image", fingerprint(model), model
        )
        index.skipped = skipped
        return index

    @classmethod
    def from_preset(cls, name, model=None):
        """The index the zoo entry `name` ships (`index.npz`, verified
        against the manifest's sha256), searched with `model`: by default
        the entry's own (`mmkeras.zoo.load(name)`); a model given must be
        the one that built the index (`check_model`).

        Example:

        >>> index = RetrievalIndex.from_preset(
        ...     "dual_encoder_lite0_minilm.emoji")
        >>> keys, scores = index.search(photo, k=5)
        >>> index.model  # the entry's DualEncoder, which embeds queries
        """
        manifest = registry.info(name)
        if PRESET_FILE not in [file["name"] for file in manifest["files"]]:
            raise ValueError(
                f"the zoo entry {name!r} ships no retrieval index (no "
                f"{PRESET_FILE}); the entries with one: "
                f"{', '.join(preset_names()) or 'none'}. Build one with "
                "RetrievalIndex.from_texts(model, texts) or from_images"
            )
        if model is None:
            model = loading.load(name)
        # This entry's files only: `load` verified the towers it requires.
        files = cache.resolve(manifest, registry.entry_dir(name))
        return cls.load(files[PRESET_FILE], model)

    def attach(self, model):
        """Makes `model` embed the queries; it must be the model that
        embedded the index (`check_model`)."""
        self.check_model(model)
        self.model = model

    def check_model(self, model):
        """Raises unless `model` is a DualEncoder that embedded the index
        (the same projection size and fingerprint)."""
        _check_model(model)
        if model.projection_dim != self.projection_dim:
            raise ValueError(
                f"the index holds {self.projection_dim}-dimensional "
                f"embeddings but the model projects to "
                f"{model.projection_dim}: build the index with this model "
                f"(RetrievalIndex.from_{self.side}s)"
            )
        actual = fingerprint(model)
        if actual != self.fingerprint:
            raise ValueError(
                f"the index was built by another model (fingerprint "
                f"{self.fingerprint[:12]}, this model's {actual[:12]}), "
                f"so their cosines mean nothing: build the index again "
                f"with this model (RetrievalIndex.from_{self.side}s)"
            )

    def search(self, queries, k=5):
        """The `k` best keys of each query, best first.

        Args:
            queries: for an image index, texts (a string or a list); for
                a text index, images: a `(height, width, 3)` array, a
                batch `(n, height, width, 3)` or a list of arrays of any
                sizes (uint8, or floats in [0, 1]).
            k: hits per query, at most `len(self)`.

        Returns:
            `(keys, scores)`: strings and cosines, each `(queries, k)`.
        """
        self._check_attached()
        side, queries = _query_side(queries)
        if not queries:
            raise ValueError(
                f"give at least one {self.query_side} query. Received: none"
            )
        if side != self.query_side:
            raise ValueError(
                f"this index holds {self.side}s, so it answers "
                f"{self.query_side} queries; received {len(queries)} "
                f"{side} queries. Search an index of "
                f"{self.query_side}s (RetrievalIndex.from_"
                f"{self.query_side}s) with them"
            )
        if side == "text":
            _check_texts("queries", queries)
            embeddings = _text_embeddings(self.model, queries)
        else:
            pixels = [_pixels(self.model, query) for query in queries]
            embeddings = _image_embeddings(self.model, pixels)
        return self.search_embeddings(embeddings, k)

    def _check_attached(self):
        if self.model is None:
            raise ValueError(
                "the index has no model to embed the queries: load it with "
                "RetrievalIndex.load(path, model) or call index.attach(model)"
            )

    def search_embeddings(self, embeddings, k=5):
        """`search` for query embeddings `(queries, projection_dim)` of
        the other side (`DualEncoder.encode_text` / `encode_image`)."""
        _checks.positive_int("k", k)
        if k > len(self):
            raise ValueError(
                f"k must be at most the index's size ({len(self)} "
                f"{self.side}s). Received: k={k}"
            )
        embeddings = np.asarray(embeddings, "float32")
        if embeddings.ndim != 2 or embeddings.shape[1] != self.projection_dim:
            raise ValueError(
                f"query embeddings must be (queries, {self.projection_dim})."
                f" Received: shape {embeddings.shape}"
            )
        scores = embeddings @ self.embeddings.T
        # Stable: equal scores keep the index's order, as tf.math.top_k.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return self.keys[order], np.take_along_axis(scores, order, 1)

    def save(self, path):
        """Writes the index to the `.npz` file `path` (atomically,
        compressed: the keys are stored as fixed-width UTF-32)."""
        arrays = {
            "format": np.array(_FORMAT),
            "keys": self.keys,
            "embeddings": self.embeddings,
            "side": np.array(self.side),
            "fingerprint": np.array(self.fingerprint),
        }
        arrays["checksum"] = np.array(_checksum(arrays))
        with _files.atomic_path(path, ".npz") as temporary:
            with open(temporary, "wb") as file:
                np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path, model=None):
        """The index saved at `path`, its checksum checked; `model` (the
        one that built it) embeds the queries of `search`."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No retrieval index at {path!r}: give a .npz file written "
                "by RetrievalIndex.save"
            )
        arrays = _read(path)
        expected, actual = str(arrays["checksum"]), _checksum(arrays)
        if expected != actual:
            raise ValueError(
                f"{path} is damaged: its checksum is {actual}, expected "
                f"{expected}; build and save the index again"
            )
        return cls(
            arrays["keys"].tolist(),
            arrays["embeddings"],
            str(arrays["side"]),
            str(arrays["fingerprint"]),
            model,
        )


def fingerprint(model):
    """A hash of what embeds images and texts: the weights of both towers
    and projections, and the tokenizer's vocabulary. Equal for the same
    trained model (saved, loaded, exported); different after training,
    with other tower weights (a locked tower unfrozen or replaced), or
    with another vocabulary."""
    digest = hashlib.sha256()
    for layer in (
        model.image_encoder,
        model.image_projection,
        model.text_encoder,
        model.text_projection,
    ):
        for weight in layer.weights:
            value = ops.convert_to_numpy(weight)
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(value.tobytes())
    vocabulary = getattr(model.tokenizer, "vocabulary", None)
    if vocabulary is not None:
        digest.update("\n".join(map(str, vocabulary)).encode())
    return digest.hexdigest()


def preset_names():
    """The zoo entries that ship a retrieval index, for `from_preset`."""
    manifests, _ = registry.list_entries()
    return [
        name
        for name, manifest in manifests.items()
        if any(file["name"] == PRESET_FILE for file in manifest["files"])
    ]


def golden_arrays(index, inputs, k=GOLDEN_K):
    """The top-`k` hits of the golden inputs (model inputs: `"image"`
    pixels for a text index, `"token_ids"` for an image index) over
    `index`, as an entry's `golden.npz` records them beside the model's
    outputs: `retrieval/keys` and `retrieval/scores`."""
    index._check_attached()
    model = index.model
    if index.query_side == "image":
        queries = model.encode_image(inputs["image"])
    else:
        queries = model.encode_text(inputs["token_ids"])
    keys, scores = index.search_embeddings(
        ops.convert_to_numpy(queries), min(k, len(index))
    )
    return {"retrieval/keys": keys, "retrieval/scores": scores}


def image_files(directory):
    """The image files (by extension) directly in `directory`, sorted;
    a `RequestError` when it holds none."""
    names = sorted(os.listdir(directory))
    files = [
        os.path.join(directory, name)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(directory, name))
    ]
    if not files:
        held = f"{len(names)} other files" if names else "nothing"
        raise RequestError(
            f"{directory} holds no image files ({held}); give a folder of "
            f"{', '.join(IMAGE_EXTENSIONS)} files"
        )
    return files


def read_texts(path):
    """The non-empty lines of the UTF-8 file `path`, stripped, each once
    in file order; a `RequestError` when there are none."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.strip() for line in file]
    except UnicodeDecodeError as error:
        raise RequestError(
            f"{path} is not UTF-8 text ({error.reason} at byte "
            f"{error.start}): save the texts as UTF-8, one per line"
        ) from None
    texts = list(dict.fromkeys(line for line in lines if line))
    if not texts:
        raise RequestError(
            f"{path} holds no texts: give one candidate text per line"
        )
    return texts


def emoji_texts():
    """The canonical caption of every emoji concept in the shipped corpus
    (`mmkeras.data.emoji_caption`), once each, in the corpus' order: the
    keys of the emoji entry's shipped index, and the candidate texts of
    `mmkeras retrieve --image` for a model that ships no index."""
    records = data.emoji_records()
    return list(dict.fromkeys(data.emoji_caption(r) for r in records))


def _check_model(model):
    if not isinstance(model, DualEncoder):
        raise TypeError(
            "a retrieval index is built and searched with a DualEncoder. "
            f"Received: a {type(model).__name__}"
        )
    if model.tokenizer is None or not model.built:
        raise ValueError(
            "a retrieval index needs a built DualEncoder with a "
            "preprocessor and tokenizer, to embed images and text strings"
        )


def _check_texts(name, texts):
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"{name} must be strings. Received: {name}[{i}]={text!r}"
            )
        # An empty text's embedding is the padding's: nothing to rank by.
        if not text.strip():
            raise ValueError(
                f"{name}[{i}] is empty: it says nothing to rank by; leave "
                f"it out. Received: {text!r}"
            )


def _text_embeddings(model, texts):
    ids = model.preprocessor.tokenize(texts)
    return ops.convert_to_numpy(model.encode_text(ids))


def _pixels(model, image):
    """One image (a file path or pixels) as the model's converted pixels."""
    if isinstance(image, (str, os.PathLike)):
        image = data.load_image(os.fspath(image))
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"an image must be (height, width, 3) pixels. Received: shape "
            f"{image.shape}"
        )
    return model.preprocessor.convert_images(image[None])


def _image_embeddings(model, pixels):
    return ops.convert_to_numpy(model.encode_image(ops.concatenate(pixels)))


def _stacked(parts, model):
    if not parts:
        return np.zeros((0, model.projection_dim), "float32")
    return np.concatenate(parts)


def _query_side(queries):
    """`("text", [str])` or `("image", [array])`."""
    if isinstance(queries, str):
        return "text", [queries]
    if isinstance(queries, np.ndarray) and queries.dtype.kind in "uif":
        return "image", list(queries) if queries.ndim == 4 else [queries]
    queries = list(queries)
    if all(isinstance(query, str) for query in queries):
        return "text", queries
    return "image", queries


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ValueError(
            f"{path} is not a retrieval index (a .npz file written by "
            f"RetrievalIndex.save): {error}"
        ) from None
    missing = [field for field in _FIELDS if field not in arrays]
    if missing:
        raise ValueError(
            f"{path} is not a retrieval index: it lacks {', '.join(missing)}"
            " (RetrievalIndex.save writes them)"
        )
    if int(arrays["format"]) != _FORMAT:
        raise ValueError(
            f"{path} is a retrieval index of format {int(arrays['format'])}"
            f"; this mmkeras reads format {_FORMAT}: build and save it "
            "again (RetrievalIndex.from_texts or from_images, then save)"
        )
    if arrays["embeddings"].dtype != np.float32:
        raise ValueError(
            f"{path} holds embeddings of dtype "
            f"{arrays['embeddings'].dtype}; a retrieval index holds "
            "float32 ones (RetrievalIndex.save writes them)"
        )
    return arrays


def _checksum(arrays):
    digest = hashlib.sha256()
    for field in ("side", "fingerprint"):
        digest.update(str(arrays[field]).encode() + b"\0")
    digest.update("\0".join(arrays["keys"].tolist()).encode() + b"\0")
    digest.update(np.ascontiguousarray(arrays["embeddings"], "<f4").tobytes())
    return digest.hexdigest()


def _first_duplicate(keys):
    seen = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None
