"""What a task model exports comes from its class: `model.serving()`
returns the family's `mmkeras.models.Serving` (signatures, ONNX graphs,
examples and reference outputs).

Every family has string signatures (encoded image bytes and UTF-8 text in,
strings or scores out; decoding, tokenization and detokenization in the
graph) where the model carries a preprocessor with a tokenizer, tensor
signatures (converted pixels and token ids) always, and ONNX graphs built
from the tensor signatures.
"""

from mmkeras.models import Task
from mmkeras.models.serving import ExportError
from mmkeras.models.serving import Serving
from mmkeras.models.serving import decode_images

__all__ = ["ExportError", "Serving", "decode_images", "for_model"]


def for_model(model, sampler=None, **options):
    """The `Serving` of `model`; `sampler` decodes a generator's outputs,
    `options` are the family's own (a causal LM's prompt length)."""
    if not isinstance(model, Task) or type(model).serving_cls is None:
        families = ", ".join(sorted(Task.families))
        raise ExportError(
            f"mmkeras exports task models ({families}). Received: a "
            f"{type(model).__name__}"
        )
    if sampler is not None:
        options["sampler"] = sampler
    return model.serving(**options)
