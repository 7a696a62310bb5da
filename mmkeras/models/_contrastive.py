"""The contrastive head's parts shared by `DualEncoder` and
`ViLTPretrainer`: the learned logit scale `1 / temperature`, clipped as
in CLIP (Radford et al. 2021), and float32 L2 normalisation."""

import math

import keras
from keras import ops


def check_temperature(temperature, max_logit_scale):
    """Both positive numbers, with `1 / temperature <= max_logit_scale`."""
    for name, value in (
        ("max_logit_scale", max_logit_scale),
        ("temperature", temperature),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value > 0
        ):
            raise ValueError(
                f"{name} must be a positive number. Received: {name}={value!r}"
            )
    if 1.0 / temperature > max_logit_scale:
        raise ValueError(
            "temperature must be at least 1 / max_logit_scale "
            f"({1.0 / max_logit_scale:g}). Received: temperature="
            f"{temperature!r}, max_logit_scale={max_logit_scale!r}"
        )


def add_log_logit_scale(layer, temperature, max_logit_scale, trainable=True):
    """`layer`'s weight `log_logit_scale`, starting at `log(1 /
    temperature)`; float32 under mixed precision too (it scales float32
    cosines), and clipped after each step to `log(max_logit_scale)`, as
    CLIP clips the parameter rather than its gradient."""
    limit = math.log(max_logit_scale)
    return layer.add_weight(
        shape=(),
        initializer=keras.initializers.Constant(math.log(1.0 / temperature)),
        trainable=trainable,
        autocast=False,
        constraint=lambda value: ops.minimum(value, limit),
        name="log_logit_scale",
    )


def logit_scale(log_logit_scale, max_logit_scale):
    """The clipped logit scale of the weight `log_logit_scale`."""
    return ops.exp(ops.minimum(log_logit_scale, math.log(max_logit_scale)))


def normalize(embeddings):
    """L2-normalised in float32, so similarities and the loss are exact
    under mixed precision."""
    return ops.normalize(ops.cast(embeddings, "float32"), axis=-1)
