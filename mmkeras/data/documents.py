"""Plain-text documents: the public-domain text language models are
measured on (`mmkeras/data/texts/`), or any UTF-8 file."""

import tensorflow as tf

from mmkeras._packages import local_path
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset

# The public-domain text shipped with mmkeras (see texts/README.md).
GETTYSBURG_DECLARATION = "package:mmkeras/data/texts/gettysburg_declaration.txt"


def read_text(path):
    """The text of a UTF-8 file (a path or a `package:` URI); an encoding
    error names the file."""
    path = local_path(path)
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); "
            "convert it to UTF-8"
        ) from None


@register_dataset("text_file")
def text_file(path=GETTYSBURG_DECLARATION, batch_size=8, split=None):
    """The paragraphs of a UTF-8 text file (separated by blank lines), as
    batches of strings: what a `CausalLMPreprocessor` takes. Both splits
    are the same paragraphs, in order."""
    text = read_text(path)
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        raise ValueError(f"{local_path(path)} holds no text")

    def batches():
        dataset = tf.data.Dataset.from_tensor_slices(paragraphs)
        return dataset.batch(batch_size)

    return pick(split, batches, batches)
