import keras

from mmkeras.models.preprocessor import Preprocessor


@keras.saving.register_keras_serializable(package="mmkeras")
class FusionPreprocessor(Preprocessor):
    """Raw image-text examples to `FusionClassifier` inputs.

    Takes a dict (batched or not) with `"image"` (uint8 in [0, 255] or
    floats in [0, 1]), `"text"` (strings) and optionally `"label"`, and
    returns `({"image": pixels, "token_ids": ids}, label)`: the image
    through the `image_converter`, the text through the `tokenizer` (give
    it a `sequence_length` so batches are dense). A label given as `y`
    wins over the dict's `"label"`; without either, only the inputs.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`; default one
            that keeps the size and scales to [0, 1].
        tokenizer: the text tokenizer, e.g. an
            `mmkeras.text.WordPieceTokenizer` with a `sequence_length`.

    Example:

    >>> preprocessor = mmkeras.models.FusionPreprocessor(
    ...     mmkeras.layers.ImageConverter(image_size=(32, 32)),
    ...     mmkeras.text.WordPieceTokenizer(
    ...         ["[PAD]", "[UNK]", "a", "red", "shape"], sequence_length=8))
    >>> inputs, label = preprocessor(
    ...     {"image": np.zeros((2, 32, 32, 3), "uint8"),
    ...      "text": ["a red shape", "red"], "label": [1, 0]})
    >>> inputs["token_ids"].shape
    TensorShape([2, 8])
    """

    def call(self, x, y=None, sample_weight=None):
        if y is None and "label" in x:
            y = x["label"]
        inputs = {
            "image": self.convert_images(x["image"]),
            "token_ids": self.tokenize(x["text"]),
        }
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)
