"""Fashion-MNIST on tiny IDX files written here, in the real format.

The fixtures are written with `struct` (not with the reader's code): the
magic number 00 00 <type> <ndim>, big-endian uint32 dimensions, then the
big-endian data, gzipped like the released files.
"""

import gzip
import importlib
import re
import struct

import numpy as np
import pytest
import tensorflow as tf

# The package exports a function of the same name; take the module.
fm = importlib.import_module("mmkeras.data.fashion_mnist")

# The official class names, restated so the tests pin the caption forms.
NAMES = [
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
]
TEMPLATES = [
    "a photo of a {name}",
    "a black and white photo of a {name}",
    "an image of a {name}",
]
TRAIN_LABELS = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]
TEST_LABELS = [9, 2, 1]


def _idx(type_code, shape, data):
    header = struct.pack(">BBBB", 0, 0, type_code, len(shape))
    return header + struct.pack(f">{len(shape)}I", *shape) + data


def _write(path, content, compress=True):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.fixture
def pixels():
    rng = np.random.default_rng(0)
    return {
        "train": rng.integers(0, 256, (len(TRAIN_LABELS), 28, 28), np.uint8),
        "test": rng.integers(0, 256, (len(TEST_LABELS), 28, 28), np.uint8),
    }


@pytest.fixture
def data_dir(tmp_path, pixels):
    for prefix, split, labels in [
        ("train", "train", TRAIN_LABELS),
        ("t10k", "test", TEST_LABELS),
    ]:
        images = pixels[split]
        _write(
            tmp_path / f"{prefix}-images-idx3-ubyte.gz",
            _idx(0x08, images.shape, images.tobytes()),
        )
        _write(
            tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
            _idx(0x08, (len(labels),), bytes(labels)),
        )
    return tmp_path


def _elements(dataset):
    return list(dataset.as_numpy_iterator())


def test_basics(data_dir):
    single = fm.fashion_mnist(data_dir=data_dir).element_spec
    assert single == {
        "image": tf.TensorSpec((28, 28, 3), tf.float32),
        "label": tf.TensorSpec((), tf.int32),
        "caption": tf.TensorSpec((), tf.string),
    }
    batched = fm.fashion_mnist(data_dir=data_dir, image_size=32, batch_size=8)
    assert batched.element_spec["image"].shape.as_list() == [None, 32, 32, 3]
    assert fm.FASHION_MNIST_CLASSES == tuple(NAMES)
    assert fm.FASHION_MNIST_TEMPLATES == tuple(TEMPLATES)


@pytest.mark.parametrize(
    "split, labels", [("train", TRAIN_LABELS), ("test", TEST_LABELS)]
)
def test_elements_match_the_files(data_dir, pixels, split, labels):
    elements = _elements(fm.fashion_mnist(split, data_dir=data_dir))
    assert [e["label"] for e in elements] == labels
    for element, grey, label in zip(
        elements, pixels[split], labels, strict=True
    ):
        rgb = np.repeat(grey[..., None] / 255, 3, axis=-1)
        np.testing.assert_allclose(element["image"], rgb, atol=1e-6)
        filled = [t.format(name=NAMES[label]) for t in TEMPLATES]
        assert element["caption"].decode() in filled


def test_batches_and_resizes(data_dir, pixels):
    dataset = fm.fashion_mnist(data_dir=data_dir, image_size=14, batch_size=8)
    batches = _elements(dataset)
    assert [len(b["label"]) for b in batches] == [8, 8, 4]
    images = np.concatenate([b["image"] for b in batches])
    # Halving with half-pixel centres samples between pixel pairs: the
    # bilinear result is the mean of each 2x2 block.
    blocks = pixels["train"].reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(images[..., 0], blocks / 255, atol=1e-6)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])


def test_image_size_takes_height_and_width(data_dir):
    dataset = fm.fashion_mnist(data_dir=data_dir, image_size=(14, 7))
    assert dataset.element_spec["image"].shape == (14, 7, 3)
    with pytest.raises(ValueError, match=r"image_size=\(14, 7, 3\)"):
        fm.fashion_mnist(data_dir=data_dir, image_size=(14, 7, 3))


def test_shuffle_is_seeded_and_keeps_captions_with_images(data_dir, pixels):
    order = _elements(fm.fashion_mnist(data_dir=data_dir, seed=3))
    dataset = fm.fashion_mnist(data_dir=data_dir, shuffle=True, seed=3)
    first, second = _elements(dataset), _elements(dataset)
    again = _elements(fm.fashion_mnist(data_dir=data_dir, shuffle=True, seed=3))

    def index(element):
        flat = pixels["train"].reshape(len(TRAIN_LABELS), -1)
        grey = np.round(element["image"][..., 0] * 255).astype(np.uint8)
        return int(np.flatnonzero((flat == grey.ravel()).all(axis=1))[0])

    indices = [index(e) for e in first]
    assert sorted(indices) == list(range(len(TRAIN_LABELS)))
    assert indices != sorted(indices)
    assert [index(e) for e in second] != indices  # reshuffled each epoch
    assert [index(e) for e in again] == indices
    for element, i in zip(first, indices, strict=True):
        assert element["label"] == order[i]["label"]
        assert element["caption"] == order[i]["caption"]


