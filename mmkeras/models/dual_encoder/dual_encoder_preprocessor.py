import keras

from mmkeras.models.preprocessor import Preprocessor


@keras.saving.register_keras_serializable(package="mmkeras")
class DualEncoderPreprocessor(Preprocessor):
    """Raw image-caption pairs to `DualEncoder` inputs.

    Takes a dict (batched or not) with `"image"` (uint8 in [0, 255] or
    floats in [0, 1]) and the captions under `text_key`, and returns
    `{"image": pixels, "token_ids": ids}`: the image through the
    `image_converter`, the captions through the `tokenizer` (give it a
    `sequence_length` so batches are dense). Other keys are dropped; a
    `y` or `sample_weight` given is passed on (the InfoNCE loss ignores
    labels).

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`; default one
            that keeps the size and scales to [0, 1].
        tokenizer: the text tokenizer, e.g. an
            `mmkeras.text.WordPieceTokenizer` with a `sequence_length`.
        text_key: the key of the captions in the raw dicts (`"caption"`,
            as `mmkeras.data` caption datasets name them).

    Example:

    >>> preprocessor = mmkeras.models.DualEncoderPreprocessor(
    ...     mmkeras.layers.ImageConverter(image_size=(75, 75)),
    ...     mmkeras.text.WordPieceTokenizer(
    ...         ["[PAD]", "[UNK]", "a", "red", "circle"], sequence_length=8))
    >>> ds = mmkeras.data.shapes_captions(
    ...     8, seed=0, captions_per_image=1, batch_size=4)
    >>> ds.map(preprocessor).element_spec["token_ids"].shape
    TensorShape([None, 8])
    """

    def __init__(
        self, image_converter=None, tokenizer=None, text_key="caption", **kwargs
    ):
        super().__init__(image_converter, tokenizer, **kwargs)
        if not isinstance(text_key, str) or not text_key:
            raise ValueError(
                "text_key must be the non-empty key of the captions in the "
                f"raw dicts, such as 'caption'. Received: text_key={text_key!r}"
            )
        self.text_key = text_key

    def call(self, x, y=None, sample_weight=None):
        inputs = {
            "image": self.convert_images(x["image"]),
            "token_ids": self.tokenize(x[self.text_key]),
        }
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["text_key"] = self.text_key
        return config
