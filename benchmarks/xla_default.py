"""Does the layers' default `xla` cost time? The documented workloads with
the default, `xla=False` and `xla=True`, first epoch and total.

Workloads, each run in a fresh Python process (so every mode pays its own
tracing and compilation, as a user's first run does):

- `fusion`: a user's 30-line `FusionClassifier` script (`user_script`
  below): 512 colour-match examples as arrays, a tiny conv image encoder,
  a tiny transformer text encoder and attention fusion, batch 32,
  `validation_split=0.2` (a partial last batch and a validation set: new
  batch shapes), 2 epochs.
- `vqa_readme`: the README's task-model example: a tokenizer over 500
  easy-VQA questions, a `VQAModel` (tiny conv and text encoders, concat
  fusion, a `VQAPreprocessor`), `fit` on 2 batches of 32 raw examples, then
  `predict` on 4. Its first epoch is the whole `fit`.
- `captioner`: an `ImageCaptioner` (the shapes recipe's conv encoder, a
  2-layer, 4-head decoder of width 128) on 200 shapes scenes with one
  caption each, batch 32, validated on 40 scenes, 2 epochs.

A mode is `default` (no `xla` argument: what users get), `xla=False` or
`xla=True`, given to every encoder and model that takes one. `first epoch`
is the first `fit` epoch, its validation included; `total` is the
workload from building the model to its end. The processes of one
workload take turns (`--repeats` rounds), and the table gives the median
of each mode and its ratio to `xla=False` of the same workload: at most
1.00x (within noise) is the target for `default`.

    .venv/bin/python benchmarks/xla_default.py
    .venv/bin/python benchmarks/xla_default.py --repeats 2 \\
        --workloads fusion,captioner
"""

import json
import os
import statistics
import subprocess
import sys
import time

import click

# `python benchmarks/xla_default.py run <workload> <mode>` runs one
# workload in this process and prints its timings as one JSON line.
MODES = {"default": {}, "xla=False": {"xla": False}, "xla=True": {"xla": True}}


def user_script(xla, callbacks):
    """The user's script: FusionClassifier on colour-match arrays."""
    import keras
    import numpy as np

    import mmkeras

    data = mmkeras.data.color_match_arrays(512, seed=0)
    texts = data["text"].tolist()
    tokenizer = mmkeras.text.WordPieceTokenizer(
        mmkeras.text.build_vocabulary(texts, vocabulary_size=100),
        sequence_length=16,
    )
    keras.utils.set_random_seed(0)
    model = mmkeras.models.FusionClassifier(
        mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
        mmkeras.encoders.TransformerTextEncoder.from_preset(
            "tiny", vocabulary_size=tokenizer.vocabulary_size(), **xla
        ),
        num_classes=2,
        fusion="attention",
        **xla,
    )
    model.compile()
    inputs = {
        "image": data["image"].astype("float32") / 255.0,
        "token_ids": np.asarray(tokenizer(texts)),
    }
    model.fit(
        inputs,
        data["label"],
        batch_size=32,
        validation_split=0.2,
        epochs=2,
        callbacks=callbacks,
        verbose=0,
    )


def vqa_readme(xla, callbacks):
    """README.md's "Task models" block, with its tokenizer."""
    import mmkeras

    questions = mmkeras.data.easy_vqa("test")
    texts = [
        x["question"].decode() for x in questions.take(500).as_numpy_iterator()
    ]
    tokenizer = mmkeras.text.WordPieceTokenizer(
        mmkeras.text.build_vocabulary(texts, vocabulary_size=200),
        sequence_length=16,
    )
    model = mmkeras.models.VQAModel(
        mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
        mmkeras.encoders.TransformerTextEncoder.from_preset(
            "tiny",
            vocabulary_size=tokenizer.vocabulary_size(),
            sequence_length=16,
            **xla,
        ),
        num_answers=13,
        fusion="concat",
        preprocessor=mmkeras.models.VQAPreprocessor(
            mmkeras.layers.ImageConverter(image_size=(64, 64)), tokenizer
        ),
        answers=mmkeras.data.easy_vqa_answers(),
        **xla,
    )
    model.compile()
    model.fit(
        questions.batch(32).take(2), epochs=1, callbacks=callbacks, verbose=0
    )
    model.predict(questions.batch(4).take(1), verbose=0).argmax(-1)


