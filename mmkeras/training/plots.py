"""`plot_history`: training curves from a run's `history.json`, as a PNG."""

import math
import os

from mmkeras import _files
from mmkeras.training.callbacks import read_history


def plot_history(history, path, title=None):
    """Draws one panel per metric, its validation curve beside it.

    Args:
        history: a dict of per-epoch lists (`keras.callbacks.History`'s
            `.history`, or the `history.json` that `mmkeras train` writes),
            a path to that file, or the run directory holding it.
        path: the PNG to write (atomically).
        title: an optional title over the panels.

    Returns:
        The names of the metrics drawn.
    """
    history = _load(history)
    epochs = history.get("epoch") or list(
        range(1, 1 + max(map(len, history.values()), default=0))
    )
    metrics = [
        key for key in history if key != "epoch" and not key.startswith("val_")
    ]
    if not metrics:
        raise ValueError(
            "The history has no metrics to draw; it should hold per-epoch "
            f"lists such as 'loss'. Received keys: {sorted(history)}"
        )
    # Imported here: only plotting needs matplotlib, and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    columns = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / columns)
    figure, axes = pyplot.subplots(
        rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False
    )
    for axis, metric in zip(axes.flat, metrics, strict=False):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history:
                # None: an epoch that did not log this metric.
                values = [math.nan if v is None else v for v in history[key]]
                axis.plot(epochs, values, marker="o", label=label)
        axis.set_title(metric)
        if (
            "loss" in metric
            and min((v for v in history[metric] if v is not None), default=0)
            > 0
        ):
            axis.set_yscale("log")  # late epochs' losses are tiny
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    try:
        with _files.atomic_path(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    finally:
        pyplot.close(figure)
    return metrics


def _load(history):
    if isinstance(history, dict):
        return history
    path = os.fspath(history)
    if os.path.isdir(path):
        path = os.path.join(path, "history.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No training history at {path}; `mmkeras train CONFIG --out "
            "DIR` writes DIR/history.json after every epoch."
        )
    return read_history(path)
