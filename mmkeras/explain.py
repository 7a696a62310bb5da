"""Pictures of where a captioner looks: one attention map per word.

    caption = mmkeras.explain.caption_attention(model, image, "where.png")

The map of a word is the last decoder block's cross-attention (averaged
over heads) from the position that predicted it over the image tokens,
drawn in red over the image. Image tokens must form a square grid (conv
and patch encoders do).
"""

import math
import os
import tempfile

import numpy as np
from keras import ops
from PIL import Image
from PIL import ImageDraw

from mmkeras.data import preprocess_image
from mmkeras.models import ImageCaptioner

PANEL = 160  # pixels per side of each drawn image
PANELS_PER_ROW = 6
_TEXT_HEIGHT = 18
_RED = np.array([255, 0, 0], "float32")


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
    picture = _draw(np.asarray(pixels[0]) * 255.0, caption, words, rows)
    _save_png(picture, path)
    return caption


def _draw(pixels, caption, words, maps):
    side = math.isqrt(maps[0].size) if maps else 0
    if maps and side * side != maps[0].size:
        raise ValueError(
            f"the image encoder gives {maps[0].size} tokens, not a square "
            "grid, so they cannot be drawn over the image"
        )
    base = np.asarray(
        Image.fromarray(pixels.astype("uint8")).resize((PANEL, PANEL))
    ).astype("float32")
    panels = [(base, caption)]
    for word, weights in zip(words, maps, strict=True):
        grid = weights.reshape(side, side)
        grid = grid / max(float(grid.max()), 1e-9)
        heat = Image.fromarray((grid * 255).astype("uint8"))
        heat = np.asarray(heat.resize((PANEL, PANEL), Image.BILINEAR))
        alpha = 0.6 * heat[..., None].astype("float32") / 255.0
        panels.append((base * (1 - alpha) + _RED * alpha, word))
    columns = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / columns)
    height = PANEL + _TEXT_HEIGHT
    sheet = Image.new("RGB", (columns * PANEL, rows * height), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (panel, label) in enumerate(panels):
        x, y = (i % columns) * PANEL, (i // columns) * height
        sheet.paste(Image.fromarray(panel.astype("uint8")), (x, y))
        draw.text((x + 4, y + PANEL + 3), label, fill="black")
    return sheet


def _save_png(picture, path):
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(
        dir=directory, suffix=".png", delete=False
    ) as file:
        picture.save(file, format="PNG")
    os.replace(file.name, path)
