"""What `mmkeras predict` gives for a pretrained encoder of the zoo (a
"tower": `efficientnet_lite0.imagenet`, `minilm_l6.sentence`), which is
no task model and exports nothing: an image classifier's top classes, a
text encoder's sentence embeddings and their cosine similarities."""

import numpy as np
from keras import ops

from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.encoders import TransformerTextEncoder
from mmkeras.encoders import ViTImageEncoder
from mmkeras.encoders import pretrained
from mmkeras.layers import ImageConverter
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import decode_images
from mmkeras.models.serving import read_images
from mmkeras.models.serving import refuse_unused

IMAGE_ENCODERS = (ConvImageEncoder, EfficientNetLite0Encoder, ViTImageEncoder)
TEXT_ENCODERS = (BertTextEncoder, TransformerTextEncoder)
# Classes listed per image, and embedding values shown per text.
TOP_CLASSES = 5
HEAD_VALUES = 5
# Word pieces per text: sentence-transformers' limit for all-MiniLM-L6-v2.
MAX_TEXT_LENGTH = 256


def for_encoder(encoder, entry=None):
    """The tower serving of `encoder`; `entry`, the zoo entry it came
    from, gives a text encoder's vocabulary (its `vocab.txt`)."""
    if isinstance(encoder, IMAGE_ENCODERS):
        return ImageTowerServing(encoder)
    if isinstance(encoder, TEXT_ENCODERS):
        return TextTowerServing(encoder, _tokenizer(encoder, entry))
    raise RequestError(
        "mmkeras predict runs task models and the pretrained image and text "
        f"encoders of the zoo. Received: a {type(encoder).__name__}"
    )


class ImageTowerServing:
    """An image encoder on image files: with a classifier (`"logits"`),
    its top classes, named by the encoder's `class_names` (the zoo sets
    them from the entry) or else by index; without one, the pooled
    embedding's size, norm and first values."""

    def __init__(self, encoder, image_size=None):
        self.encoder = encoder
        size = image_size or getattr(encoder, "image_size", None)
        side = pretrained.IMAGENET_CROP
        self.converter = ImageConverter(image_size=size or (side, side))

    def predict(self, image_paths, question=None, texts=(), sampler=None):
        owner = f"an image encoder ({type(self.encoder).__name__})"
        refuse_unused(owner, question=question, texts=texts, sampler=sampler)
        if not image_paths:
            raise RequestError(f"{owner} takes images: give --image")
        pixels = decode_images(read_images(image_paths), self)
        outputs = self.encoder(pixels)
        if "logits" not in outputs:
            rows = _embeddings(outputs["pooled"])
        else:
            rows = self._classes(outputs["logits"])
        return [
            {"image": str(path), **row}
            for path, row in zip(image_paths, rows, strict=True)
        ]

    @property
    def image_converter(self):
        # `decode_images` takes anything with an `image_converter`.
        return self.converter

    def _classes(self, logits):
        probabilities = ops.convert_to_numpy(ops.softmax(logits))
        names = getattr(self.encoder, "class_names", None)
        rows = []
        for row in probabilities:
            best = np.argsort(-row, kind="stable")[:TOP_CLASSES]
            rows.append(
                {
                    f"top{TOP_CLASSES}": [
                        {
                            "index": int(i),
                            **({"class": names[i]} if names else {}),
                            "probability": float(row[i]),
                        }
                        for i in best
                    ]
                }
            )
        return rows


class TextTowerServing:
    """A text encoder on the command line's texts: each text's pooled
    embedding (its size, norm and first values, L2-normalised) and, with
    two texts or more, its cosine similarity to each of them."""

    def __init__(self, encoder, tokenizer):
        self.encoder = encoder
        self.tokenizer = tokenizer

    def predict(self, image_paths=(), question=None, texts=(), sampler=None):
        owner = f"a text encoder ({type(self.encoder).__name__})"
        refuse_unused(
            owner, images=list(image_paths), question=question, sampler=sampler
        )
        if not texts:
            raise RequestError(
                f"{owner} embeds texts: give one or more with --text"
            )
        ids = self.tokenizer(list(texts))
        pooled = self.encoder(ids)["pooled"]
        rows = _embeddings(pooled)
        if len(texts) > 1:
            unit = ops.convert_to_numpy(pooled)
            unit = unit / np.linalg.norm(unit, axis=-1, keepdims=True)
            for row, similarities in zip(rows, unit @ unit.T, strict=True):
                row["cosine"] = [round(float(s), 6) for s in similarities]
        return [
            {"text": text, **row} for text, row in zip(texts, rows, strict=True)
        ]


def _embeddings(pooled):
    pooled = ops.convert_to_numpy(pooled)
    rows = []
    for vector in pooled:
        norm = float(np.linalg.norm(vector))
        head = vector[:HEAD_VALUES] / max(norm, 1e-12)
        rows.append(
            {
                "dimension": int(vector.shape[-1]),
                "norm": round(norm, 6),
                "normalized_head": [round(float(v), 6) for v in head],
            }
        )
    return rows


def _tokenizer(encoder, entry):
    from mmkeras import zoo
    from mmkeras.text import WordPieceTokenizer

    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is not None:
        return tokenizer
    files = zoo.download(entry) if entry else {}
    if "vocab.txt" not in files:
        raise RequestError(
            f"this {type(encoder).__name__} has no vocabulary to tokenize "
            "text with: load it by its zoo name (e.g. mmkeras predict "
            "minilm_l6.sentence --text ...), whose entry ships vocab.txt"
        )
    length = getattr(encoder, "max_sequence_length", MAX_TEXT_LENGTH)
    return WordPieceTokenizer(
        files["vocab.txt"],
        sequence_length=min(length, MAX_TEXT_LENGTH),
        add_start_end=True,
    )
