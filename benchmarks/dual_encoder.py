"""Held-out image-text recall@K of a CLIP-style `DualEncoder` on shapes.

Trains `mmkeras.configs.dual_encoder_shapes` (tiny conv image tower with
max pooling, tiny transformer text tower, 64-d shared space, InfoNCE with a
learned temperature) on generated scenes with one caption each, then
reports recall@1/5/10 both ways over whole sets with
`DualEncoder.evaluate_retrieval`:

- `train pairs`: the first `--num-validation` training pairs (memorisation).
- `held out`: fresh scenes of the same distribution (another seed).
- `withheld pairs`: the `split="test"` scenes, each holding a colour-shape
  pair that training never shows (compositional generalisation).

Captions are ambiguous ("a red circle" is true of about half the scenes),
so each held-out row has an `oracle` row: a model that scores a caption 1
when it is true of the scene and 0 otherwise, ties broken at random
(expected recall `min(1, K / number of true matches)`). `chance` is
`K / set size`.

    .venv/bin/python benchmarks/dual_encoder.py            # ~5 min, 2 CPUs
    .venv/bin/python benchmarks/dual_encoder.py --epochs 2 --num-train 512
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from mmkeras.configs import dual_encoder_shapes as config  # noqa: E402
from mmkeras.data import _captions  # noqa: E402
from mmkeras.data import shapes  # noqa: E402

KS = (1, 5, 10)
DIRECTIONS = ("image_to_text", "text_to_image")


def oracle_recall(num_images, seed, split):
    """Expected recall@K of a model that knows which captions are true."""
    scenes = shapes.generate_scenes(num_images, seed, split)
    captions = [
        element["caption"].numpy().decode()
        for element in shapes.shapes_captions(
            num_images, seed, split=split, captions_per_image=1
        )
    ]
    true = [{c.text for c in _captions.true_captions(s, "all")} for s in scenes]
    # truth[i, j]: caption j is true of scene i (the diagonal always is).
    truth = np.array([[c in t for c in captions] for t in true])
    matches = {
        "image_to_text": truth.sum(axis=1),
        "text_to_image": truth.sum(axis=0),
    }
    return {
        f"recall_at_{k}_{d}": float(np.mean(np.minimum(1.0, k / matches[d])))
        for d in DIRECTIONS
        for k in KS
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument("--num-validation", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console()
    keras.utils.set_random_seed(args.seed)
    start = time.time()
    train, validation = config.datasets(
        args.num_train, args.num_validation, args.batch_size, args.seed
    )
    model = config.model()
    history = model.fit(
        train, validation_data=validation, epochs=args.epochs, verbose=2
    )
    train_time = time.time() - start
    n = args.num_validation
    sets = {
        "train pairs": (n, args.seed, "all"),
        "held out": (n, args.seed + 1, "all"),
        "withheld pairs": (n, args.seed + 2, "test"),
    }
    rows = []
    for name, (count, seed, split) in sets.items():
        data = config.caption_pairs(count, seed, split, args.batch_size)
        rows.append((name, model.evaluate_retrieval(data, KS)))
        if name != "train pairs":
            rows.append(("  oracle", oracle_recall(count, seed, split)))
    rows.append(
        (
            "  chance",
            {f"recall_at_{k}_{d}": k / n for d in DIRECTIONS for k in KS},
        )
    )
    total_time = time.time() - start

    table = Table(
        title=f"DualEncoder on shapes captions ({n} pairs per set)",
        caption=(
            f"command: {' '.join([sys.executable, *sys.argv])}\n"
            f"train {args.num_train} pairs x {args.epochs} epochs: "
            f"{train_time:.0f} s; total {total_time:.0f} s; final loss "
            f"{history.history['loss'][-1]:.3f}, val loss "
            f"{history.history['val_loss'][-1]:.3f}, logit scale "
            f"{float(model.logit_scale):.1f}; load average "
            f"{os.getloadavg()[0]:.1f}"
        ),
    )
    table.add_column("set")
    for d in DIRECTIONS:
        for k in KS:
            short = "i→t" if d == "image_to_text" else "t→i"
            table.add_column(f"{short} R@{k}", justify="right")
    for name, result in rows:
        table.add_row(
            name,
            *[
                f"{result[f'recall_at_{k}_{d}']:.3f}"
                for d in DIRECTIONS
                for k in KS
            ],
        )
    console.print(table)


if __name__ == "__main__":
    main()
