"""Export of task models to SavedModel (TF Serving) and ONNX, verified.

    mmkeras.export.export(model, "exports/captioner", format="all")

writes, under the output directory, one TF Serving version directory per
artifact, `<kind>/<version>/`: `saved_model` (the attention's plain path,
for any TF Serving), `saved_model_xla` (attention cores and blocks
XLA-compiled) and `onnx`. Each is written to a temporary directory,
verified in a fresh process against the Keras model (`verify.json`
beside it), then renamed into place: a failed export leaves no version
behind.
"""

import json
import os
import shutil
import tempfile

from mmkeras import _checks
from mmkeras.export import hub
from mmkeras.export import signatures
from mmkeras.export._plain import plain_clone
from mmkeras.export._plain import uses_xla
from mmkeras.export._plain import with_xla
from mmkeras.export.onnx import write_onnx
from mmkeras.export.saved_model import write_saved_model
from mmkeras.export.signatures import ExportError
from mmkeras.export.verify import verify as verify_artifact

FORMATS = ("saved_model", "onnx", "all")

__all__ = ["ExportError", "FORMATS", "export", "hub"]


def export(
    model,
    out_dir,
    format="saved_model",
    verify=True,
    xla=None,
    sampler=None,
):
    """Exports a task model; returns `{kind: version directory}`.

    Args:
        model: a built task model (`mmkeras.models.Task`); its class's
            `serving_cls` says what it exports. String signatures need a
            preprocessor with a tokenizer (and the classifiers' `answers`
            / `class_names`); without them only the tensor signatures are
            written.
        out_dir: the output directory; each artifact gets the next free
            version number under `out_dir/<kind>/`.
        format: `"saved_model"`, `"onnx"` or `"all"`.
        verify: run every artifact in a fresh process and compare it with
            the Keras model (max abs difference 1e-4, identical strings),
            writing `verify.json`; a failure removes the artifact.
        xla: also write the `saved_model_xla` variant; default: when the
            model has XLA-compiled attention cores or blocks.
        sampler: the `mmkeras.samplers` name or instance that decodes a
            generating model's string signature (default greedy).

    Raises:
        ExportError: the model cannot be exported or fails verification.
    """
    _checks.one_of("format", format, FORMATS)
    if not getattr(model, "built", False):
        raise ExportError(
            "the model is not built; call it on a batch of inputs (or load "
            "a trained .keras file) before exporting"
        )
    # The Keras model as given is the reference of every check.
    reference = signatures.for_model(model, sampler)
    kinds = {}
    if format in ("saved_model", "all"):
        kinds["saved_model"] = plain_clone(model)
        if xla or (xla is None and uses_xla(model)):
            kinds["saved_model_xla"] = with_xla(model, True)
    if format in ("onnx", "all"):
        kinds["onnx"] = plain_clone(model)
    staged = {}
    try:
        for kind, variant in kinds.items():
            family = signatures.for_model(variant, sampler)
            base = os.path.join(os.fspath(out_dir), kind)
            os.makedirs(base, exist_ok=True)
            staged[kind] = tempfile.mkdtemp(prefix=".staging.", dir=base)
            _write(kind, family, reference, staged[kind], verify)
        # Renamed only once every artifact is written and verified.
        return {kind: _publish(path) for kind, path in staged.items()}
    finally:
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True)


def _write(kind, family, reference, path, verify):
    if kind == "onnx":
        write_onnx(family, path)
        examples = reference.examples(1, seed=0)
        graphs = family.onnx_functions()
        names = [n for n in examples if n in graphs or n == "generate"]
    else:
        write_saved_model(family, path)
        names = sorted(family.functions())
    if verify:
        report = verify_artifact(reference, kind, path, names)
        with open(os.path.join(path, "verify.json"), "w") as file:
            json.dump(report, file, indent=2, sort_keys=True)


def _publish(staging):
    """Renames a staged artifact to the next free version beside it."""
    base = os.path.dirname(staging)
    versions = [int(n) for n in os.listdir(base) if n.isdigit()]
    target = os.path.join(base, str(max(versions, default=0) + 1))
    os.rename(staging, target)
    return target
