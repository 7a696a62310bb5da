"""The `mmkeras` command: thin click commands over the library APIs.

Library errors become one line on stderr and exit code 1 (2 for usage
errors, which click reports itself); `--debug` shows the traceback.
"""

import os
import sys

import click

import mmkeras


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ValueError, TypeError, OSError) as error:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(mmkeras.__version__, prog_name="mmkeras")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(debug):
    """mmkeras: multimodal (image + text) models for TensorFlow / Keras 3."""


_SAMPLER = click.option(
    "--sampler",
    default=None,
    help="How a generating model (a captioner) decodes: greedy (the "
    "default), beam (5 beams), top_k or top_p.",
)


@cli.command()
@click.argument("config")
@click.option(
    "--out",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output directory; run the same command again to resume.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set epochs=2 (repeatable).",
)
def train(config, output_dir, overrides):
    """Train from CONFIG (a name in mmkeras/configs or a .py file)."""
    from mmkeras import training

    settings = training.apply_overrides(training.load_config(config), overrides)
    words = ["mmkeras", "train", config, "--out", output_dir]
    for override in overrides:
        words += ["--set", override]
    _, history = training.train(
        settings, output_dir, command=" ".join(map(_quoted, words))
    )
    if history:
        last = {key: values[-1] for key, values in history.items()}
        click.echo(f"final epoch: {last}")
    elif settings["epochs"] == 0:
        click.echo(f"0 epochs: the model as built, in {output_dir}.")
    else:
        click.echo(f"{output_dir} already holds a finished run.")


def _quoted(word):
    """`word` as a shell reads it back: plain, in single quotes, or in
    double quotes when it holds single quotes (Python literals do)."""
    import shlex

    quoted = shlex.quote(word)
    if "'\"'\"'" in quoted and not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return quoted


@cli.command("export")
@click.argument("model_path", metavar="MODEL")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["saved_model", "onnx", "all"]),
    default="saved_model",
    show_default=True,
)
@click.option(
    "--out",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output directory; artifacts go to OUT/<kind>/<version>/.",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Run each artifact in a fresh process against the Keras model.",
)
@click.option(
    "--xla/--no-xla",
    default=None,
    help="Also write saved_model_xla (default: if the model uses XLA).",
)
@_SAMPLER
def export_command(model_path, format_, output_dir, verify, xla, sampler):
    """Export MODEL (a zoo name or a .keras file) as SavedModel and/or
    ONNX, verified."""
    from mmkeras import export

    model = _load_model(model_path)
    written = export.export(
        model,
        output_dir,
        format=format_,
        verify=verify,
        xla=xla,
        sampler=sampler,
    )
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")


def _load_model(name_or_path):
    """A `.keras` file, or else a zoo entry name."""
    import keras

    if not name_or_path.endswith(".keras"):
        return mmkeras.zoo.load(name_or_path)
    if not os.path.isfile(name_or_path):
        raise FileNotFoundError(f"No .keras file at {name_or_path!r}.")
    try:
        return keras.saving.load_model(name_or_path)
    except Exception as error:  # zipfile, h5py and Keras errors alike
        raise ValueError(
            f"{name_or_path!r} is not a loadable .keras file: {error}"
        ) from error


@cli.group()
def zoo():
    """Pretrained models: list, inspect and download zoo entries."""


@zoo.command("list")
def zoo_list():
    """Every entry with its family, version and metrics."""
    import rich.console
    import rich.table

    table = rich.table.Table(box=None)
    for column in ("name", "family", "version", "metrics"):
        table.add_column(column)
    for name in mmkeras.zoo.list_models():
        manifest = mmkeras.zoo.info(name)
        metrics = ", ".join(
            f"{key}={value:.4g}"
            if isinstance(value, float)
            else f"{key}={value}"
            for key, value in manifest["metrics"].items()
        )
        table.add_row(name, manifest["family"], manifest["version"], metrics)
    rich.console.Console(width=200).print(table)


@zoo.command("info")
@click.argument("name")
def zoo_info(name):
    """The manifest of NAME, as JSON."""
    import json

    click.echo(json.dumps(mmkeras.zoo.info(name), indent=2))


@zoo.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every entry.")
def zoo_download(names, everything):
    """Fetch and verify the files of NAMES into the cache."""
    if bool(names) == everything:
        raise click.UsageError("give entry names or --all, not both")
    for name in mmkeras.zoo.list_models() if everything else names:
        for file, path in mmkeras.zoo.download(name).items():
            click.echo(f"{name} {file}: {path}")


@cli.command()
@click.argument("target", metavar="NAME_OR_PATH")
def evaluate(target):
    """Measure a model again with the evaluator it was measured with:
    NAME_OR_PATH is a zoo entry, a `mmkeras train` run directory or a
    .keras file in one. Prints each metric, with the recorded value."""
    from mmkeras.zoo import make

    metrics, recorded = make.reevaluate(target)
    for key, value in metrics.items():
        line = f"{key}: {_shown(value)}"
        if key in recorded:
            line += f" (recorded {_shown(recorded[key])})"
        click.echo(line)


