"""The dual encoder's pictures: how one image ranks texts (`explain`) and
how texts rank images (`draw_retrieval`). Pixels are the converted ones
the model saw, drawn through the inverse of its `ImageConverter`."""


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


def _explain():
    # Imported when drawing: loading the models never loads PIL and the
    # drawing code.
    from mmkeras import explain

    return explain
