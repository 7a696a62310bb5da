"""The consumer scripts of `mmkeras/export/consumers/` as modules, for the
tests of their own logic (they import no mmkeras; run_onnx.py imports
onnx_tokenizers.py from its folder, as it does beside exported graphs)."""

import importlib

import pytest

from mmkeras.export import verify


def _module(name):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(verify.CONSUMERS)
        return importlib.import_module(name)


def run_onnx():
    return _module("run_onnx")


def onnx_tokenizers():
    return _module("onnx_tokenizers")


def serve_saved_model():
    return _module("serve_saved_model")
