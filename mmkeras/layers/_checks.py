"""Argument and input checks shared by the layers, with messages that name
the argument, the received value and what is expected."""


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{name} must be a positive integer. Received: {name}={value!r}"
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
    if value not in allowed:
        raise ValueError(
            f"{name} must be one of {sorted(allowed)}. "
            f"Received: {name}={value!r}"
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
