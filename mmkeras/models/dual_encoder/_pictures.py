"""The dual encoder's pictures: how one image ranks texts (`explain`) and
how texts rank images (`draw_retrieval`)."""

import numpy as np


def display_pixels(pixels, converter):
    """Converted pixels back to [0, 255] for drawing (the inverse of the
    `ImageConverter`'s scale and offset)."""
    offset, scale = np.asarray(converter.offset), np.asarray(converter.scale)
    unit = (np.asarray(pixels) - offset) / scale
    return np.clip(unit * 255.0, 0.0, 255.0)


def text_ranking(image, texts, order, scores, path):
    """One row: the image, then `texts` in `order` with their cosines."""
    explain = _explain()
    panels = [(explain.panel(image), "the image; texts best first:")]
    panels += [
        (explain.text_panel(texts[i]), f"{rank}. cosine {scores[i]:.3f}")
        for rank, i in enumerate(order, 1)
    ]
    explain.save_png(explain.sheet(panels, columns=len(panels)), path)


def image_ranking(texts, images, indices, scores, path):
    """One row per text: the text, then its best images with cosines."""
    explain = _explain()
    panels = []
    for text, row, row_scores in zip(texts, indices, scores, strict=True):
        panels.append((explain.text_panel(text), ""))
        panels += [
            (explain.panel(images[i]), f"{rank}. cosine {score:.3f}")
            for rank, (i, score) in enumerate(
                zip(row, row_scores, strict=True), 1
            )
        ]
    columns = indices.shape[1] + 1
    explain.save_png(explain.sheet(panels, columns=columns), path)


def _explain():
    # Imported when drawing: loading the models never loads PIL and the
    # drawing code (nor whatever mmkeras.explain imports).
    from mmkeras import explain

    return explain
