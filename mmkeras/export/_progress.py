"""Progress of an export: each step that can take seconds to minutes
(tracing a signature, writing, converting a graph, verifying) reported
when it starts and when it ends, with its time."""

import contextlib
import time


class Progress:
    """Calls `report(line)` (if given) around each step.

    Example:

    >>> steps = Progress(print).within("onnx")
    >>> with steps.step("converting graph 'logits'"):
    ...     pass
    onnx: converting graph 'logits'...
    onnx: converting graph 'logits': 0.0 s
    """

    def __init__(self, report=None, prefix=""):
        self.report = report
        self.prefix = prefix

    def within(self, name):
        """The same reports, each line starting with `name: `."""
        return Progress(self.report, f"{self.prefix}{name}: ")

    @contextlib.contextmanager
    def step(self, description):
        if self.report is None:
            yield
            return
        self.report(f"{self.prefix}{description}...")
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.report(f"{self.prefix}{description}: {seconds:.1f} s")
