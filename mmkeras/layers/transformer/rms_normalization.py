import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class RMSNormalization(keras.layers.Layer):
    """Root-mean-square normalization (Llama, T5): no mean subtracted, no
    bias.

    `y = x / sqrt(mean(x ** 2) + epsilon) * scale` over the last axis, with
    `scale` initialised to ones. The statistics and the scaling run in
    float32 under a 16-bit compute dtype: the mean of squares of bfloat16
    activations loses most of its digits. The output has the compute dtype.

    Args:
        epsilon: added to the mean square before the square root.

    Example:

    >>> norm = mmkeras.layers.RMSNormalization(epsilon=1e-5)
    >>> norm(np.ones((2, 5, 16), "float32")).shape
    TensorShape([2, 5, 16])
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        number = isinstance(epsilon, (int, float))
        if isinstance(epsilon, bool) or not number or epsilon < 0:
            raise ValueError(
                f"epsilon must be a number >= 0. Received: epsilon={epsilon!r}"
            )
        self.epsilon = epsilon
        self.supports_masking = True

    def build(self, inputs_shape):
        _checks.positive_int("the last axis of inputs", inputs_shape[-1])
        self.scale = self.add_weight(
            name="scale",
            shape=(inputs_shape[-1],),
            initializer="ones",
            # Read in float32: a bfloat16 copy rounds it to 3 digits.
            autocast=False,
        )

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean_square = ops.mean(ops.square(x), axis=-1, keepdims=True)
        x = x * ops.rsqrt(mean_square + self.epsilon)
        return ops.cast(x * self.scale, self.compute_dtype)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
