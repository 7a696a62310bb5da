"""Image and text backbones with size presets, as Keras layers.

Output convention, shared by every encoder: calling it returns a dict

- `"tokens"`: `(batch, num_tokens, hidden_dim)`, for cross-attention and
  fusion. Text encoders treat token id 0 as padding and attach the Keras
  mask `token_ids != 0` to `"tokens"`; task models that need the mask
  explicitly compute the same `token_ids != 0`. Image tokens have no
  padding.
- `"pooled"`: `(batch, hidden_dim)`, one vector per example, for dual
  encoders and classifiers (mean, max, class token or first token, chosen
  with each encoder's `pooling` argument).

and `EfficientNetLite0Encoder(include_top=True)` adds `"logits"`.

`read_gguf(path)` reads a Llama GGUF file (llama.cpp's format): its
backbone config, tokenizer and dequantized float32 weights, in numpy.

Each encoder has a `presets` dict (named architectures, or the zoo
entries that hold a preset's weights) and a `from_preset(name,
load_weights=None, **overrides)` classmethod that loads those weights;
an unknown name is a `ValueError` listing the available presets.

Example:

>>> encoder = mmkeras.encoders.ViTImageEncoder.from_preset("tiny")
>>> outputs = encoder(np.zeros((2, 32, 32, 3), "float32"))
>>> outputs["tokens"].shape, outputs["pooled"].shape
(TensorShape([2, 17, 64]), TensorShape([2, 64]))
"""

from mmkeras.encoders.bert_text_encoder import BertTextEncoder
from mmkeras.encoders.conv_image_encoder import ConvImageEncoder
from mmkeras.encoders.efficientnet_lite0_encoder import EfficientNetLite0Encoder
from mmkeras.encoders.gguf import GGUFCheckpoint
from mmkeras.encoders.gguf import GGUFError
from mmkeras.encoders.gguf import read_gguf
from mmkeras.encoders.transformer_text_encoder import TransformerTextEncoder
from mmkeras.encoders.vit_image_encoder import ViTImageEncoder

__all__ = [
    "BertTextEncoder",
    "ConvImageEncoder",
    "EfficientNetLite0Encoder",
    "GGUFCheckpoint",
    "GGUFError",
    "TransformerTextEncoder",
    "ViTImageEncoder",
    "read_gguf",
]
