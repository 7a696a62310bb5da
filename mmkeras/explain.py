"""Pictures of where a model looks: each family's `explain` method
(`model.explain(image, "where.png")`, `mmkeras explain`) draws with these
helpers. A map over image tokens (`heat`) dims what got no attention;
image tokens must form a square grid (conv and patch encoders do).

The drawing helpers (`display_pixels`, `panel`, `text_panel`, `heat`,
`sheet`, `save_png`) are public: a family's `explain` method draws its
pictures with them.
"""

import math
import textwrap

import numpy as np
from PIL import Image
from PIL import ImageDraw

from mmkeras import _files

PANEL = 160  # pixels per side of each drawn image
PANELS_PER_ROW = 6
# PIL's default font: about 6 pixels a character, 11 a line.
_CHARS_PER_LINE = 25
_LINE_HEIGHT = 12
_DIMMED = 0.15  # brightness of what gets no attention
_FRAME = (200, 200, 200)


def display_pixels(pixels, converter):
    """Converted pixels `(height, width, 3)` back to [0, 255] for drawing:
    the inverse of the `ImageConverter`'s scale and offset."""
    unit = (np.asarray(pixels) - converter.offset) / np.asarray(converter.scale)
    return np.clip(unit * 255.0, 0.0, 255.0)


def text_panel(text):
    """A white panel with `text` written on it."""
    image = Image.new("RGB", (PANEL, PANEL), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(textwrap.wrap(text, _CHARS_PER_LINE)):
        draw.text((6, 6 + row * _LINE_HEIGHT), line, fill="black")
    return np.asarray(image).astype("float32")


def panel(pixels):
    """`(height, width, 3)` pixels in [0, 255] as a square drawing panel."""
    image = Image.fromarray(pixels.astype("uint8")).resize((PANEL, PANEL))
    return np.asarray(image).astype("float32")


def heat(base, weights):
    """`base` lit by `weights` over a square grid of image tokens: what
    the model looked at keeps its colours, the rest is dimmed (a colour
    overlay would hide objects of its own colour)."""
    side = math.isqrt(weights.size)
    if side * side != weights.size:
        raise ValueError(
            f"the image encoder gives {weights.size} tokens, not a square "
            "grid, so they cannot be drawn over the image"
        )
    grid = weights.reshape(side, side)
    grid = grid / max(float(grid.max()), 1e-9)
    grid = Image.fromarray((grid * 255).astype("uint8"))
    grid = np.asarray(grid.resize((PANEL, PANEL), Image.BILINEAR))
    light = grid[..., None].astype("float32") / 255.0
    return base * (_DIMMED + (1 - _DIMMED) * light)


def sheet(panels, columns=PANELS_PER_ROW):
    """Panels `(pixels, label)` in rows of `columns`, each label wrapped
    under its panel."""
    labels = [
        textwrap.wrap(label, _CHARS_PER_LINE) or [""] for _, label in panels
    ]
    columns = min(len(panels), columns)
    rows = math.ceil(len(panels) / columns)
    height = PANEL + _LINE_HEIGHT * max(len(lines) for lines in labels) + 6
    picture = Image.new("RGB", (columns * PANEL, rows * height), "white")
    draw = ImageDraw.Draw(picture)
    for i, ((pixels, _), lines) in enumerate(zip(panels, labels, strict=True)):
        x, y = (i % columns) * PANEL, (i // columns) * height
        picture.paste(Image.fromarray(pixels.astype("uint8")), (x, y))
        # A frame: white scenes would run into each other.
        draw.rectangle([x, y, x + PANEL - 1, y + PANEL - 1], outline=_FRAME)
        for row, line in enumerate(lines):
            position = (x + 4, y + PANEL + 3 + row * _LINE_HEIGHT)
            draw.text(position, line, fill="black")
    return picture


def save_png(picture, path):
    """Writes the PIL `picture` to the PNG `path` atomically, readable as
    the umask allows (a server running as another user shows it)."""
    with _files.atomic_path(path, ".png") as temporary:
        picture.save(temporary, format="PNG")
