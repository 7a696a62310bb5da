"""Commands that run a MODEL: export, predict, explain, generate, chat
and retrieve."""

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
    help="Run each artifact in a fresh process against the Keras model "
    "(batches of 1 and 3; saved_model_xla: 1).",
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
@click.option(
    "--index",
    "index_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A dual encoder's RetrievalIndex (.npz) to embed in a retrieve "
    "signature (top-k keys of the index per query); default: the index "
    "the zoo entry ships, if it ships one.",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    help="Keys the retrieve signature returns (default 5).",
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
    index_path,
    top_k,
):
    """Export MODEL (a zoo name or a .keras file) as SavedModel and/or
    ONNX, verified."""
    from mmkeras import export
    from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex

    model = load_model(model_path)
    if index_path:
        index = RetrievalIndex.load(index_path)
    else:
        index = _shipped_index(model_path, model)
    # Only given options: families without them refuse them by name.
    lengths = {
        key: value
        for key, value in (
            ("max_prompt_length", max_prompt_length),
            ("max_new_tokens", max_new_tokens),
            ("index", index),
            ("top_k", top_k),
        )
        if value is not None
    }
    written = export.export(
        model,
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
    from mmkeras.models.vision_language import VisionLanguageModel

    model = load_model(model_path)
    if isinstance(model, VisionLanguageModel):
        raise click.UsageError(
            f"{model_path} is a VisionLanguageModel: ask it about an image "
            f"with `mmkeras chat {model_path} --image IMAGE 'What is this?'`"
        )
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


@click.command()
@click.argument("model_path", metavar="MODEL", type=MODEL)
@click.argument("message")
@click.option(
    "--image",
    required=True,
    type=_IMAGE,
    help="The image to ask about (JPEG, PNG, GIF, BMP).",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="The most tokens of the answer.",
)
@_SAMPLER
def chat(model_path, message, image, max_new_tokens, sampler):
    """Ask MODEL (a vision-language model: a zoo name or a .keras file)
    MESSAGE about --image. The image goes before the message in the
    model's chat template, as it was trained; the answer is printed on
    one line (its line breaks as spaces)."""
    if not message.strip():
        raise click.UsageError(
            "the message is empty: ask something about the image, e.g. "
            "'What is in this picture?'"
        )
    from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
    from mmkeras.models import serving
    from mmkeras.models.vision_language import VisionLanguageModel

    if IMAGE_PLACEHOLDER in message:
        raise click.UsageError(
            f"the message holds {IMAGE_PLACEHOLDER}: write the question "
            "alone, the image goes before it"
        )
    try:
        (data,) = serving.read_images([image])
    except serving.RequestError as error:
        raise click.UsageError(str(error)) from None
    model = load_model(model_path)
    if not isinstance(model, VisionLanguageModel):
        raise click.UsageError(
            f"{model_path} is a {type(model).__name__}, not a "
            "vision-language model: chat takes a VisionLanguageModel "
            "(a language model answers `mmkeras generate MODEL --chat`)"
        )
    options = {"max_new_tokens": max_new_tokens}
    if sampler:
        options["sampler"] = sampler
    answer = model.chat(data, f"{IMAGE_PLACEHOLDER}\n{message}", **options)
    click.echo(" ".join(answer.splitlines()))


@click.command()
@click.argument("model_path", metavar="NAME_OR_PATH", type=MODEL)
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="A query text: rank the images of --images (repeatable).",
)
@click.option(
    "--images",
    "image_dir",
    type=click.Path(exists=True, file_okay=False),
    help="The folder of images (.png, .jpg, ...) that --text ranks.",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    type=_IMAGE,
    help="A query image: rank the texts of --texts (repeatable).",
)
@click.option(
    "--texts",
    "texts_file",
    type=click.Path(exists=True, dir_okay=False),
    help="The candidate texts that --image ranks, one per line (default: "
    "the index the zoo entry ships, else the name of every emoji).",
)
@click.option(
    "--index",
    "index_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A saved RetrievalIndex (.npz) to search instead of --images or "
    "--texts.",
)
@click.option(
    "--save-index",
    "save_path",
    type=click.Path(dir_okay=False),
    help="Save the index built from --images or --texts (.npz), for "
    "--index and `mmkeras export --index`.",
)
@click.option(
    "-k",
    "--top-k",
    "k",
    type=click.IntRange(min=1),
    help="Hits per query (default 5, or all candidates if fewer).",
)
@click.option(
    "--on-error",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="An unreadable image in --images: stop naming it, or skip it "
    "(the skipped files are counted on stderr).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option(
    "--out",
    "output_path",
    type=click.Path(dir_okay=False),
    help="Also draw the similarity grid of the queries and their hits "
    "(rows images, columns texts) to this PNG.",
)
def retrieve(
    model_path,
    texts,
    image_dir,
    images,
    texts_file,
    index_path,
    save_path,
    k,
    on_error,
    as_json,
    output_path,
):
    """Rank images for texts (--text ... --images DIR) or texts for
    images (--image ... [--texts FILE]) with NAME_OR_PATH, a dual encoder
    (a zoo name or a .keras file). Prints, per query, one line per hit: rank,
    cosine and the image file or text."""
    if bool(texts) == bool(images):
        raise click.UsageError("give --text (with --images) or --image")
    if texts and texts_file or images and image_dir:
        raise click.UsageError(
            "--text ranks --images and --image ranks --texts; "
            "--texts goes with --image and --images with --text"
        )
    if texts and not (image_dir or index_path):
        raise click.UsageError("--text needs --images DIR (or --index)")
    if index_path and (image_dir or texts_file or save_path):
        raise click.UsageError(
            "give --index or --images/--texts (and --save-index), not both"
        )
    if index_path and texts and output_path:
        raise click.UsageError(
            "--out draws the images, which an --index does not hold: give "
            "--images DIR instead"
        )
    from mmkeras import data
    from mmkeras.models.dual_encoder import DualEncoder
    from mmkeras.models.dual_encoder import retrieval_index as retrieval
    from mmkeras.models.serving import RequestError

    model = load_model(model_path)
    if not isinstance(model, DualEncoder):
        raise click.UsageError(
            f"{model_path} is a {type(model).__name__}, not a dual encoder: "
            "retrieve takes a DualEncoder (e.g. "
            "dual_encoder_lite0_minilm.emoji)"
        )
    try:
        if index_path:
            index = retrieval.RetrievalIndex.load(index_path, model)
        elif texts:
            index = retrieval.RetrievalIndex.from_images(
                model, retrieval.image_files(image_dir), on_error=on_error
            )
        elif texts_file:
            index = retrieval.RetrievalIndex.from_texts(
                model, retrieval.read_texts(texts_file)
            )
        else:
            index = _shipped_index(model_path, model)
            if index is None or index.query_side != "image":
                index = retrieval.RetrievalIndex.from_texts(
                    model, retrieval.emoji_texts()
                )
    except RequestError as error:
        raise click.UsageError(str(error)) from None
    if save_path:
        index.save(save_path)
    if index.skipped:
        # Imported here: main imports this module.
        from mmkeras_cli.main import one_line

        for path, reason in index.skipped:
            click.echo(f"skipped {path}: {one_line(reason)}", err=True)
        click.echo(f"skipped {len(index.skipped)} unreadable images", err=True)
    queries = list(texts) or [data.load_image(i).numpy() for i in images]
    if k is not None and k > len(index):
        raise click.UsageError(
            f"-k {k} is more than the {len(index)} {index.side}s to rank"
        )
    keys, scores = index.search(queries, k or min(5, len(index)))
    names = list(texts) or list(images)
    _print_hits(names, keys, scores, as_json)
    if output_path:
        _draw_hits(model, texts, images, image_dir, keys, output_path)
        click.echo(output_path)


