"""`run_export_test`: export a task model, verified, and check the result."""

import json
import os

from mmkeras import export as export_lib
from mmkeras.export import verify


def run_export_test(model, out_dir, format="all", **export_kwargs):
    """Exports `model` with verification and asserts every artifact is in
    place with a `verify.json` within tolerance; returns `{kind: path}`."""
    written = export_lib.export(model, out_dir, format=format, **export_kwargs)
    expected = {"saved_model", "onnx"} if format == "all" else {format}
    assert expected <= set(written), (expected, written)
    for kind, path in written.items():
        assert os.path.dirname(path) == os.path.join(os.fspath(out_dir), kind)
        with open(os.path.join(path, "verify.json")) as file:
            report = json.load(file)
        assert report, f"{kind}: nothing verified"
        for name, entry in report.items():
            assert entry.get("max_abs_diff", 0.0) <= verify.TOLERANCE, name
            assert entry.get("mismatches", 0) == 0, name
    return written
