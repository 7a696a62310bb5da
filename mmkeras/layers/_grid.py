"""Grid coordinates for image tokens: attention alone is blind to where a
token came from, so relational heads tag each token with its position."""

import math

import numpy as np
from keras import ops


def with_coordinates(tokens, coordinates):
    """`tokens` `(B, N, D)` with `coordinates` `(N, 2)` appended (or a grid
    `(B, H, W, D)` with `(H, W, 2)`)."""
    coordinates = ops.cast(coordinates, tokens.dtype)[None]
    coordinates = ops.broadcast_to(
        coordinates, (ops.shape(tokens)[0], *coordinates.shape[1:])
    )
    return ops.concatenate([tokens, coordinates], axis=-1)


def static_grid(owner, image_shape):
    """The `grid_coordinates` of the image tokens, whose number must be
    static for `owner` (named in the error) to tag them."""
    if image_shape[1] is None:
        raise ValueError(
            f"{owner} tags image tokens with coordinates and needs their "
            "number to be static. Received: image tokens of shape "
            f"{tuple(image_shape)}"
        )
    return grid_coordinates(image_shape[1])


def square_side(num_tokens):
    """The side of the square grid of `num_tokens` tokens, else None."""
    side = math.isqrt(num_tokens)
    return side if side * side == num_tokens and side > 1 else None


def grid_coordinates(num_tokens):
    """float32 `(num_tokens, 2)` in [-1, 1]: (row, column) of a square grid
    flattened row by row (as `ConvStem` does), else (index, 0)."""
    side = square_side(num_tokens)
    index = np.arange(num_tokens)
    if side is not None:
        rows, columns = index // side, index % side
        return (
            np.stack([rows, columns], -1).astype("float32") / ((side - 1) / 2)
            - 1.0
        )
    scale = max(num_tokens - 1, 1) / 2
    return np.stack([index / scale - 1.0, 0 * index], -1).astype("float32")