def captioner(xla, callbacks):
    """A shapes captioner's `fit`, with a validation set."""
    import keras

    import mmkeras
    from mmkeras.models.captioner import builders

    keras.utils.set_random_seed(0)
    model = mmkeras.models.ImageCaptioner(
        mmkeras.encoders.ConvImageEncoder(
            filters=(32, 64, 128, 128), hidden_dim=128
        ),
        vocabulary_size=builders.shapes_caption_tokenizer().vocabulary_size(),
        sequence_length=builders.SEQUENCE_LENGTH,
        num_layers=2,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        preprocessor=builders.shapes_caption_preprocessor(),
        **xla,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def scenes(count, seed):
        return mmkeras.data.shapes_captions(
            count, seed=seed, captions_per_image=1, batch_size=32
        )

    model.fit(
        scenes(200, 0),
        validation_data=scenes(40, 1),
        epochs=2,
        callbacks=callbacks,
        verbose=0,
    )


WORKLOADS = {
    "fusion": user_script,
    "vqa_readme": vqa_readme,
    "captioner": captioner,
}


def run_one(workload, mode):
    """Runs `workload` in `mode` here; returns its timings in seconds."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self._start)

    timer = EpochTimer()
    start = time.perf_counter()
    WORKLOADS[workload](MODES[mode], [timer])
    return {
        "first_epoch": timer.epochs[0],
        "total": time.perf_counter() - start,
    }


def measure(workload, mode):
    """Runs one workload and mode in a fresh process; its timings."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "run", workload, mode]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode or not lines:
        raise RuntimeError(
            f"{workload} with {mode} failed (exit {result.returncode}):\n"
            f"{result.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


def table(results, repeats, load):
    import rich.table

    out = rich.table.Table(
        title=f"Default xla vs xla=False vs xla=True, fresh process per run, "
        f"median of {repeats} (load average {load:.1f} at the start)"
    )
    for column in (
        "workload",
        "mode",
        "first epoch (s)",
        "total (s)",
        "first epoch\nvs xla=False",
        "total\nvs xla=False",
    ):
        out.add_column(column, justify="left" if column == "mode" else "right")
    for workload, modes in results.items():
        plain = {
            key: statistics.median(run[key] for run in modes["xla=False"])
            for key in ("first_epoch", "total")
        }
        for mode, runs in modes.items():
            median = {
                key: statistics.median(run[key] for run in runs)
                for key in ("first_epoch", "total")
            }
            out.add_row(
                workload,
                mode,
                f"{median['first_epoch']:.1f}",
                f"{median['total']:.1f}",
                f"{median['first_epoch'] / plain['first_epoch']:.2f}x",
                f"{median['total'] / plain['total']:.2f}x",
            )
        out.add_section()
    return out


@click.group(invoke_without_command=True)
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--workloads",
    default=",".join(WORKLOADS),
    show_default=True,
    help="Comma-separated, from: " + ", ".join(WORKLOADS),
)
@click.pass_context
def main(ctx, repeats, workloads):
    """Times the documented workloads in every xla mode; prints a table."""
    if ctx.invoked_subcommand is not None:
        return
    import _timing

    chosen = [name.strip() for name in workloads.split(",")]
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        raise click.BadParameter(
            f"unknown workloads {unknown}; choose from {list(WORKLOADS)}.",
            param_hint="--workloads",
        )
    load = os.getloadavg()[0]
    started = time.perf_counter()
    results = {name: {mode: [] for mode in MODES} for name in chosen}
    for _ in range(repeats):
        for name in chosen:
            for mode in MODES:
                timings = measure(name, mode)
                results[name][mode].append(timings)
                print(
                    f"{name} {mode}: first epoch "
                    f"{timings['first_epoch']:.1f} s, total "
                    f"{timings['total']:.1f} s",
                    flush=True,
                )
    console = _timing.print_table(table(results, repeats, load), started)
    console.print(f"command: {' '.join([sys.executable, *sys.argv])}")


@main.command(hidden=True)
@click.argument("workload", type=click.Choice(list(WORKLOADS)))
@click.argument("mode", type=click.Choice(list(MODES)))
def run(workload, mode):
    print(json.dumps(run_one(workload, mode)))


if __name__ == "__main__":
    main()
