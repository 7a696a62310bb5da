"""Held-out image-text recall@K of a CLIP-style `DualEncoder` on shapes.

Trains `--config dual_encoder_shapes` (the default: tiny conv image tower
with max pooling, tiny transformer text tower, 64-d shared space, InfoNCE
with a learned temperature) or `--config dual_encoder_pretrained`
(EfficientNet-Lite0 and frozen MiniLM from the zoo) on generated scenes
with one caption each, then reports recall@1/5/10 both ways over whole
sets with `DualEncoder.evaluate_retrieval`:

- `train pairs`: the first `--num-validation` training pairs (memorisation).
- `held out`: fresh scenes of the same distribution (another seed).
- `withheld pairs`: the `split="test"` scenes, each holding a colour-shape
  pair that training never shows (compositional generalisation).

Captions are ambiguous ("a red circle" is true of about half the scenes),
so each held-out row has an `oracle` row: a model that scores a caption 1
when it is true of the scene and 0 otherwise, ties broken at random
(expected recall `min(1, K / number of true matches)`). `chance` is
`K / set size`. `true@1` is the share of queries whose top hit is true
(the caption of the scene, or a scene of the caption), which the
ambiguity does not cap: the oracle's is 1.

    .venv/bin/python benchmarks/dual_encoder.py            # ~5 min, 2 CPUs
    .venv/bin/python benchmarks/dual_encoder.py --epochs 2 --num-train 512
    .venv/bin/python benchmarks/dual_encoder.py --config \
        dual_encoder_pretrained --epochs 3 --num-train 40000 --save clip.keras
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from mmkeras import training  # noqa: E402
from mmkeras.data import caption_grammar  # noqa: E402
from mmkeras.data import splits  # noqa: E402
from mmkeras.evaluation.retrieval import oracle_recall  # noqa: E402

KS = (1, 5, 10)
DIRECTIONS = ("image_to_text", "text_to_image")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument("--num-validation", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--config",
        default="dual_encoder_shapes",
        choices=["dual_encoder_shapes", "dual_encoder_pretrained"],
    )
    parser.add_argument(
        "--save", help="Write the trained model to this .keras file."
    )
    args = parser.parse_args()
    config = training.load_config(args.config)
    console = Console()
    keras.utils.set_random_seed(args.seed)
    start = time.time()
    config["data"]["kwargs"] = {
        "num_train": args.num_train,
        "num_validation": args.num_validation,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    train, validation = training.build_datasets(config)
    model = training.build_model(config)
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
        data = splits.caption_pairs(count, seed, split, args.batch_size)
        truth = caption_grammar.caption_truth(count, seed, split)
        result = model.evaluate_retrieval(data, KS, relevant=truth)
        rows.append((name, result))
        if name != "train pairs":
            oracle = oracle_recall(truth, KS)
            rows.append(("  oracle", oracle))
    chance = {f"recall_at_{k}_{d}": k / n for d in DIRECTIONS for k in KS}
    # A random hit is true as often as a caption is true of a scene.
    chance |= {f"true_at_1_{d}": float(truth.mean()) for d in DIRECTIONS}
    rows.append(("  chance", chance))
    if args.save:
        model.save(args.save)
    total_time = time.time() - start

    table = Table(
        title=f"{args.config} on shapes captions ({n} pairs per set)",
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
    keys = []
    for d in DIRECTIONS:
        short = "i→t" if d == "image_to_text" else "t→i"
        for k in KS:
            table.add_column(f"{short} R@{k}", justify="right")
            keys.append(f"recall_at_{k}_{d}")
        table.add_column(f"{short} true@1", justify="right")
        keys.append(f"true_at_1_{d}")
    for name, result in rows:
        table.add_row(
            name,
            *[f"{result[key]:.3f}" if key in result else "" for key in keys],
        )
    console.print(table)


if __name__ == "__main__":
    main()
