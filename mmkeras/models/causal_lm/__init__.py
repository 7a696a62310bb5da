"""The causal language model family: `CausalLM` (a decoder-only
transformer over a key/value cache, with `generate` and `chat`), its
`CausalLMBackbone`, `CausalLMPreprocessor` and `CausalLMServing`, and
`from_gguf` (Llama-architecture GGUF files)."""

from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.causal_lm.causal_lm_backbone import CausalLMBackbone
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor
from mmkeras.models.causal_lm.causal_lm_serving import CausalLMServing
from mmkeras.models.causal_lm.presets import from_gguf

__all__ = [
    "CausalLM",
    "CausalLMBackbone",
    "CausalLMPreprocessor",
    "CausalLMServing",
    "from_gguf",
]
