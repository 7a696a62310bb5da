"""Presets: named architectures kept in code, or zoo entries with weights."""

# The zoo's core imports no encoder or model: `from_preset` and
# `mmkeras.zoo.load` share its one loading path.
from mmkeras.zoo import loading


class PresetMixin:
    """Adds `from_preset(name, load_weights=None, **overrides)`.

    `presets` maps a name to constructor arguments (an architecture-only
    size preset, such as `"tiny"`: fresh weights) or to the zoo entry
    that holds the preset's weights (`"lite0_imagenet_classifier":
    "efficientnet_lite0.imagenet"`).
    """

    presets = {}

    @classmethod
    def from_preset(cls, name, load_weights=None, **overrides):
        """Builds the encoder from the preset `name`, as in KerasHub.

        Args:
            name: a key of `presets`, or a zoo entry of this class.
            load_weights: None (default) loads the preset's weights when it
                has them; True requires them, so an architecture-only
                preset is an error; False gives the architecture alone.
            **overrides: constructor arguments that replace the preset's
                (or that the preset leaves to the caller, such as
                `vocabulary_size`); with weights, they are copied into the
                changed encoder variable by variable.

        Returns:
            A new encoder: unbuilt for an architecture-only preset, built
            (for the entry's input size) for one from the zoo.

        Example:

        >>> classifier = mmkeras.encoders.EfficientNetLite0Encoder.from_preset(
        ...     "lite0_imagenet_classifier")          # ImageNet weights
        >>> tiny = mmkeras.encoders.ConvImageEncoder.from_preset("tiny")
        """
        return loading.from_preset(cls, name, load_weights, **overrides)
