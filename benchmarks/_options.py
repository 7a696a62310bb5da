"""Click options shared by the accuracy benchmarks (`vqa.py`,
`captioning.py`): the conv image encoder's recipe and where to save."""

import click


def _filters(ctx, param, value):
    try:
        return tuple(int(f) for f in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers such as 32,64. Received: "
            f"{value!r}"
        ) from None


def conv_encoder(filters, normalization, what):
    """`--filters` (parsed to a tuple of ints), `--normalization`,
    `--coordinates` and `--normalize-tokens`, with these defaults; `what`
    names the default's tokens in the help, e.g. "5x5 image tokens"."""
    options = [
        click.option(
            "--filters",
            default=filters,
            show_default=True,
            callback=_filters,
            help=f"Conv filters per stride-2 block (default: {what}).",
        ),
        click.option(
            "--normalization",
            default=normalization,
            show_default=True,
            type=click.Choice(["group", "batch", "layer"]),
        ),
        click.option(
            "--coordinates/--no-coordinates",
            default=False,
            help="CoordConv: give the image encoder pixel coordinates.",
        ),
        click.option(
            "--normalize-tokens/--no-normalize-tokens",
            default=True,
            help="End the image encoder with a layer norm per token.",
        ),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


save = click.option(
    "--save",
    type=click.Path(dir_okay=False),
    help="Write the trained model to this .keras file (for the zoo).",
)
