"""Cold start: seconds from a new Python process to the first caption.

Each repeat starts fresh processes that (a) only `import mmkeras`, and (b)
import it, load a captioner from the zoo (files verified by sha256) and
caption one image; the table gives the medians and how the time splits.

    .venv/bin/python benchmarks/cold_start.py
    .venv/bin/python benchmarks/cold_start.py --model caption_x.shapes
"""

import json
import os
import statistics
import subprocess
import sys

import click
import rich.console
import rich.table

console = rich.console.Console()
COMMAND = " ".join([".venv/bin/python", *sys.argv])
# Prints the seconds since the process started at each stage, as JSON.
PROBE = """
import json, time
start = time.perf_counter()
import mmkeras
imported = time.perf_counter()
if {caption}:
    import numpy as np
    model = mmkeras.zoo.load({model!r})
    loaded = time.perf_counter()
    shape = model.input_shapes()["image"][1:]
    model.generate(np.zeros((1, *shape), "float32"))
    captioned = time.perf_counter()
else:
    loaded = captioned = imported
print(json.dumps({{"import": imported - start, "load": loaded - imported,
                  "caption": captioned - loaded}}))
"""


def _probe(model, caption):
    code = PROBE.format(model=model, caption=caption)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = _now()
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    stages = json.loads(out.strip().splitlines()[-1])
    stages["process"] = _now() - start
    return stages


def _now():
    return os.times().elapsed


@click.command()
@click.option("--model", default="test_captioner.tiny", show_default=True)
@click.option("--repeats", default=3, show_default=True)
def main(model, repeats):
    """Seconds from a new process to `import mmkeras` and to a caption."""
    runs = {"import only": [], "first caption": []}
    for _ in range(repeats):
        runs["import only"].append(_probe(model, caption=False))
        runs["first caption"].append(_probe(model, caption=True))
    load = os.getloadavg()[0]
    table = rich.table.Table(
        title=f"Cold start, s (median of {repeats}, "
        f"load {load:.1f}, model {model})"
    )
    for column in ("run", "import", "zoo load", "caption", "whole process"):
        table.add_column(column, justify="right")
    for name, stages in runs.items():
        median = {
            key: statistics.median(s[key] for s in stages)
            for key in ("import", "load", "caption", "process")
        }
        table.add_row(
            name,
            *(f"{median[k]:.2f}" for k in ("import", "load", "caption")),
            f"{median['process']:.2f}",
        )
    console.print(table)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
