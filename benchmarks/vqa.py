"""VQA accuracy: relation network vs CNN+MLP on Sort-of-CLEVR, co-attention
on easy-VQA.

Trains `mmkeras.models.VQAModel` from the builders and datasets of the
configs `mmkeras/configs/vqa_sort_of_clevr.py` and
`mmkeras/configs/vqa_easy_vqa.py` with plain `model.fit`, evaluating
every `--eval-every` steps (a learning curve) until `--steps` or the
`--minutes` budget runs out, then prints a table with the final test
accuracies, the command and the wall time.

Targets: Sort-of-CLEVR relational >= 94% and non-relational >= 99% for
`--fusion relation` (Santoro et al. 2017; their CNN+MLP baseline, here
`--fusion concat`, plateaus at 63% relational); easy-VQA test >= 99%.

    .venv/bin/python benchmarks/vqa.py sort-of-clevr --fusion relation
    .venv/bin/python benchmarks/vqa.py sort-of-clevr --fusion concat
    .venv/bin/python benchmarks/vqa.py easy-vqa
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _options  # noqa: E402
import click  # noqa: E402
import keras  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402

from mmkeras.data import splits  # noqa: E402
from mmkeras.models.vqa import builders  # noqa: E402

# The question types of Sort-of-CLEVR, as the tables name them.
QUESTION_TYPES = ("shape", "left/right", "top/bottom")
QUESTION_TYPES += ("closest", "furthest", "count")

# Wide enough for the per-question-type columns when piped to a log.
console = rich.console.Console(width=None if sys.stdout.isatty() else 150)


@click.group()
def main():
    """VQA accuracy benchmarks (see the module docstring)."""


@main.command("sort-of-clevr")
@click.option("--fusion", default="relation", show_default=True)
@click.option("--question-input", default="encoding", show_default=True)
@click.option("--hidden-dim", default=256, show_default=True)
@click.option("--learning-rate", default=2.5e-4, show_default=True)
@click.option(
    "--fusion-layers",
    default=2,
    show_default=True,
    help="Blocks of --fusion transformer.",
)
@_options.conv_encoder("24,24,24,24", "group", "4 blocks, 5x5 objects")
@click.option("--train-images", default=9800, show_default=True)
@click.option("--test-images", default=200, show_default=True)
@click.option("--steps", default=60_000, show_default=True)
@click.option("--eval-every", default=500, show_default=True)
@click.option("--minutes", default=60.0, show_default=True)
@_options.save
def sort_of_clevr(
    fusion,
    question_input,
    hidden_dim,
    learning_rate,
    fusion_layers,
    filters,
    normalization,
    coordinates,
    normalize_tokens,
    train_images,
    test_images,
    steps,
    eval_every,
    minutes,
    save,
):
    """Relational / non-relational test accuracy on Sort-of-CLEVR."""
    keras.utils.set_random_seed(0)
    train = splits.sort_of_clevr_splits(
        train_images, test_images, split="train"
    )
    tests = {
        name: splits.sort_of_clevr_splits(
            train_images,
            test_images,
            batch_size=256,
            question_type=name.replace("/", "_or_"),
            split="validation",
        ).cache()
        for name in QUESTION_TYPES
    }
    model = builders.sort_of_clevr_vqa(
        fusion,
        question_input,
        hidden_dim,
        learning_rate,
        fusion_layers,
        filters,
        normalization,
        coordinates,
        normalize_tokens,
    )
    _run(
        f"Sort-of-CLEVR, fusion={fusion}",
        model,
        train,
        tests,
        steps,
        eval_every,
        minutes,
        summaries={
            "non-relational": ("shape", "left/right", "top/bottom"),
            "relational": ("closest", "furthest", "count"),
        },
    )
    if save:
        model.save(save)


@main.command("easy-vqa")
@click.option("--fusion", default="co_attention", show_default=True)
@click.option("--steps", default=4800, show_default=True)
@click.option("--eval-every", default=300, show_default=True)
@click.option("--minutes", default=30.0, show_default=True)
def easy_vqa(fusion, steps, eval_every, minutes):
    """easy-VQA test accuracy."""
    keras.utils.set_random_seed(0)
    train, test = splits.easy_vqa_splits()
    model = builders.easy_vqa_coattention(fusion)
    tests = {"test": test.cache()}
    _run(
        f"easy-VQA, fusion={fusion}",
        model,
        train,
        tests,
        steps,
        eval_every,
        minutes,
    )


def _run(
    title, model, train, tests, steps, eval_every, minutes, summaries=None
):
    """Fits, evaluating `tests` every `eval_every` steps; `summaries` name
    accuracies over groups of tests (weighted by their sizes)."""
    command = " ".join([".venv/bin/python", *sys.argv])
    curve = _Curve(tests, eval_every, minutes, summaries or {})
    model.fit(
        train.repeat(),
        steps_per_epoch=eval_every,
        epochs=max(1, steps // eval_every),
        callbacks=[curve],
        verbose=0,
    )
    seconds = time.perf_counter() - curve.start
    table = rich.table.Table(title=f"{title}: test accuracy by step")
    for column in ("step", "minutes", "train loss", *curve.columns):
        table.add_column(column, justify="right")
    for row in curve.rows:
        table.add_row(*row)
    console.print(table)
    table = rich.table.Table(
        title=f"{title}: after {curve.rows[-1][0]} steps, {seconds:.0f} s"
    )
    for column in ("test accuracy", "value"):
        table.add_column(column)
    for name, value in curve.results.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    console.print(f"command: {command}")


class _Curve(keras.callbacks.Callback):
    """Evaluates every epoch (`eval_every` steps); stops past the budget."""

    def __init__(self, tests, eval_every, minutes, summaries):
        super().__init__()
        self.tests = tests
        self.eval_every = eval_every
        self.minutes = minutes
        self.summaries = summaries
        self.columns = [*summaries, *tests]
        self.sizes = {
            name: sum(int(x["answer_id"].shape[0]) for x in data)
            for name, data in tests.items()
        }
        self.rows, self.results = [], {}
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        accuracies = {
            name: self.model.evaluate(data, verbose=0, return_dict=True)[
                "accuracy"
            ]
            for name, data in self.tests.items()
        }
        for name, members in self.summaries.items():
            total = sum(self.sizes[m] for m in members)
            accuracies[name] = (
                sum(accuracies[m] * self.sizes[m] for m in members) / total
            )
        self.results = {name: accuracies[name] for name in self.columns}
        elapsed = (time.perf_counter() - self.start) / 60
        values = [logs["loss"], *self.results.values()]
        row = [str((epoch + 1) * self.eval_every), f"{elapsed:.1f}"]
        row += [f"{value:.4f}" for value in values]
        self.rows.append(row)
        console.print(" | ".join(row))
        if elapsed > self.minutes:
            self.model.stop_training = True


if __name__ == "__main__":
    main()
