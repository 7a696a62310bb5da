"""Argument checks for the samplers, with messages that name the argument,
the received value and what is expected."""

from mmkeras._checks import positive_int


def positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        valid = False
    else:
        valid = value > 0
    if not valid:
        raise ValueError(
            f"{name} must be a positive number. Received: {name}={value!r}"
        )


def probability(name, value):
    valid = not isinstance(value, bool) and isinstance(value, (int, float))
    if not valid or not 0.0 < value <= 1.0:
        raise ValueError(
            f"{name} must be a float in (0, 1]. Received: {name}={value!r}"
        )


def optional_int(name, value):
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        raise ValueError(
            f"{name} must be an integer or None. Received: {name}={value!r}"
        )


__all__ = ["optional_int", "positive_int", "positive_number", "probability"]
