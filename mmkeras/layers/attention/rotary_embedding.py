import keras
from keras import ops

from mmkeras import _checks

LAYOUTS = ("interleaved", "half")


@keras.saving.register_keras_serializable(package="mmkeras")
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding (RoPE, Su et al. 2021) of attention heads.

    Each head's dimensions form pairs, and the pair `i` of the token at
    position `p` is rotated by the angle `p * max_wavelength ** (-2i / d)`
    (`d` the head size), so that the dot product of a rotated query and
    key depends on their positions only through their distance.
    `layout` says which dimensions pair up:

    - `"interleaved"`: `(2i, 2i + 1)`, as GGUF / llama.cpp store Llama's
      query and key projections;
    - `"half"`: `(i, i + d / 2)`, as Hugging Face checkpoints do.

    The two give the same attention once the projection columns are
    permuted (column `2i` of a head in the interleaved layout is column
    `i` in the half layout, column `2i + 1` is `i + d / 2`). The angles
    and rotation run in float32; the output has the compute dtype.

    Args:
        max_wavelength: the base of the angles' wavelengths (Llama 10000,
            SmolLM2 100000).
        layout: `"interleaved"` or `"half"` (see above).

    Example:

    >>> rope = mmkeras.layers.RotaryEmbedding(layout="half")
    >>> heads = np.ones((2, 5, 4, 8), "float32")  # batch, length, heads, dim
    >>> positions = np.arange(5)[None].repeat(2, 0)
    >>> rope(heads, positions).shape
    TensorShape([2, 5, 4, 8])
    """

    def __init__(self, max_wavelength=10000, layout="interleaved", **kwargs):
        super().__init__(**kwargs)
        number = isinstance(max_wavelength, (int, float)) and not isinstance(
            max_wavelength, bool
        )
        if not number or max_wavelength <= 1:
            raise ValueError(
                "max_wavelength must be a number > 1. Received: "
                f"max_wavelength={max_wavelength!r}"
            )
        _checks.one_of("layout", layout, LAYOUTS)
        self.max_wavelength = max_wavelength
        self.layout = layout

    def build(self, inputs_shape, positions_shape=None):
        _checks.rank("inputs", inputs_shape, 4)
        head_dim = inputs_shape[-1]
        if head_dim is None or head_dim % 2:
            raise ValueError(
                "The last axis of inputs (the head size) must be even: "
                f"rotary embedding rotates pairs of it. Received: inputs "
                f"with shape {tuple(inputs_shape)}"
            )

    def call(self, inputs, positions=None):
        head_dim = inputs.shape[-1]
        if positions is None:
            length = ops.shape(inputs)[1]
            positions = ops.arange(length)[None, :]
        _checks.rank("positions", positions.shape, 2)
        exponents = ops.arange(0, head_dim, 2, dtype="float32") / head_dim
        inverse_frequencies = ops.power(
            ops.cast(self.max_wavelength, "float32"), -exponents
        )
        # (batch, length, 1, head_dim / 2): one angle per pair, every head.
        angles = (
            ops.cast(positions, "float32")[:, :, None, None]
            * inverse_frequencies
        )
        cos, sin = ops.cos(angles), ops.sin(angles)
        x = ops.cast(inputs, "float32")
        if self.layout == "half":
            first, second = ops.split(x, 2, axis=-1)
            rotated = ops.concatenate(
                [first * cos - second * sin, second * cos + first * sin],
                axis=-1,
            )
        else:
            pairs = ops.reshape(x, (*ops.shape(x)[:-1], head_dim // 2, 2))
            first, second = pairs[..., 0], pairs[..., 1]
            rotated = ops.reshape(
                ops.stack(
                    [first * cos - second * sin, second * cos + first * sin],
                    axis=-1,
                ),
                ops.shape(x),
            )
        return ops.cast(rotated, self.compute_dtype)

    def compute_output_shape(self, inputs_shape, positions_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_wavelength": self.max_wavelength, "layout": self.layout}
        )
        return config
