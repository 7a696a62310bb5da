"""Cold start: seconds from a new Python process to the first caption.

Each repeat starts fresh processes that (a) only `import mmkeras`, and (b)
import it, load a captioner from the zoo (files verified by sha256) and
caption one image; the table gives the medians, how the time splits and
the CPU seconds the process used (user + system: what a busy machine
inflates least).

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
    start = os.times()
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    end = os.times()
    stages = json.loads(out.strip().splitlines()[-1])
    stages["process"] = end.elapsed - start.elapsed
    # CPU seconds: on a busy machine wall time grows, this much less.
    stages["cpu"] = (
        end.children_user
        + end.children_system
        - start.children_user
        - start.children_system
    )
    return stages


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
    columns = ("import", "load", "caption", "process", "cpu")
    headers = ("import", "zoo load", "caption", "whole process", "its CPU")
    table.add_column("run", justify="right")
    for header in headers:
        table.add_column(header, justify="right")
    for name, stages in runs.items():
        median = {
            key: statistics.median(s[key] for s in stages) for key in columns
        }
        table.add_row(name, *(f"{median[key]:.2f}" for key in columns))
    console.print(table)
    console.print(f"command: {COMMAND}")


if __name__ == "__main__":
    main()