def _shipped_index(model_path, model):
    """The retrieval index the zoo entry `model_path` ships, searched with
    its loaded `model`; None for a .keras file or an entry without one."""
    from mmkeras.models.dual_encoder import retrieval_index

    if is_path(model_path) or model_path not in (
        retrieval_index.preset_names()
    ):
        return None
    return retrieval_index.RetrievalIndex.from_preset(model_path, model)


def _print_hits(names, keys, scores, as_json):
    import json

    for name, row_keys, row_scores in zip(names, keys, scores, strict=True):
        if len(names) > 1 and not as_json:
            click.echo(f"{name}:")
        for rank, (key, score) in enumerate(
            zip(row_keys, row_scores, strict=True), 1
        ):
            if as_json:
                hit = {"query": name, "rank": rank, "score": float(score)}
                click.echo(json.dumps(hit | {"key": str(key)}))
            else:
                click.echo(f"{rank}\t{score:.4f}\t{key}")


def _draw_hits(model, texts, images, image_dir, keys, path):
    """The grid of the queries and their hits: rows images, columns
    texts."""
    import os

    from mmkeras import data

    hits = list(dict.fromkeys(str(key) for key in keys.ravel()))
    if texts:
        rows = [os.path.join(image_dir, name) for name in hits]
        columns = list(texts)
    else:
        rows, columns = list(images), hits
    pixels = [data.load_image(row).numpy() for row in rows]
    model.draw_similarity(pixels, columns, path)


COMMANDS = [export_command, predict, explain, generate, chat, retrieve]
