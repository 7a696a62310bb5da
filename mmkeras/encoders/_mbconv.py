"""EfficientNet-Lite building pieces: TF "same" padding and MBConv blocks."""

import keras

# lukemelas' BatchNorm2d(momentum=0.01, eps=1e-3) in Keras' convention.
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


def same_padding(size, kernel_size, strides):
    """TF "same" padding `(before, after)` of one spatial axis.

    TF puts the odd pixel after, which a symmetric pad cannot express;
    an unknown `size` is assumed even (224, 256, ...).
    """
    if size is None:
        total = max(kernel_size - strides, 0)
    else:
        out = -(-size // strides)
        total = max((out - 1) * strides + kernel_size - size, 0)
    return total // 2, total - total // 2


def conv(filters, kernel_size, strides, name, dtype, depthwise=False):
    """A bias-free conv; stride-2 convs get explicit "same" padding."""
    padding = "same" if strides == 1 else "valid"
    if depthwise:
        return keras.layers.DepthwiseConv2D(
            kernel_size,
            strides,
            padding,
            use_bias=False,
            dtype=dtype,
            name=name,
        )
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides,
        padding,
        use_bias=False,
        dtype=dtype,
        name=name,
    )


def batch_norm(name, dtype, trainable=True):
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        trainable=trainable,
        dtype=dtype,
        name=name,
    )


def built(layer, shape):
    layer.build(shape)
    return layer, layer.compute_output_shape(shape)


def padder(shape, kernel_size, strides, name, dtype):
    """`ZeroPadding2D` for TF "same" on `shape`, or None for stride 1."""
    if strides == 1:
        return None
    pads = tuple(
        same_padding(size, kernel_size, strides) for size in shape[1:3]
    )
    return keras.layers.ZeroPadding2D(pads, dtype=dtype, name=name)


class MBConvBlock(keras.layers.Layer):
    """Expand 1x1 -> depthwise kxk -> project 1x1, without squeeze-excite.

    Built only inside `EfficientNetLite0Encoder.build`, so never
    deserialized on its own.
    """

    def __init__(
        self,
        in_filters,
        out_filters,
        kernel_size,
        strides,
        expand_ratio,
        batch_norm_trainable=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.batch_norm_trainable = batch_norm_trainable
        self.in_filters = in_filters
        self.out_filters = out_filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.expand_ratio = expand_ratio

    def build(self, shape):
        dtype = self.dtype_policy
        self.expand_conv = self.bn0 = None
        if self.expand_ratio != 1:
            hidden = self.in_filters * self.expand_ratio
            self.expand_conv, shape = built(
                conv(hidden, 1, 1, "expand_conv", dtype), shape
            )
            self.bn0, shape = built(
                batch_norm("bn0", dtype, self.batch_norm_trainable), shape
            )
        self.pad = padder(shape, self.kernel_size, self.strides, "pad", dtype)
        if self.pad is not None:
            self.pad, shape = built(self.pad, shape)
        self.depthwise_conv, shape = built(
            conv(
                None,
                self.kernel_size,
                self.strides,
                "depthwise_conv",
                dtype,
                True,
            ),
            shape,
        )
        self.bn1, shape = built(
            batch_norm("bn1", dtype, self.batch_norm_trainable), shape
        )
        self.project_conv, shape = built(
            conv(self.out_filters, 1, 1, "project_conv", dtype), shape
        )
        self.bn2, _ = built(
            batch_norm("bn2", dtype, self.batch_norm_trainable), shape
        )

    def compute_output_shape(self, shape):
        height, width = (
            None if size is None else -(-size // self.strides)
            for size in shape[1:3]
        )
        return (shape[0], height, width, self.out_filters)

    def call(self, inputs, training=None):
        x = inputs
        if self.expand_conv is not None:
            x = keras.ops.relu6(
                self.bn0(self.expand_conv(x), training=training)
            )
        if self.pad is not None:
            x = self.pad(x)
        x = keras.ops.relu6(self.bn1(self.depthwise_conv(x), training=training))
        x = self.bn2(self.project_conv(x), training=training)
        if self.strides == 1 and self.in_filters == self.out_filters:
            x = x + inputs
        return x
