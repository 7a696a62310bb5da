"""Checks the vision-language layers share."""


def epsilon(value):
    """`layer_norm_epsilon`, checked before any norm is built."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
    ):
        raise ValueError(
            "layer_norm_epsilon must be a number >= 0. Received: "
            f"layer_norm_epsilon={value!r}"
        )


def leading_dims(name, shape, reference_name, reference_shape, count):
    """The first `count` axes of `shape` match `reference_shape`'s where
    both are known: a named error instead of TensorFlow's broadcast one."""
    pairs = zip(shape[:count], reference_shape[:count], strict=True)
    if any(None not in pair and pair[0] != pair[1] for pair in pairs):
        axes = "batch size" if count == 1 else "(batch, length)"
        raise ValueError(
            f"{name} must have the {axes} of {reference_name}. Received: "
            f"{name} with shape {tuple(shape)}, {reference_name} with shape "
            f"{tuple(reference_shape)}"
        )


def width(owner, name, shape, expected):
    """The last axis of `shape` is the `expected` width a built layer
    takes."""
    if shape[-1] != expected:
        raise ValueError(
            f"{name} must have {expected} features (the width this "
            f"{type(owner).__name__} was built with). Received: {name} with "
            f"shape {tuple(shape)}"
        )
