"""Fashion-MNIST (Xiao et al. 2017) from its IDX files, as image-caption
pairs.

70,000 grey 28x28 images of clothing in 10 classes (60,000 train, 10,000
test), read from the four gzipped IDX files of the official release. On
Debian they come from `apt-get install dataset-fashion-mnist`, in
`/usr/share/datasets/fashion-mnist`. Debian re-gzips them, so the bytes
(and Keras' download hashes) differ from the official archives while the
decoded arrays are the same; `read_idx` reads either.
"""

import gzip
import os
import zlib

import numpy as np
import tensorflow as tf

from mmkeras import _checks

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
DIR_ENV_VAR = "MMKERAS_FASHION_MNIST_DIR"
# The official class names ("T-shirt/top", "Trouser", ...) as they read in
# a caption, in label order.
FASHION_MNIST_CLASSES = (
    "t-shirt",
    "pair of trousers",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
FASHION_MNIST_TEMPLATES = (
    "a photo of a {name}",
    "a black and white photo of a {name}",
    "an image of a {name}",
)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The third byte of an IDX magic number: the element type, big-endian.
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing; the message says how to install them.

    Example:
    >>> try:
    ...     mmkeras.data.fashion_mnist(data_dir="/nonexistent")
    ... except mmkeras.data.DatasetNotFoundError as error:
    ...     print("apt-get install" in str(error))
    True
    """


def fashion_mnist(
    split="train",
    data_dir=None,
    image_size=None,
    batch_size=None,
    shuffle=False,
    seed=None,
    captions=FASHION_MNIST_TEMPLATES,
):
    """Fashion-MNIST images with their labels and a templated caption.

    Each image's caption is one of `captions`, drawn with `seed` and filled
    with its class name from `FASHION_MNIST_CLASSES`, e.g. "a photo of a
    sneaker". The caption stays with its image when shuffled.

    Args:
        split: "train" (60,000 images) or "test" (10,000).
        data_dir: the directory of the four `*-idx?-ubyte.gz` files. None
            reads the environment variable `MMKERAS_FASHION_MNIST_DIR`, or
            else `DEFAULT_DIR` (where the Debian package installs them).
        image_size: None keeps 28x28; an int `n` resizes (bilinear) to
            `n` x `n`, a pair to `(height, width)`.
        batch_size: None for single elements, or a positive integer (the
            last batch may be smaller).
        shuffle: whether to shuffle the whole split, anew each epoch.
        seed: a non-negative integer for the captions and the shuffle
            order; None means 0. The same arguments give the same elements
            in the same order.
        captions: a non-empty list of templates with a "{name}" field.

    Returns:
        A `tf.data.Dataset` of dicts: "image" (float32 (H, W, 3) in [0, 1],
        the grey channel repeated, so RGB image encoders apply), "label"
        (int32 in [0, 10)) and "caption" (string).

    Raises:
        DatasetNotFoundError: if the split's files are not in the directory.
        ValueError: if a file is not a valid IDX file of the expected shape.

    Example:
    >>> ds = mmkeras.data.fashion_mnist("test", image_size=32, batch_size=64)
    >>> ds.element_spec["image"].shape
    TensorShape([None, 32, 32, 3])
    """
    _checks.one_of("split", split, ("train", "test"))
    image_size = _checks.optional_image_size("image_size", image_size)
    _checks.optional_positive_int("batch_size", batch_size)
    seed = _seed(seed)
    _check_templates(captions)
    images, labels = _load(split, data_dir)
    rng = np.random.default_rng(seed)
    # Replace, not format: a template may hold other braces.
    table = np.array(
        [
            [t.replace("{name}", n) for n in FASHION_MNIST_CLASSES]
            for t in captions
        ]
    )
    columns = {
        "image": images,
        "label": labels.astype(np.int32),
        "caption": table[rng.integers(len(captions), size=len(labels)), labels],
    }
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)

    def to_rgb(element):
        return {**element, "image": _rgb(element["image"], image_size)}

    # After batching, so whole batches convert at once.
    dataset = dataset.map(to_rgb, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def read_idx(path):
    """Reads an IDX file (the MNIST format), gzipped or not.

    The header is two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B
    int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, then each dimension as a big-endian uint32; the big-endian
    data follows, exactly filling those dimensions.

    Args:
        path: the file; read through gzip if it starts with gzip's magic.

    Returns:
        A numpy array of the file's shape and type, in native byte order.

    Raises:
        ValueError: naming the file, if the header is not an IDX header or
            the data is shorter or longer than the header says.

    Example:
    >>> labels = mmkeras.data.read_idx(
    ...     "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    ... )
    >>> labels.shape, labels.dtype
    ((10000,), dtype('uint8'))
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    magic = raw[:4]
    if (
        len(magic) < 4
        or magic[:2] != b"\0\0"
        or magic[2] not in _IDX_TYPES
        or magic[3] == 0
    ):
        raise ValueError(
            f"{path} is not an IDX file: it starts with {magic.hex()!r}, but "
            "an IDX magic number is 0000, a type byte in "
            f"{sorted(f'{t:02x}' for t in _IDX_TYPES)} and a number of "
            "dimensions."
        )
    start = 4 + 4 * magic[3]
    if len(raw) < start:
        raise ValueError(
            f"{path} is truncated: its header declares {magic[3]} dimensions "
            f"but the file has {len(raw)} bytes."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", magic[3], 4))
    dtype = _IDX_TYPES[magic[2]]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(raw) - start != expected:
        problem = "truncated" if len(raw) - start < expected else "too long"
        raise ValueError(
            f"{path} is {problem}: its header declares shape {shape} of "
            f"{dtype.name} ({expected} bytes) but {len(raw) - start} data "
            "bytes follow."
        )
    data = np.frombuffer(raw, dtype, offset=start).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _read_bytes(path):
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(
            f"{path} is a damaged gzip file ({error}); download or install "
            "it again."
        ) from error


def _load(split, data_dir):
    directory = data_dir or os.environ.get(DIR_ENV_VAR) or DEFAULT_DIR
    paths = [os.path.join(directory, name) for name in _FILES[split]]
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise DatasetNotFoundError(
            f"Fashion-MNIST's {split} files are missing: {missing}. Install "
            "them with `apt-get install dataset-fashion-mnist` (into "
            f"{DEFAULT_DIR}), or set {DIR_ENV_VAR} or data_dir to a "
            f"directory holding {list(_FILES[split])} from "
            "https://github.com/zalandoresearch/fashion-mnist. Received: "
            f"data_dir={data_dir!r}"
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{paths[0]} must hold uint8 images of shape (N, H, W), but "
            f"holds {images.dtype.name} of shape {images.shape}."
        )
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{paths[1]} must hold {len(images)} uint8 labels, one per image "
            f"of {paths[0]}, but holds {labels.dtype.name} of shape "
            f"{labels.shape}."
        )
    if labels.max(initial=0) >= len(FASHION_MNIST_CLASSES):
        raise ValueError(
            f"{paths[1]} holds label {labels.max()}, but Fashion-MNIST "
            f"labels are 0 to {len(FASHION_MNIST_CLASSES) - 1}."
        )
    return images, labels


def _rgb(images, image_size):
    """uint8 (..., H, W) grey to float32 (..., H, W, 3) in [0, 1]."""
    images = tf.image.convert_image_dtype(images[..., None], tf.float32)
    if image_size is not None:
        images = tf.image.resize(images, image_size)
    return tf.image.grayscale_to_rgb(images)


def _seed(seed):
    if seed is None:
        return 0
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"seed must be None or a non-negative integer. Received: "
            f"seed={seed!r}"
        )
    return seed


def _check_templates(captions):
    valid = (
        isinstance(captions, (list, tuple))
        and len(captions) > 0
        and all(isinstance(t, str) and "{name}" in t for t in captions)
    )
    if not valid:
        raise ValueError(
            "captions must be a non-empty list of strings, each with a "
            '"{name}" field (e.g. "a photo of a {name}"). Received: '
            f"captions={captions!r}"
        )
