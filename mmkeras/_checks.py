"""Argument and input checks shared across mmkeras, with messages that name
the argument, the received value and what is expected."""


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{name} must be a positive integer. Received: {name}={value!r}"
        )


def non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{name} must be a non-negative integer. Received: {name}={value!r}"
        )


def integer(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{name} must be an integer. Received: {name}={value!r}"
        )


def optional_integer(name, value):
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        raise ValueError(
            f"{name} must be an integer or None. Received: {name}={value!r}"
        )


def optional_positive_int(name, value):
    if value is not None:
        positive_int(name, value)


def rate(name, value):
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"{name} must be a float in [0, 1). Received: {name}={value!r}"
        )


def one_of(name, value, allowed):
    """`allowed` is a list or tuple (it may hold None), in display order."""
    if not any(value == option for option in allowed):
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(
            f"{name} must be one of {options}. Received: {name}={value!r}"
        )


def rank(name, shape, expected):
    if len(shape) != expected:
        raise ValueError(
            f"{name} must have rank {expected} but has shape {tuple(shape)}."
        )


def divisible(name, value, divisor_name, divisor):
    if value % divisor:
        raise ValueError(
            f"{name} must be divisible by {divisor_name}. Received: "
            f"{name}={value}, {divisor_name}={divisor}"
        )


def positive_ints(name, values):
    if (
        not isinstance(values, (list, tuple))
        or not values
        or any(
            isinstance(v, bool) or not isinstance(v, int) or v <= 0
            for v in values
        )
    ):
        raise ValueError(
            f"{name} must be a non-empty list of positive integers. "
            f"Received: {name}={values!r}"
        )


def tensor_list(name, shapes, minimum, maximum=None):
    """Checks `shapes` holds the shapes of `minimum`..`maximum` tensors."""
    is_list = isinstance(shapes, (list, tuple)) and all(
        isinstance(s, (list, tuple)) for s in shapes
    )
    count = len(shapes) if is_list else 1
    if is_list and minimum <= count <= (maximum or count):
        return
    if maximum == minimum:
        expected = f"exactly {minimum}"
    elif maximum is None:
        expected = f"at least {minimum}"
    else:
        expected = f"{minimum} to {maximum}"
    received = (
        f"{count} tensors with shapes {_shapes(shapes)}"
        if is_list
        else f"a single tensor of shape {tuple(shapes)}"
    )
    raise ValueError(
        f"{name} must be a list of {expected} tensors. Received: {received}"
    )


def ranks(name, shapes, allowed):
    """Checks every shape in `shapes` has one of the `allowed` ranks."""
    if any(len(shape) not in allowed for shape in shapes):
        expected = " or ".join(str(r) for r in sorted(allowed))
        raise ValueError(
            f"Each of {name} must have rank {expected}. Received: {name} "
            f"with shapes {_shapes(shapes)}"
        )


def same_shapes(name, shapes, ignore_last_axis=False):
    """Checks the shapes agree wherever both dimensions are known."""
    trimmed = [tuple(s)[:-1] if ignore_last_axis else tuple(s) for s in shapes]
    same_rank = len({len(s) for s in trimmed}) <= 1
    # Unknown (None) dimensions match anything; zip stops at the lowest rank.
    axes = zip(*trimmed, strict=False)
    known = [{d for d in dims if d is not None} for dims in axes]
    if not same_rank or any(len(dims) > 1 for dims in known):
        which = " except the last axis" if ignore_last_axis else ""
        raise ValueError(
            f"{name} must all have the same shape{which}. Received: {name} "
            f"with shapes {_shapes(shapes)}"
        )


def non_negative_numbers(name, values):
    """Checks `values` is a non-empty list of numbers >= 0 with sum > 0."""
    valid = (
        isinstance(values, (list, tuple))
        and len(values) > 0
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            for v in values
        )
        and sum(values) > 0
    )
    if not valid:
        raise ValueError(
            f"{name} must be a list of non-negative numbers with a positive "
            f"sum. Received: {name}={values!r}"
        )


def _shapes(shapes):
    return [tuple(shape) for shape in shapes]


def optional_image_size(name, value):
    """`None`, an int `n` (square) or `(height, width)`; returns the pair."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        positive_int(name, value)
        return (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"{name} must be an int or (height, width). Received: "
            f"{name}={value!r}"
        )
    positive_ints(name, list(value))
    return tuple(value)


def optional_names(name, values, count, count_name):
    """`None` or `count` distinct strings (class names, answers); returns a
    list (configs reload lists, so a tuple would not round-trip)."""
    if values is None:
        return None
    if (
        isinstance(values, str)
        or not isinstance(values, (list, tuple))
        or not all(isinstance(value, str) for value in values)
    ):
        raise ValueError(
            f"{name} must be a list of strings or None. Received: "
            f"{name}={values!r}"
        )
    if len(values) != count or len(set(values)) != count:
        raise ValueError(
            f"{name} must hold {count_name}={count} distinct strings, one "
            f"per class. Received {len(values)} ({len(set(values))} "
            "distinct)"
        )
    return list(values)


def float_images(owner, images, fix=None):
    """Image models take float pixels: uint8 must go through an
    `ImageConverter`, never be cast silently (to [0, 255] floats)."""
    dtype = str(getattr(images.dtype, "name", images.dtype))
    if "int" in dtype:
        fix = fix or (
            "convert them with mmkeras.layers.ImageConverter (or a task's "
            "preprocessor) first"
        )
        raise TypeError(
            f"{owner} takes float pixels in [0, 1], not {dtype} images; "
            f"{fix}. Received: dtype {dtype}"
        )
