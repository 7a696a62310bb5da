"""The dual encoder's pictures: how one image ranks texts (`explain`),
how texts rank images (`draw_retrieval`) and the similarity grid of
images and texts (`draw_similarity`). Pixels are the converted ones the
model saw, drawn through the inverse of its `ImageConverter`."""

import textwrap

import numpy as np
from keras import ops

_RIGHT = (150, 220, 150)  # the right text's cell
_WRONG = (240, 150, 150)  # the best-scoring wrong text's cell
_FONT_SIZE = 28
# The column headings: 13 characters a line fit a panel at this size.
_HEADING_SIZE = 20
_HEADING_CHARS = 13
_LINE = (200, 200, 200)


def text_ranking(pixels, converter, texts, order, scores, path):
    """One row: the image, then `texts` in `order` with their cosines."""
    explain = _explain()
    image = explain.panel(explain.display_pixels(pixels, converter))
    panels = [(image, "the image; texts best first:")]
    panels += [
        (explain.text_panel(texts[i]), f"{rank}. cosine {scores[i]:.3f}")
        for rank, i in enumerate(order, 1)
    ]
    explain.save_png(explain.sheet(panels, columns=len(panels)), path)


def image_ranking(texts, pixels, converter, indices, scores, path):
    """One row per text: the text, then its best images with cosines."""
    explain = _explain()
    images = [
        explain.panel(explain.display_pixels(image, converter))
        for image in pixels
    ]
    panels = []
    for text, row, row_scores in zip(texts, indices, scores, strict=True):
        panels.append((explain.text_panel(text), ""))
        panels += [
            (images[i], f"{rank}. cosine {score:.3f}")
            for rank, (i, score) in enumerate(
                zip(row, row_scores, strict=True), 1
            )
        ]
    columns = indices.shape[1] + 1
    explain.save_png(explain.sheet(panels, columns=columns), path)


def draw_similarity(model, images, texts, path, matches=None):
    """Draws the cosine of every image (rows) with every text (columns)
    into the PNG `path`. Where `matches[i]` names image `i`'s right
    text (its index in `texts`), that cell is green and the best-scoring
    wrong text's red: a red cell above the green one is a retrieval
    error. Without a match (None) the row's best cell is framed.

    Args:
        model: a `DualEncoder` with a preprocessor and tokenizer.
        images: `(height, width, 3)` pixels each (uint8, or floats in
            [0, 1]), any sizes.
        texts: the strings of the columns.
        path: the PNG to write (atomically).
        matches: None, or one text index (or None) per image.

    Returns:
        The cosines, `(len(images), len(texts))`.
    """
    images, texts = list(images), list(texts)
    if not images or not texts:
        raise ValueError(
            "a similarity grid needs at least one image and one text. "
            f"Received: {len(images)} images, {len(texts)} texts"
        )
    matches = [None] * len(images) if matches is None else list(matches)
    if len(matches) != len(images) or any(
        m is not None and m not in range(len(texts)) for m in matches
    ):
        raise ValueError(
            f"matches must give each of the {len(images)} images the index "
            f"of its right text in [0, {len(texts)}) or None. Received: "
            f"matches={matches!r}"
        )
    converter = model.preprocessor.image_converter
    pixels = ops.concatenate(
        [model.preprocessor.convert_images(np.asarray(i)[None]) for i in images]
    )
    scores = ops.convert_to_numpy(
        model.score(pixels, model.preprocessor.tokenize(texts))
    )
    _grid(ops.convert_to_numpy(pixels), converter, texts, scores, matches, path)
    return scores


def _grid(pixels, converter, texts, scores, matches, path):
    from PIL import Image
    from PIL import ImageDraw
    from PIL import ImageFont

    explain = _explain()
    side = explain.PANEL
    picture = Image.new(
        "RGB", ((len(texts) + 1) * side, (len(pixels) + 1) * side), "white"
    )
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=_FONT_SIZE)
    heading = ImageFont.load_default(size=_HEADING_SIZE)
    for column, text in enumerate(texts, 1):
        lines = textwrap.wrap(text, _HEADING_CHARS)
        draw.multiline_text(
            (column * side + 6, 6), "\n".join(lines), "black", heading
        )
    for row, (image, row_scores, match) in enumerate(
        zip(pixels, scores, matches, strict=True), 1
    ):
        panel = explain.panel(explain.display_pixels(image, converter))
        picture.paste(Image.fromarray(panel.astype("uint8")), (0, row * side))
        fills = {}
        if match is not None:
            fills[match] = _RIGHT
            wrong = [j for j in np.argsort(-row_scores) if j != match]
            if wrong:
                fills[int(wrong[0])] = _WRONG
        best = int(np.argmax(row_scores))
        for column, score in enumerate(row_scores):
            x, y = (column + 1) * side, row * side
            box = [x, y, x + side - 1, y + side - 1]
            draw.rectangle(box, fill=fills.get(column, "white"), outline=_LINE)
            if match is None and column == best:
                draw.rectangle(box, outline="black", width=4)
            draw.text(
                (x + side // 2, y + side // 2),
                f"{score:.3f}",
                fill="black",
                font=font,
                anchor="mm",
            )
    for row in range(len(pixels) + 1):
        for column in range(len(texts) + 1):
            x, y = column * side, row * side
            draw.rectangle([x, y, x + side - 1, y + side - 1], outline=_LINE)
    explain.save_png(picture, path)


def _explain():
    # Imported when drawing: loading the models never loads PIL and the
    # drawing code.
    from mmkeras import explain

    return explain
