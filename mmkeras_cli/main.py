"""The `mmkeras` command: thin click commands over the library APIs.

Library errors become one line on stderr and exit code 1 (2 for usage
errors, which click reports itself); `--debug` shows the traceback. Each
command imports `mmkeras` (and so TensorFlow) in its body, after click has
checked its arguments.
"""

import os
import re
import sys

import click

from mmkeras_cli import models
from mmkeras_cli import zoo
from mmkeras_cli._arguments import MODEL_OR_RUN
from mmkeras_cli._arguments import shown

# TensorFlow's C++ errors only: a failing op's warnings ("Local rendezvous is
# aborting ...") repeat the error the command prints as one line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as error:
            if ctx.params.get("debug") or not _reported(error):
                raise
            click.echo(f"Error: {one_line(error)}", err=True)
            sys.exit(1)


def _reported(error):
    """Library errors (and TensorFlow's, which Keras and tf.data raise
    from inside): one line. Anything else is a bug, with its traceback."""
    if isinstance(error, (ValueError, TypeError, OSError)):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(error, tf.errors.OpError)


def one_line(error):
    """The first line of `error`'s message that says what went wrong, and
    how to see the rest."""
    message = str(getattr(error, "message", error))
    # TensorFlow's own parts: the function an op ran in, the op's name.
    message = re.sub(r"\{\{function_node [^}]*\}\} *", "", message)
    message = re.sub(r" *\[Op:[^\]]*\]( name: *\S*)?", "", message)
    lines = [line for line in message.splitlines() if line.strip()]
    said = [line for line in lines if not _GRAPH_CONTEXT.match(line)]
    if not said:
        return type(error).__name__
    if len(lines) == 1:
        return said[0].strip()
    return f"{said[0].strip()} (more: `mmkeras --debug ...`)"


# An op failing in a graph: the header, where the op was made (a Python
# traceback without code lines) and the node, around the op's message.
_GRAPH_CONTEXT = re.compile(
    r"Graph execution error:$|Detected at node .* defined at |  File \"|"
    r"\s*\[\[\{\{node "
)


@click.group(cls=_Group)
@click.version_option(package_name="mmkeras", prog_name="mmkeras")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(debug):
    """mmkeras: multimodal (image + text) models for TensorFlow / Keras 3."""


cli.add_command(zoo.zoo)
for command in models.COMMANDS:
    cli.add_command(command)


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
@click.option(
    "--restart",
    is_flag=True,
    help="Start over: move a run already in --out to OUT.old-N first "
    "(nothing is deleted).",
)
def train(config, output_dir, overrides, restart):
    """Train from CONFIG (a name in mmkeras/configs or a .py file)."""
    from mmkeras import training

    settings = training.apply_overrides(training.load_config(config), overrides)
    # Never --restart: the recorded command must resume the run.
    words = ["mmkeras", "train", config, "--out", output_dir]
    for override in overrides:
        words += ["--set", override]
    if restart:
        moved = training.restart_run(output_dir)
        if moved:
            click.echo(f"Moved the previous run to {moved}.")
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


@cli.command()
@click.argument("target", metavar="NAME_OR_PATH", type=MODEL_OR_RUN)
def evaluate(target):
    """Measure a model again with the evaluator it was measured with:
    NAME_OR_PATH is a zoo entry, a `mmkeras train` run directory or a
    .keras file in one. Prints each metric, with the recorded value."""
    from mmkeras.zoo import make

    metrics, recorded = make.reevaluate(target)
    for key, value in metrics.items():
        line = f"{key}: {shown(value)}"
        if key in recorded:
            line += f" (recorded {shown(recorded[key])})"
        click.echo(line)


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
