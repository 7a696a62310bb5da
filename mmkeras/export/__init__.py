"""Export of task models to SavedModel (TF Serving) and ONNX, verified.

    mmkeras.export.export(model, "exports/captioner", format="all")

writes, under the output directory, one TF Serving version directory per
artifact, `<kind>/<version>/`: `saved_model` (the attention's plain path,
for any TF Serving), `saved_model_xla` (attention cores and blocks
XLA-compiled) and `onnx`. Each is written to a staging directory,
verified in a fresh process against the Keras model (`verify.json`
beside it), then renamed into place: a failed export leaves no version
behind. Folders and files get the modes the umask gives (a server running
as another user can read them), and each version holds a `README.md`
saying how to load and call it.
"""

import os
import shutil

from mmkeras import _checks
from mmkeras import _files
from mmkeras.export import hub
from mmkeras.export import signatures
from mmkeras.export import verify as verify_lib
from mmkeras.export._plain import plain_clone
from mmkeras.export._plain import uses_xla
from mmkeras.export._plain import with_xla
from mmkeras.export._progress import Progress
from mmkeras.export.onnx import write_onnx
from mmkeras.export.saved_model import write_saved_model
from mmkeras.export.signatures import ExportError

FORMATS = ("saved_model", "onnx", "all")
# Signatures that run_onnx.py answers with a generating model's graphs
# (its decoding loop), verified beside the graphs.
_ONNX_LOOPS = ("generate", "generate_ids")

__all__ = ["ExportError", "FORMATS", "export", "hub"]


def export(
    model,
    out_dir,
    format="saved_model",
    verify=True,
    xla=None,
    sampler=None,
    progress=None,
    **options,
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
            the Keras model (max abs difference 1e-4, identical strings)
            at batch sizes 1 and 3 (`saved_model_xla`, whose signatures
            are the plain graph's compiled per shape, at 1), writing
            `verify.json`; a failure removes the artifact.
        xla: also write the `saved_model_xla` variant; default: when the
            model has XLA-compiled attention cores or blocks.
        sampler: the `mmkeras.samplers` name or instance that decodes a
            generating model's string signature (default greedy); other
            models refuse one.
        progress: called with a line of text when each step starts
            (`"saved_model: tracing signature 'answer'..."`) and ends
            (`"saved_model: tracing signature 'answer': 2.1 s"`): tracing,
            writing, converting and verifying each take seconds to
            minutes. `mmkeras export` prints them.
        **options: the family's serving options: a causal LM's and a
            vision-language model's `max_prompt_length` and
            `max_new_tokens` (see
            `mmkeras.models.causal_lm.CausalLMServing`); a dual encoder's
            `index` (a `mmkeras.models.RetrievalIndex`, which adds the
            `retrieve` signature) and `top_k`; others refuse them.

    Raises:
        ExportError: the model cannot be exported or fails verification.
        RequestError: a `sampler` for a model that does not generate.
    """
    _checks.one_of("format", format, FORMATS)
    if not getattr(model, "built", False):
        raise ExportError(
            "the model is not built; call it on a batch of inputs (or load "
            "a trained .keras file) before exporting"
        )
    steps = Progress(progress)
    # The Keras model as given is the reference of every check.
    reference = signatures.for_model(model, sampler, **options)
    kinds = {}
    with steps.step("copying the model for each artifact"):
        if format in ("saved_model", "all"):
            kinds["saved_model"] = plain_clone(model)
            if xla or (xla is None and uses_xla(model)):
                kinds["saved_model_xla"] = with_xla(model, True)
        if format in ("onnx", "all"):
            kinds["onnx"] = plain_clone(model)
    staged, names = {}, {}
    try:
        for kind, variant in kinds.items():
            family = signatures.for_model(variant, sampler, **options)
            base = os.path.join(os.fspath(out_dir), kind)
            os.makedirs(base, exist_ok=True)
            staged[kind] = _files.staging_directory(base, ".staging.")
            names[kind] = _write(kind, family, staged[kind], steps)
        if verify:
            _verify(reference, staged, names, steps)
        # Renamed only once every artifact is written and verified.
        return {kind: _publish(path) for kind, path in staged.items()}
    finally:
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True)


def _write(kind, family, path, steps):
    """Writes one artifact; returns the names of the graphs to verify."""
    if kind == "onnx":
        write_onnx(family, path, steps.within(kind))
        graphs = family.onnx_functions()
        examples = family.examples(1, seed=0)
        return [n for n in examples if n in graphs or n in _ONNX_LOOPS]
    write_saved_model(family, path, steps.within(kind))
    return sorted(family.functions())


def _verify(reference, staged, names, steps):
    """Runs every artifact in a fresh process, one for the SavedModels
    and one for ONNX, and writes each one's `verify.json`."""
    expected = verify_lib.Expected(reference)
    groups = {}
    for kind in staged:
        groups.setdefault(verify_lib.RUNNERS[kind], []).append(kind)
    for kinds in groups.values():
        artifacts = {staged[kind]: (kind, names[kind]) for kind in kinds}
        label = ", ".join(kinds)
        with steps.step(f"{label}: verifying in a new process"):
            reports = verify_lib.verify_all(expected, artifacts)
        for path, report in reports.items():
            _files.write_json(os.path.join(path, "verify.json"), report)


def _publish(staging):
    """Renames a staged artifact to the next free version beside it."""
    base = os.path.dirname(staging)
    versions = [int(n) for n in os.listdir(base) if n.isdigit()]
    target = os.path.join(base, str(max(versions, default=0) + 1))
    os.rename(staging, target)
    return target
