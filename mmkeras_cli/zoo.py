"""`mmkeras zoo`: list, inspect, download and make zoo entries."""

import os
import sys

import click

from mmkeras_cli._arguments import shown


@click.group()
def zoo():
    """Pretrained models: list, inspect and download zoo entries."""


@zoo.command("list")
def zoo_list():
    """Every entry with its family, version and metrics."""
    import rich.console
    import rich.table

    import mmkeras

    manifests, problems = mmkeras.zoo.list_entries()
    table = rich.table.Table(box=None)
    for column in ("name", "family", "version", "metrics"):
        table.add_column(column)
    for name, manifest in manifests.items():
        metrics = ", ".join(
            f"{key}={value:.4g}"
            if isinstance(value, float)
            else f"{key}={value}"
            for key, value in manifest["metrics"].items()
        )
        table.add_row(name, manifest["family"], manifest["version"], metrics)
    rich.console.Console(width=200).print(table)
    _report(problems)


def _report(problems):
    """One line per damaged entry on stderr, then exit 1: the sound
    entries were still listed or fetched."""
    for name, problem in problems.items():
        click.echo(f"Error: {name}: {problem}", err=True)
    if problems:
        sys.exit(1)


@zoo.command("info")
@click.argument("name")
def zoo_info(name):
    """The manifest of NAME, as JSON."""
    import json

    import mmkeras

    click.echo(json.dumps(mmkeras.zoo.info(name), indent=2))


@zoo.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every entry.")
def zoo_download(names, everything):
    """Fetch and verify the files of NAMES into the cache; a damaged
    cached file is fetched (or made) again."""
    if bool(names) == everything:
        raise click.UsageError("give entry names or --all, not both")
    import mmkeras

    problems = {}
    if everything:
        manifests, problems = mmkeras.zoo.list_entries()
        names = list(manifests)
    for name in names:
        for file, path in mmkeras.zoo.download(name).items():
            click.echo(f"{name} {file}: {path}")
    _report(problems)


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
        click.echo(f"{key}: {shown(value)}")


def _cards_path(cards):
    folder = os.path.dirname(cards) or "."
    return cards if cards and os.path.isdir(folder) else None


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