def test_captions_are_seeded_templates(data_dir):
    def captions(**kwargs):
        dataset = fm.fashion_mnist(data_dir=data_dir, **kwargs)
        return [e["caption"].decode() for e in _elements(dataset)]

    used = {
        next(t for t in TEMPLATES if c == t.format(name=NAMES[label]))
        for c, label in zip(captions(seed=0), TRAIN_LABELS, strict=True)
    }
    assert used == set(TEMPLATES)
    assert captions() == captions(seed=0)
    assert captions(seed=1) != captions(seed=0)
    # Other braces stay as they are: only "{name}" is filled.
    custom = captions(captions=["{name}?", "{name} {here}"])
    for caption, label in zip(custom, TRAIN_LABELS, strict=True):
        assert caption in (f"{NAMES[label]}?", NAMES[label] + " {here}")


def test_reads_the_environment_variable(data_dir, monkeypatch):
    monkeypatch.setenv("MMKERAS_FASHION_MNIST_DIR", str(data_dir))
    labels = [e["label"] for e in _elements(fm.fashion_mnist("test"))]
    assert labels == TEST_LABELS


@pytest.mark.parametrize("use_env", [False, True])
def test_missing_dataset_says_how_to_install(tmp_path, monkeypatch, use_env):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("MMKERAS_FASHION_MNIST_DIR", str(missing))
    data_dir = None if use_env else missing
    with pytest.raises(fm.DatasetNotFoundError) as info:
        fm.fashion_mnist(data_dir=data_dir)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "MMKERAS_FASHION_MNIST_DIR" in message
    assert str(missing / "train-images-idx3-ubyte.gz") in message


@pytest.mark.parametrize(
    "type_code, dtype",
    [
        (0x08, ">u1"),
        (0x09, ">i1"),
        (0x0B, ">i2"),
        (0x0C, ">i4"),
        (0x0D, ">f4"),
        (0x0E, ">f8"),
    ],
)
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(tmp_path, type_code, dtype, compress):
    values = np.array([[-3, 0, 7], [100, -128, 127]]).astype(dtype)
    if dtype not in (">u1", ">i1"):
        values[0, 0] = -1000  # needs both bytes: catches little-endian
    path = _write(
        tmp_path / "data.idx",
        _idx(type_code, (2, 3), values.tobytes()),
        compress,
    )
    result = fm.read_idx(path)
    assert result.dtype == np.dtype(dtype).newbyteorder("=")
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, values)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x01\x08\x01" + b"\0" * 8, r"not an IDX file.*00010801"),
        (b"\x00\x00\x07\x01" + b"\0" * 8, r"not an IDX file.*00000701"),
        (b"\x00\x00\x08\x00", r"not an IDX file.*00000800"),
        (b"\x00\x00", r"not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", r"truncated.*3 dimensions"),
        (_idx(0x08, (2, 3), bytes(5)), r"truncated.*\(2, 3\).*5 data bytes"),
        (_idx(0x08, (2, 3), bytes(7)), r"too long.*\(2, 3\).*7 data bytes"),
        (_idx(0x0B, (2, 3), bytes(6)), r"truncated.*int16 \(12 bytes\)"),
    ],
)
def test_read_idx_rejects_bad_files_naming_them(tmp_path, content, match):
    path = _write(tmp_path / "bad-idx-ubyte.gz", content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + match):
        fm.read_idx(path)


def test_read_idx_rejects_a_cut_gzip_stream(tmp_path):
    content = gzip.compress(_idx(0x08, (100,), bytes(range(100))))
    path = tmp_path / "cut.gz"
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*gzip"):
        fm.read_idx(path)


def test_inconsistent_files_are_named(data_dir):
    labels = data_dir / "t10k-labels-idx1-ubyte.gz"
    _write(labels, _idx(0x08, (2,), bytes([1, 2])))
    with pytest.raises(ValueError, match=re.escape(f"{labels} must hold 3")):
        fm.fashion_mnist("test", data_dir=data_dir)
    _write(labels, _idx(0x08, (3,), bytes([1, 10, 2])))
    with pytest.raises(ValueError, match=re.escape(f"{labels} holds label 10")):
        fm.fashion_mnist("test", data_dir=data_dir)
    images = data_dir / "t10k-images-idx3-ubyte.gz"
    _write(images, _idx(0x08, (3, 784), bytes(3 * 784)))
    with pytest.raises(
        ValueError, match=re.escape(f"{images} must hold uint8")
    ):
        fm.fashion_mnist("test", data_dir=data_dir)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "val"}, "split must be one of 'train', 'test'"),
        ({"image_size": 0}, "image_size=0"),
        ({"batch_size": 2.0}, "batch_size=2.0"),
        ({"seed": -1}, "seed=-1"),
        ({"captions": ["a photo"]}, r"\{name\}.*captions=\['a photo'\]"),
        ({"captions": []}, r"captions=\[\]"),
    ],
)
def test_bad_arguments_are_named(data_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fm.fashion_mnist(data_dir=data_dir, **kwargs)
