"""Draws docs/img/similarity_grid.png: a zoo dual encoder's cosines
between scikit-image's photos (rows) and emoji captions (columns), the
right caption of each photo green and its best-scoring wrong one red.

    python tools/draw_similarity_grid.py [--entry NAME] [--out PNG]

The photos ship in scikit-image's wheel; nothing downloads.
"""

import argparse

import skimage.data

import mmkeras
from mmkeras import demo


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry", default=demo.DUAL_ENCODER_ENTRY)
    parser.add_argument("--out", default="docs/img/similarity_grid.png")
    args = parser.parse_args(argv)
    model = mmkeras.zoo.load(args.entry)
    # The demo's photos and the first right emoji caption of each, then
    # two wrong ones.
    names = [right[0] for right in demo.PHOTO_NAMES.values()]
    names += ["dog face: dog", "automobile: car, red car"]
    photos = [getattr(skimage.data, photo)() for photo in demo.PHOTO_NAMES]
    scores = model.draw_similarity(
        photos, names, args.out, matches=range(len(photos))
    )
    for photo, row in zip(demo.PHOTO_NAMES, scores, strict=True):
        cells = ", ".join(
            f"{n}: {s:.3f}" for n, s in zip(names, row, strict=True)
        )
        print(f"{photo}: {cells}")
    print(args.out)


if __name__ == "__main__":
    main()
