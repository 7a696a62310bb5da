"""Pictures of where a model looks.

    caption = mmkeras.explain.caption_attention(model, image, "where.png")

The map of a word is the last decoder block's cross-attention (averaged
over heads) from the position that predicted it over the image tokens,
shown by dimming the rest of the image. Image tokens must form a square
grid (conv and patch encoders do).

The drawing helpers (`display_pixels`, `panel`, `text_panel`, `heat`,
`sheet`, `save_png`) are public: a family's `explain` method draws its
pictures with them.
"""

import math
import os
import tempfile
import textwrap

import numpy as np
from keras import ops
from PIL import Image
from PIL import ImageDraw

from mmkeras.data import preprocess_image
from mmkeras.models import ImageCaptioner

PANEL = 160  # pixels per side of each drawn image
PANELS_PER_ROW = 6
# PIL's default font: about 6 pixels a character, 11 a line.
_CHARS_PER_LINE = 25
_LINE_HEIGHT = 12
_DIMMED = 0.15  # brightness of what gets no attention
_FRAME = (200, 200, 200)


def caption_attention(model, image, path):
    """Captions `image` greedily and writes its attention maps to `path`.

    Args:
        model: an `ImageCaptioner` with a tokenizer.
        image: `(height, width, 3)` pixels, uint8 or floats in [0, 255];
            resized to the model's input size.
        path: the PNG to write (atomically).

    Returns:
        The caption.
    """
    if not isinstance(model, ImageCaptioner) or model.tokenizer is None:
        raise ValueError(
            "caption_attention draws the words of an ImageCaptioner with a "
            f"tokenizer. Received: a {type(model).__name__}"
        )
    size = tuple(model.input_shapes()["image"][1:3])
    pixels = preprocess_image(np.asarray(image), size)[None]
    ids = model.generate(pixels, return_strings=False)
    maps = ops.convert_to_numpy(model.cross_attention_maps(pixels, ids))[0]
    words, rows = [], []
    for position, token in enumerate(ids[0, 1:]):
        if token in (model.end_token_id, model.pad_token_id):
            break
        words.append(model.tokenizer.id_to_token(int(token)))
        rows.append(maps[position])
    caption = model.tokenizer.detokenize(ids).numpy()[0].decode()
    base = panel(np.asarray(pixels[0]) * 255.0)
    panels = [(base, caption)]
    panels += [(heat(base, m), w) for w, m in zip(words, rows, strict=True)]
    save_png(sheet(panels), path)
    return caption


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
    """Writes the PIL `picture` to the PNG `path` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(
        dir=directory, suffix=".png", delete=False
    ) as file:
        picture.save(file, format="PNG")
    os.replace(file.name, path)
