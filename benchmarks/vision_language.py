"""The cost of seeing: time to first token and decode tokens/s of the
vision-language model with an image, against the text-only language model
it is built on, in one run.

Both sides share the same frozen SmolLM2-135M-Instruct backbone (the
text-only side is `mmkeras.evaluation.vision_language.language_model`, a
`CausalLM` on the vision-language model's own backbone and tokenizer), so
the difference is the image encoder, the connector (the resampler and the
gated blocks before every 6th block, or the prefix's projected image
tokens) and their cache. Rows:

- the language model, the chat prompt "What is in this picture?";
- the vision-language model, the same prompt without an image (its gated
  blocks still run: the rows just do not attend);
- the vision-language model with scikit-image's chelsea and
  "<image>\\nWhat is in this picture?", for each `--connector`.

Every side runs `generate(jit_compile=False)` (the default) greedily.
The end token may stop an answer early, so each timed call counts the
tokens it made (up to the end token, which counts) and the rates use
those. t(n) is the best of `--repeats` calls making at most n new tokens,
after an untimed warm-up that traces:

- time to first token = t(1): the prompt (and the image) through the
  model and one token out;
- decode tokens/s at batch b = b * (made(N) - 1) / (t(N) - t(1)), made
  the most tokens any row made.

The weights are random for the new layers unless `--model` gives a
trained `model.keras` (the cost does not depend on them: a gate at 0
still computes its branch).

    .venv/bin/python benchmarks/vision_language.py
    .venv/bin/python benchmarks/vision_language.py --model \\
        runs/vision_language/model.keras --connector prefix \\
        --new-tokens 16 --batch 4 --repeats 2
"""

import resource
import sys
import time

import click
import keras
import numpy as np
import rich.table
from _timing import print_table

from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.data.vision_language import WHAT_PROMPT
from mmkeras.evaluation.vision_language import language_model
from mmkeras.models.vision_language import builders

COMMAND = " ".join([".venv/bin/python", *sys.argv])


class Side:
    """One row: a `generate(n)` call making at most `n` new tokens for
    the row's batch, and the tokens it made."""

    def __init__(self, name, generate, end_token_id):
        self.name = name
        self._generate = generate
        self.end_token_id = end_token_id

    def best(self, new_tokens, repeats):
        """`(seconds, tokens made per row)` of the fastest of `repeats`
        calls, after a warm-up call."""
        self._generate(new_tokens)
        best = None
        for _ in range(repeats):
            start = time.perf_counter()
            ids = self._generate(new_tokens)
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        return best, _made(ids, self.end_token_id)


def _made(ids, end_token_id):
    """The most new tokens a row made: up to its end token, included."""
    ids = np.asarray(ids)
    ended = ids == end_token_id
    lengths = np.where(
        ended.any(axis=1), ended.argmax(axis=1) + 1, ids.shape[1]
    )
    return int(lengths.max())


def _sides(models, batch):
    import skimage.data

    first = next(iter(models.values()))
    text = language_model(first)
    question = text.preprocessor.apply_chat_template(WHAT_PROMPT)
    photo = skimage.data.chelsea()
    ids = dict(return_strings=False)
    end = first.end_token_id
    sides = [
        Side(
            "language model, no image",
            lambda n: text.generate([question] * batch, n, **ids),
            end,
        ),
        Side(
            "vision-language (gated), no image",
            lambda n: first.generate(
                [None] * batch, [question] * batch, n, **ids
            ),
            end,
        ),
    ]
    for connector, model in models.items():
        prompt = model.preprocessor.apply_chat_template(
            f"{IMAGE_PLACEHOLDER}\n{WHAT_PROMPT}"
        )
        sides.append(
            Side(
                f"vision-language ({connector}), chelsea",
                lambda n, m=model, p=prompt: m.generate(
                    [photo] * batch, [p] * batch, n, **ids
                ),
                end,
            )
        )
    return sides


@click.command()
@click.option(
    "--model",
    "model_path",
    help="A trained VisionLanguageModel .keras file (its connector is "
    "the gated row's); default: build vision_language_smollm2.",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    default=["gated_cross_attention"],
    show_default=True,
    type=click.Choice(["gated_cross_attention", "prefix"]),
)
@click.option("--new-tokens", default=16, show_default=True)
@click.option("--batch", default=1, show_default=True)
@click.option("--repeats", default=3, show_default=True)
def main(model_path, connectors, new_tokens, batch, repeats):
    started = time.perf_counter()
    models = {}
    for connector in connectors:
        if model_path and connector == "gated_cross_attention":
            models[connector] = keras.saving.load_model(model_path)
        else:
            models[connector] = builders.vision_language_smollm2(connector)
    if "gated_cross_attention" not in models:
        raise click.UsageError(
            "the no-image row runs the gated model: give --connector "
            "gated_cross_attention too. Received: --connector "
            f"{' '.join(connectors)}"
        )
    models = {
        "gated_cross_attention": models.pop("gated_cross_attention"),
        **models,
    }
    rows = []
    for side in _sides(models, batch):
        first, _ = side.best(1, repeats)
        full, made = side.best(new_tokens, repeats)
        rate = batch * (made - 1) / (full - first) if made > 1 else None
        rows.append((side.name, first, rate, made))
    base_first, base_rate = rows[0][1], rows[0][2]
    table = rich.table.Table(
        title=f"Time to first token and decode rate, batch {batch}, "
        f"at most {new_tokens} new tokens, best of {repeats} ({COMMAND})"
    )
    for column in (
        "side",
        "first token s",
        "/ language model's",
        "decode tokens/s",
        "language model's / this",
        "tokens made",
    ):
        table.add_column(column)
    for name, first, rate, made in rows:
        table.add_row(
            name,
            f"{first:.3f}",
            f"{first / base_first:.2f}",
            "-" if rate is None else f"{rate:.1f}",
            "-"
            if rate is None or base_rate is None
            else f"{base_rate / rate:.2f}",
            str(made),
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print_table(table, started, note=f"peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