def _shown(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@zoo.command("make")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--name", help="The entry's name (default: the config's).")
@click.option(
    "--catalogue",
    default="zoo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The catalogue folder to write the entry into.",
)
@click.option(
    "--cards",
    default=None,
    help="The page of every model card to rewrite ('' for none; skipped "
    "when its folder does not exist). Default: docs/model-cards.md for "
    "the repository's zoo catalogue, none for any other catalogue, whose "
    "cards are not the docs' page.",
)
def zoo_make(run_dir, name, catalogue, cards):
    """Write the zoo entry of a finished `mmkeras train` run: model files,
    golden outputs, manifest and model card from its metrics.json."""
    from mmkeras.zoo import make

    if cards is None:
        repository_zoo = os.path.normpath(catalogue) == "zoo"
        cards = "docs/model-cards.md" if repository_zoo else ""

    manifest = make.make_entry(
        run_dir, name, catalogue, cards=_cards_path(cards)
    )
    click.echo(f"{os.path.join(catalogue, manifest['name'])}")
    for key, value in manifest["metrics"].items():
        click.echo(f"{key}: {_shown(value)}")


@zoo.command("cards")
@click.option(
    "--catalogue",
    default="zoo",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
)
@click.option("--out", "output_path", default="docs/model-cards.md")
def zoo_cards(catalogue, output_path):
    """Rewrite the page of every model card of the catalogue."""
    from mmkeras.zoo import make

    make.write_cards(catalogue, output_path)
    click.echo(output_path)


def _cards_path(cards):
    folder = os.path.dirname(cards) or "."
    return cards if cards and os.path.isdir(folder) else None


@cli.command()
@click.argument("model_path", metavar="MODEL")
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="An image file (JPEG, PNG, GIF, BMP); repeat for a batch.",
)
@click.option("--question", help="The question, for a VQA model.")
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="Text for a fusion classifier, or candidate captions to score "
    "with a dual encoder (repeatable).",
)
@_SAMPLER
def predict(model_path, images, question, texts, sampler):
    """Run MODEL (a zoo name or a .keras file) on images: caption, answer,
    classify or score them, through the exported SavedModel's graph."""
    import json

    from mmkeras.export import signatures
    from mmkeras.models.serving import RequestError

    family = signatures.for_model(_load_model(model_path), sampler)
    name = family.default_signature
    functions = family.functions()
    if name not in functions:
        raise ValueError(
            f"{model_path} has no tokenizer or label names, so it cannot "
            "take text or give names; give it tokenizer= (and answers= or "
            "class_names=) when building the model"
        )
    try:
        inputs = family.request(
            [_read(path) for path in images], question=question, texts=texts
        )
    except RequestError as error:
        raise click.UsageError(str(error)) from None
    # Positional: the Python parameter names differ from the signature's.
    outputs = functions[name](*inputs.values())
    for i, path in enumerate(images):
        result = {"image": path}
        for key, value in outputs.items():
            item = value.numpy()[i]
            result[key] = (
                item.decode() if isinstance(item, bytes) else (item.tolist())
            )
        click.echo(json.dumps(result))


@cli.command()
@click.argument("model_path", metavar="MODEL")
@click.option(
    "--image",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The image to caption or ask about.",
)
@click.option("--question", help="The question, for a VQA model.")
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="A candidate text for a dual encoder to rank (repeatable).",
)
@click.option(
    "--out",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The PNG to write: the image, then where the model looked (one "
    "map per word of a caption, or the question's map).",
)
def explain(model_path, image, question, texts, output_path):
    """Run MODEL (a zoo name or a .keras file) on an image (and
    --question, for a VQA model) and draw where it looked."""
    from mmkeras import data
    from mmkeras.models.serving import RequestError

    model = _load_model(model_path)
    pixels = data.load_image(image).numpy()
    try:
        result = model.explain(
            pixels, output_path, question=question, texts=texts
        )
    except RequestError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"{result}\n{output_path}")


@cli.command()
@click.argument("run", type=click.Path(exists=True))
@click.option(
    "--out",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The PNG to write.",
)
@click.option("--title", help="A title over the curves.")
def plot(run, output_path, title):
    """Draw the training curves of RUN (a `mmkeras train` output directory
    or its history.json): one panel per metric, train and validation."""
    from mmkeras import training

    metrics = training.plot_history(run, output_path, title)
    click.echo(f"{', '.join(metrics)}\n{output_path}")


def _read(path):
    with open(path, "rb") as file:
        return file.read()


def _required(value, option):
    if not value:
        raise click.UsageError(f"this model needs {option}")
    return value


@cli.command()
@click.option(
    "--epochs",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Fine-tuning epochs.",
)
@click.option(
    "--out",
    "output_dir",
    type=click.Path(file_okay=False),
    help="Keep the exported models here (default: a temporary folder).",
)
def demo(epochs, output_dir):
    """The main job: zoo models, fine-tuning, export, serving."""
    from mmkeras import demo as demo_module

    demo_module.run(out_dir=output_dir, epochs=epochs)
