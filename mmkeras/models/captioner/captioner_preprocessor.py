import keras

from mmkeras import _checks
from mmkeras.models.captioner import _captioning
from mmkeras.models.preprocessor import Preprocessor


@keras.saving.register_keras_serializable(package="mmkeras")
class CaptionerPreprocessor(Preprocessor):
    """Raw image-caption examples to `ImageCaptioner` inputs and labels.

    `{"image", "caption"}` becomes `({"image", "token_ids"}, labels)` by
    teacher forcing: the caption's `sequence_length + 1` ids (start and
    end tokens added by the tokenizer) give `token_ids`, all but the last,
    and `labels`, all but the first (the next token at every position).
    `{"image"}` alone becomes `{"image"}`. Images (uint8 in [0, 255] or
    floats in [0, 1]) go through the `image_converter`; other keys of the
    example (e.g. `"scene"`) are dropped.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`; default one
            that keeps the size and gives [0, 1] floats.
        tokenizer: a tokenizer with `add_start_end=True` and
            `sequence_length` None or `sequence_length + 1`, e.g.
            `mmkeras.text.WordPieceTokenizer`; None for a captioner that
            only generates ids.
        sequence_length: caption ids per example, start token included;
            default the tokenizer's `sequence_length - 1`.

    Example:

    >>> preprocessor = mmkeras.models.CaptionerPreprocessor(
    ...     mmkeras.layers.ImageConverter(image_size=(75, 75)),
    ...     mmkeras.models.captioner.builders.shapes_caption_tokenizer(),
    ...     sequence_length=12)
    >>> ds = mmkeras.data.shapes_captions(8, seed=0, batch_size=4)
    >>> inputs, labels = next(iter(ds.map(preprocessor)))
    >>> inputs["token_ids"].shape, labels.shape
    (TensorShape([4, 12]), TensorShape([4, 12]))
    """

    def __init__(
        self,
        image_converter=None,
        tokenizer=None,
        sequence_length=None,
        **kwargs,
    ):
        super().__init__(image_converter, tokenizer, **kwargs)
        if sequence_length is None and tokenizer is not None:
            if tokenizer.sequence_length is None:
                raise ValueError(
                    "sequence_length is required when the tokenizer has "
                    "none. Received: sequence_length=None, "
                    "tokenizer.sequence_length=None"
                )
            sequence_length = tokenizer.sequence_length - 1
        _checks.optional_positive_int("sequence_length", sequence_length)
        if tokenizer is not None:
            _captioning.check_tokenizer(tokenizer, sequence_length)
        self.sequence_length = sequence_length

    def call(self, x, y=None, sample_weight=None):
        if not isinstance(x, dict) or "image" not in x:
            raise ValueError(
                "CaptionerPreprocessor takes dicts with an 'image' (and a "
                f"'caption' to train on). Received: {_describe(x)}"
            )
        inputs = {"image": self.convert_images(x["image"])}
        if "caption" not in x:
            return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)
        if y is not None:
            raise ValueError(
                "the labels of a caption are its next tokens, so y must be "
                f"None when x has a 'caption'. Received: y={y!r}"
            )
        ids = self.tokenize(x["caption"])
        pad = getattr(self.tokenizer, "pad_token_id", None) or 0
        inputs["token_ids"], labels = _captioning.teacher_forcing(
            ids, pad, self.sequence_length
        )
        return keras.utils.pack_x_y_sample_weight(
            inputs, labels, sample_weight
        )

    def generate_preprocess(self, images):
        """Images (uint8 or [0, 1] floats) to the pixels `generate` takes."""
        return self.convert_images(images)

    def get_config(self):
        config = super().get_config()
        config["sequence_length"] = self.sequence_length
        return config


def _describe(x):
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)}"
    return f"a {type(x).__name__}"
