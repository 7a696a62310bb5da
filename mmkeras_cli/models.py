"""Commands that run a MODEL: export, predict and explain."""

import click

from mmkeras_cli._arguments import MODEL
from mmkeras_cli._arguments import is_path
from mmkeras_cli._arguments import load_model

_SAMPLER = click.option(
    "--sampler",
    default=None,
    help="How a generating model (a captioner) decodes: greedy (the "
    "default), beam (5 beams), top_k or top_p; refused by the others.",
)
_IMAGE = click.Path(exists=True, dir_okay=False)


@click.command("export")
@click.argument("model_path", metavar="MODEL", type=MODEL)
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
@click.option(
    "--max-prompt-length",
    type=click.IntRange(min=1),
    help="Prompt tokens a language model's export takes (default 64).",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    help="Tokens a language model's export generates (default 64).",
)
def export_command(
    model_path,
    format_,
    output_dir,
    verify,
    xla,
    sampler,
    max_prompt_length,
    max_new_tokens,
):
    """Export MODEL (a zoo name or a .keras file) as SavedModel and/or
    ONNX, verified."""
    from mmkeras import export

    # Only given options: families without them refuse them by name.
    lengths = {
        key: value
        for key, value in (
            ("max_prompt_length", max_prompt_length),
            ("max_new_tokens", max_new_tokens),
        )
        if value is not None
    }
    written = export.export(
        load_model(model_path),
        output_dir,
        format=format_,
        verify=verify,
        xla=xla,
        sampler=sampler,
        # Progress on stderr: stdout keeps only the `kind: path` lines.
        progress=lambda line: click.echo(line, err=True),
        **lengths,
    )
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")


@click.command()
@click.argument("model_path", metavar="MODEL", type=MODEL)
@click.option(
    "--image",
    "images",
    multiple=True,
    type=_IMAGE,
    help="An image file (JPEG, PNG, GIF, BMP); repeat for a batch.",
)
@click.option("--question", help="The question, for a VQA model.")
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="Text for a fusion classifier, candidate captions to score with "
    "a dual encoder, or texts to embed with a text encoder (repeatable).",
)
@_SAMPLER
def predict(model_path, images, question, texts, sampler):
    """Run MODEL (a zoo name or a .keras file) on images: caption, answer,
    classify or score them, through the exported SavedModel's graph."""
    import json

    from mmkeras.models import serving

    entry = None if is_path(model_path) else model_path
    try:
        results = serving.predict(
            load_model(model_path),
            images,
            question=question,
            texts=texts,
            sampler=sampler,
            entry=entry,
        )
    except serving.RequestError as error:
        raise click.UsageError(str(error)) from None
    for result in results:
        click.echo(json.dumps(result))


@click.command()
@click.argument("model_path", metavar="MODEL", type=MODEL)
@click.option(
    "--image",
    required=True,
    type=_IMAGE,
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

    model = load_model(model_path)
    pixels = data.load_image(image).numpy()
    try:
        result = model.explain(
            pixels, output_path, question=question, texts=texts
        )
    except RequestError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"{result}\n{output_path}")


@click.command()
@click.argument("model_path", metavar="MODEL", type=MODEL)
@click.option(
    "--prompt",
    "prompts",
    multiple=True,
    help="Text to continue (repeatable: a batch).",
)
@click.option(
    "--chat",
    "messages",
    multiple=True,
    help="A user message, answered in the model's chat template "
    "(repeatable: one answer each).",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="The most tokens generated per answer.",
)
@_SAMPLER
def generate(model_path, prompts, messages, max_new_tokens, sampler):
    """Continue --prompt texts, or answer --chat messages, with MODEL (a
    language model: a zoo name or a .keras file). One answer is printed
    as it is; several as one JSON string per line."""
    if bool(prompts) == bool(messages):
        raise click.UsageError("give --prompt or --chat (one of the two)")
    model = load_model(model_path)
    if not hasattr(model, "chat"):
        raise click.UsageError(
            f"{model_path} is a {type(model).__name__}, not a language "
            "model: generate takes a CausalLM (e.g. smollm2_135m.instruct)"
        )
    options = {"max_new_tokens": max_new_tokens}
    if sampler:
        options["sampler"] = sampler
    if prompts:
        answers = model.generate(list(prompts), **options)
    else:
        answers = [model.chat(message, **options) for message in messages]
    if len(answers) == 1:
        click.echo(answers[0])
        return
    import json

    # Several answers: one JSON string per line, so each stays one line.
    for answer in answers:
        click.echo(json.dumps(answer, ensure_ascii=False))


COMMANDS = [export_command, predict, explain, generate]
